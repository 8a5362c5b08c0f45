"""Content-addressed storage of uploaded files, so jobs can run (and re-run) from the original bytes.

Each tenant has its own store: identical bytes uploaded by two tenants are two files, so storing
(or not storing) a file tells a tenant nothing about what another tenant uploaded.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from kernel.errors import NotFoundError
from kernel.tenancy import validate_tenant


class BlobStore:
    """Files under ``root/t-<tenant>/<sha256[:2]>/<sha256>`` (the open service: ``root/<sha256[:2]>/<sha256>``),
    written atomically, never modified."""

    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str, tenant: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise NotFoundError(f"no stored file {sha256!r}")
        # Tenant names are validated (lowercase letters, digits, '-'); "t-" keeps them apart from the sha prefixes.
        root = self._root / f"t-{validate_tenant(tenant)}" if tenant else self._root
        return root / sha256[:2] / sha256

    def put(self, data: bytes, *, tenant: str = "") -> str:
        """Store bytes (once per content and tenant); returns their sha256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest, tenant)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str, *, tenant: str = "") -> bytes:
        """The tenant's stored bytes; NotFoundError when absent."""
        path = self._path(sha256, tenant)
        if tenant and not path.is_file():
            path = self._path(sha256, "")  # stored before blobs were kept per tenant
        if not path.is_file():
            raise NotFoundError(f"stored file {sha256} is missing; upload the document again")
        return path.read_bytes()
