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
from kernel.models import Document
from kernel.tenancy import validate_tenant

_PARSED = ".parsed.json"


def sync_dir(directory: Path) -> None:
    """fsync a directory, so a rename or unlink inside it survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Files under ``root/t-<tenant>/<sha256[:2]>/<sha256>`` (the open service: ``root/<sha256[:2]>/<sha256>``),
    written atomically, never modified.

    Parsed uploads waiting for their job live apart, under ``<root>-parsed/`` in the same layout, so
    they are never mistaken for stored originals.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._parsed = root.with_name(root.name + "-parsed")
        root.mkdir(parents=True, exist_ok=True)

    def _relative(self, sha256: str, tenant: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise NotFoundError(f"no stored file {sha256!r}")
        # Tenant names are validated (lowercase letters, digits, '-'); "t-" keeps them apart from the sha prefixes.
        base = Path(f"t-{validate_tenant(tenant)}") if tenant else Path()
        return base / sha256[:2] / sha256

    def _path(self, sha256: str, tenant: str) -> Path:
        return self._root / self._relative(sha256, tenant)

    def _parsed_path(self, sha256: str, tenant: str) -> Path:
        relative = self._relative(sha256, tenant)
        return self._parsed / relative.with_name(relative.name + _PARSED)

    def put(self, data: bytes, *, tenant: str = "") -> str:
        """Store bytes (once per content and tenant); returns their sha256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest, tenant)
        if path.exists():
            return digest
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            sync_dir(path.parent.parent)
            if tenant:
                sync_dir(self._root)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
            # The rename lives in the directory: without this a power cut can lose a file already reported stored.
            sync_dir(path.parent)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def delete(self, sha256: str, *, tenant: str = "") -> bool:
        """Remove a stored file of the tenant (durably), and a parse its job never took; False when absent."""
        path = self._path(sha256, tenant)
        self._parsed_path(sha256, tenant).unlink(missing_ok=True)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        sync_dir(path.parent)
        return True

    def has(self, sha256: str, *, tenant: str = "") -> bool:
        """Whether the tenant's file is stored (in the tenant's own store, not the shared one of old)."""
        return self._path(sha256, tenant).is_file()

    def put_parsed(self, sha256: str, document: Document, *, tenant: str = "") -> None:
        """Keep the upload's parsed Document next to its bytes, so the worker does not parse it again."""
        path = self._parsed_path(sha256, tenant)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(document.model_dump_json())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def take_parsed(self, sha256: str, *, tenant: str = "") -> Document | None:
        """The Document kept by ``put_parsed``, removed as it is read (a re-ingest parses afresh); None if none."""
        path = self._parsed_path(sha256, tenant)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        path.unlink(missing_ok=True)
        try:
            return Document.model_validate_json(text)
        except ValueError:  # a damaged cache only costs a parse
            return None

    def get(self, sha256: str, *, tenant: str = "") -> bytes:
        """The tenant's stored bytes; NotFoundError when absent."""
        path = self._path(sha256, tenant)
        if tenant and not path.is_file():
            path = self._path(sha256, "")  # stored before blobs were kept per tenant
        if not path.is_file():
            raise NotFoundError(f"stored file {sha256} is missing; upload the document again")
        return path.read_bytes()
