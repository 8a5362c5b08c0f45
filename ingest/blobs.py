"""Content-addressed storage of uploaded files, so jobs can run (and re-run) from the original bytes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from kernel.errors import NotFoundError
from kernel.models import Document

_PARSED = ".parsed.json"


def sync_dir(directory: Path) -> None:
    """fsync a directory, so a rename or unlink inside it survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Files under ``root/<sha256[:2]>/<sha256>``, written atomically, never modified.

    Parsed uploads waiting for their job live apart, under ``<root>-parsed/``, so they are never
    mistaken for stored originals.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._parsed = root.with_name(root.name + "-parsed")
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise NotFoundError(f"no stored file {sha256!r}")
        return self._root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes (once per content); returns their sha256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
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

    def delete(self, sha256: str) -> bool:
        """Remove a stored file (durably); False when it was not there."""
        path = self._path(sha256)
        (self._parsed / (path.name + _PARSED)).unlink(missing_ok=True)  # a parse its job never took
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        sync_dir(path.parent)
        return True

    def has(self, sha256: str) -> bool:
        """Whether the file is stored."""
        return self._path(sha256).is_file()

    def put_parsed(self, sha256: str, document: Document) -> None:
        """Keep the upload's parsed Document next to its bytes, so the worker does not parse it again."""
        path = self._parsed / (self._path(sha256).name + _PARSED)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(document.model_dump_json())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def take_parsed(self, sha256: str) -> Document | None:
        """The Document kept by ``put_parsed``, removed as it is read (a re-ingest parses afresh); None if none."""
        path = self._parsed / (self._path(sha256).name + _PARSED)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        path.unlink(missing_ok=True)
        try:
            return Document.model_validate_json(text)
        except ValueError:  # a damaged cache only costs a parse
            return None

    def get(self, sha256: str) -> bytes:
        """The stored bytes; NotFoundError when absent."""
        path = self._path(sha256)
        if not path.is_file():
            raise NotFoundError(f"stored file {sha256} is missing; upload the document again")
        return path.read_bytes()
