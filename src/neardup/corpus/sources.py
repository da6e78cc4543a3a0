"""Input sources: what a CORPUS argument names, and how to open it.

A source is a folder of .txt files (searched recursively), a JSONL, CSV or Parquet file (each
possibly gzip- or zstd-compressed), or `-` for JSONL on standard input. Standard input is spooled
to a temporary file as it is read, so the writers can make a second pass over it.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import zstandard

Format = Literal["txt", "jsonl", "csv", "parquet", "memory"]

_FORMATS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "txt",
}
_COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}


class InputError(Exception):
    """A problem with the input that the user must fix; the message names the file and line."""


@dataclass
class Source:
    """One input: a file, a folder of text files, or standard input (spooled to `path`)."""

    name: str  # as the user gave it
    path: Path
    format: Format
    compression: str | None = None
    is_stdin: bool = False
    files: list[Path] | None = None  # for folders: the .txt files, sorted
    records: list[Any] | None = None  # for in-memory documents (strings or dicts)

    @property
    def delimiter(self) -> str:
        return "\t" if self.path.name.lower().removesuffix(self._suffix()).endswith(".tsv") else ","

    def _suffix(self) -> str:
        low = self.path.name.lower()
        for ext in _COMPRESSIONS:
            if low.endswith(ext):
                return ext
        return ""

    def open_binary(self, file: Path | None = None) -> BinaryIO:
        """Open (and decompress) the source, or one file of a folder source."""
        path = file or self.path
        compression = _compression_of(path)
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        if compression == "gzip":
            return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
        if compression == "zstd":
            return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)  # type: ignore[return-value]
        return raw

    def size_bytes(self) -> int:
        """On-disk size, for progress reporting."""
        if self.files is not None:
            return sum(f.stat().st_size for f in self.files)
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


def _compression_of(path: Path) -> str | None:
    low = path.name.lower()
    for ext, kind in _COMPRESSIONS.items():
        if low.endswith(ext):
            return kind
    return None


def detect_format(path: Path) -> Format:
    low = path.name.lower()
    for ext in _COMPRESSIONS:
        if low.endswith(ext):
            low = low[: -len(ext)]
            break
    for ext, fmt in _FORMATS.items():
        if low.endswith(ext):
            return fmt
    raise InputError(
        f"{path}: unknown input format; expected a folder of .txt files or a .jsonl, .csv, .tsv "
        "or .parquet file (optionally .gz or .zst compressed)"
    )


def open_source(name: str | os.PathLike[str], spool_dir: Path | None = None) -> Source:
    """Resolve one CORPUS argument into a Source; raises InputError if it cannot be read."""
    if str(name) == "-":
        return _spool_stdin(spool_dir)
    path = Path(name)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.name.lower().endswith((".txt", ".txt.gz", ".txt.zst"))
        )
        return Source(name=str(name), path=path, format="txt", files=files)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: not readable (permission denied)")
    return Source(
        name=str(name), path=path, format=detect_format(path), compression=_compression_of(path)
    )


def _spool_stdin(spool_dir: Path | None) -> Source:
    fd, tmp = tempfile.mkstemp(prefix="neardup-stdin-", suffix=".jsonl", dir=spool_dir)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(), out)
    return Source(name="-", path=Path(tmp), format="jsonl", is_stdin=True)


def memory_source(records: list[Any], name: str = "<memory>") -> Source:
    """A source over documents given in memory: strings (texts) or dicts (records)."""
    return Source(name=name, path=Path(name), format="memory", records=records)
