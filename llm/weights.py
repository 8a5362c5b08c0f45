"""Widened weights for llama.cpp: a GGUF's quantized weights converted once to bf16 or f16, cached on disk.

The bundled SmolLM2 ships as Q4_1. llama.cpp has no tiled CPU kernel for Q4_1, so reading a
prompt and decoding a batch of sequences run on its generic dot product. The same weights widened
to bf16 (the dequantized values rounded to bf16's 8-bit mantissa; the Q4_1 path rounds its
activations to 8 bits anyway) run on the AVX512-BF16 matmul. On 2 cores this read prompts
2.6x faster (732 vs 280 tokens/s); the README's "Measured: teacher throughput" says what it does to
synthesis and answers. The conversion is llama.cpp's own ``llama_model_quantize``: local, about a second.

A converted file is named by its source (name, size, modification time) and the llama.cpp build,
written under a temporary name and renamed, so processes that convert at once never read half a file.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kernel.errors import ConfigError

log = logging.getLogger(__name__)

#: llama.cpp file types (``enum llama_ftype``) of the widened formats.
FTYPES = {"bf16": 32, "f16": 1}
#: What ``weights`` "file" means: the GGUF as stored.
AS_STORED = "file"
_BF16_CPU = "AVX512_BF16 = 1"
#: Largest GGUF file "auto" widens. Small models are compute-bound on a CPU, where wider weights pay;
#: billion-parameter ones are memory-bound, where 3-4x more bytes per token would cost (not measured).
AUTO_MAX_BYTES = 300 * 1024 * 1024


def resolve(choice: str, system_info: str, *, file_bytes: int) -> str:
    """The weights a ``weights`` setting runs.

    "auto" is bf16 for a file of at most :data:`AUTO_MAX_BYTES` on a CPU with AVX512-BF16, else as stored.
    """
    if choice == "auto":
        return "bf16" if _BF16_CPU in system_info and file_bytes <= AUTO_MAX_BYTES else AS_STORED
    if choice != AS_STORED and choice not in FTYPES:
        raise ConfigError(f"unknown weights {choice!r} (expected auto, {AS_STORED}, " + ", ".join(FTYPES) + ")")
    return choice


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/synthrag/models``, or ``~/.cache/synthrag/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "synthrag" / "models"


def folder_setting(value: str) -> Path | None:
    """The ``weights_dir`` setting as a folder (``~`` expanded); None (the default folder) when empty."""
    return Path(value).expanduser() if value else None


def converted_name(source: Path, fmt: str, build: str) -> str:
    """File name of ``source`` converted to ``fmt`` by llama.cpp ``build``: a new source or build, a new name."""
    stat = source.stat()
    key = f"{source.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{fmt}\0{build}"
    return f"{source.stem}.{fmt}.{hashlib.sha256(key.encode()).hexdigest()[:12]}.gguf"


def converted(llama_cpp: Any, source: Path, fmt: str, folder: Path) -> Path:
    """``source`` with its weights converted to ``fmt`` (bf16 or f16), converting once per source and build.

    Raises:
        ConfigError: The folder cannot be written or llama.cpp could not convert the file.
    """
    target = folder / converted_name(source, fmt, str(getattr(llama_cpp, "__version__", "")))
    if target.is_file():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
        os.close(handle)
    except OSError as exc:
        raise ConfigError(
            f"cannot write converted weights to {folder}: {exc} (set weights_dir, or weights=file)"
        ) from exc
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.nthread = min(4, os.cpu_count() or 1)
        params.ftype = FTYPES[fmt]
        params.allow_requantize = True
        with _quiet():  # llama.cpp prints a line per tensor
            code = int(llama_cpp.llama_model_quantize(str(source).encode(), partial.encode(), ctypes.byref(params)))
        if code != 0:
            raise ConfigError(f"llama.cpp could not convert {source.name} to {fmt} (code {code}); set weights=file")
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    log.info("converted %s to %s weights: %s", source.name, fmt, target)
    return target


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Send the process's stdout and stderr (file descriptors 1 and 2) to /dev/null meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in (1, 2)]
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            os.dup2(sink, fd)
        yield
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(sink)


def compute_file(llama_cpp: Any, source: Path, choice: str, folder: Path | None) -> tuple[Path, str]:
    """The file to load for ``source`` under the ``weights`` setting ``choice``, and the weights it holds.

    "auto" falls back to the file as stored (with a warning) when the conversion fails; an explicit
    format raises instead.

    Raises:
        ConfigError: An explicit format could not be converted or cached.
    """
    info = bytes(llama_cpp.llama_print_system_info()).decode("utf-8", "replace")
    fmt = resolve(choice, info, file_bytes=source.stat().st_size)
    if fmt == AS_STORED:
        return source, AS_STORED
    try:
        return converted(llama_cpp, source, fmt, folder or default_dir()), fmt
    except ConfigError as exc:
        if choice != "auto":
            raise
        log.warning("running %s as stored: %s", source.name, exc)
        return source, AS_STORED
