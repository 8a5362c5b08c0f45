"""Find files to ingest on disk and turn them into ingest items."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.parse import SUPPORTED_EXTENSIONS, parse_document
from ingest.pipeline import IngestItem
from kernel.errors import InputError

#: Files larger than this are refused before reading (protects memory).
MAX_FILE_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class FoundFile:
    """A file to ingest and the key that identifies its document."""

    path: Path
    source_key: str


def collect_files(paths: Sequence[Path]) -> tuple[list[FoundFile], list[tuple[Path, str]]]:
    """Expand files and folders; returns (files, problems) where problems are (path, reason)."""
    found: dict[Path, FoundFile] = {}
    problems: list[tuple[Path, str]] = []
    for raw in paths:
        path = raw.expanduser()
        if path.is_dir():
            files = list(_walk(path.resolve()))
        elif path.is_file():
            files = [path.resolve()]
        else:
            problems.append((path, "no such file or folder"))
            continue
        # The absolute path is the document's identity: the same file named twice, or once by
        # itself and once inside its folder, is one document.
        for file in files:
            found.setdefault(file, FoundFile(file, file.as_posix()))
    return list(found.values()), problems


def _walk(root: Path) -> Iterator[Path]:
    for file in sorted(root.rglob("*")):
        hidden = any(part.startswith(".") for part in file.relative_to(root).parts)
        if file.is_file() and not hidden and file.suffix.lower() in SUPPORTED_EXTENSIONS:
            yield file


def load_item(found: FoundFile, *, tags: Iterable[str] = ()) -> IngestItem:
    """Read and parse one file; raises an InputError subclass on unusable input."""
    size = found.path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{found.path.name} is {size} bytes; the limit is {MAX_FILE_BYTES} bytes")
    document = parse_document(found.path.read_bytes(), found.path.name)
    return IngestItem(
        document=document, source_key=found.source_key, tags=list(tags), metadata={"path": str(found.path)}
    )
