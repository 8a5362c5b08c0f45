"""Stored originals: content-addressed, and kept per tenant (no cross-tenant dedupe signal)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.blobs import BlobStore
from kernel.errors import NotFoundError


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_each_tenant_stores_its_own_copy(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"the same bytes", tenant="alpha")
    assert blobs.put(b"the same bytes", tenant="alpha") == sha  # once per content within a tenant
    assert len(_files(tmp_path)) == 1
    with pytest.raises(NotFoundError):
        blobs.get(sha, tenant="beta")  # alpha's file is not beta's
    assert blobs.put(b"the same bytes", tenant="beta") == sha
    assert len(_files(tmp_path)) == 2  # beta's upload was stored, not deduplicated against alpha's
    assert blobs.get(sha, tenant="alpha") == blobs.get(sha, tenant="beta") == b"the same bytes"


def test_files_stored_before_tenants_had_their_own_are_still_read(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"an older upload")  # the open service's (and the old, shared) layout
    assert _files(tmp_path) == [Path(sha[:2]) / sha]
    assert blobs.get(sha, tenant="alpha") == b"an older upload"
