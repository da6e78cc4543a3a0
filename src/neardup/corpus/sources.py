"""Input sources: what a CORPUS argument names, and how to open it.

A source is a folder of .txt files (searched recursively), a JSONL, CSV or Parquet file (each
possibly gzip- or zstd-compressed), or `-` for JSONL on standard input. Standard input is spooled
to a temporary file as it is read, so the writers can make a second pass over it.
"""

from __future__ import annotations

import atexit
import gzip
import io
import os
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pyarrow as pa
import zstandard

Format = Literal["txt", "jsonl", "csv", "parquet", "memory", "html", "warc"]

_FORMATS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".warc": "warc",
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
    first: int = 0  # for in-memory documents: the position of the first among all documents
    unreadable: str | None = None  # why the file cannot be read: reported like a bad record

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
        if compression == "gzip":
            return io.BufferedReader(_GzipReader(path), 1 << 16)  # type: ignore[return-value]
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        if compression == "zstd":
            return io.BufferedReader(_ZstdReader(raw))  # type: ignore[return-value]
        return raw

    def parquet_input(self) -> Path | pa.BufferReader:
        """What pyarrow reads a Parquet source from: its path, or for a compressed file (Parquet
        needs random access) the decompressed bytes in memory."""
        if self.compression is None:
            return self.path
        with self.open_binary() as f:
            return pa.BufferReader(f.read())

    def size_bytes(self) -> int:
        """On-disk size, for progress reporting."""
        if self.files is not None:
            return sum(f.stat().st_size for f in self.files)
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


class _GzipReader(io.RawIOBase):
    """A gzip file whose corrupt data raises OSError (zlib raises its own error type, which the
    readers would not expect), so it is reported like any other unreadable input."""

    def __init__(self, path: Path):
        self._file = gzip.open(path, "rb")  # noqa: SIM115 - closed in close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            # read1: hand over what is decompressed so far before a truncation error comes up
            data = self._file.read1(len(buffer))
        except zlib.error as e:
            raise OSError(f"corrupt gzip data: {e}") from e
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


class _ZstdReader(io.RawIOBase):
    """Decompresses every frame of a zstd stream and, like gzip, raises EOFError when the last
    frame is cut off, so a truncated file is reported rather than read short without a word.
    (zstandard's own stream_reader returns a short read without an error.)"""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._in_frame = False  # bytes of an unfinished frame were fed
        self._out = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._pos >= len(self._out):
            chunk = self._raw.read(1 << 17)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd stream ended in the middle of a frame (truncated file?)")
                return 0
            self._out, self._pos = self._decompress(chunk), 0
        n = min(len(buffer), len(self._out) - self._pos)
        buffer[:n] = self._out[self._pos : self._pos + n]
        self._pos += n
        return n

    def _decompress(self, data: bytes) -> bytes:
        parts = []
        while data:
            try:
                parts.append(self._frame.decompress(data))
            except zstandard.ZstdError as e:
                raise OSError(f"corrupt zstd data: {e}") from e
            self._in_frame = not self._frame.eof
            if not self._frame.eof:
                break
            data = self._frame.unused_data  # the next frame starts here
            self._frame = zstandard.ZstdDecompressor().decompressobj()
            self._in_frame = bool(data)
        return b"".join(parts)

    def close(self) -> None:
        self._raw.close()
        super().close()


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
        f"{path}: unknown input format; expected a folder of .txt or .html files, or a .jsonl, "
        ".csv, .tsv, .parquet, .html or .warc file (optionally .gz or .zst compressed)"
    )


def open_source(name: str | os.PathLike[str], spool_dir: Path | None = None) -> Source:
    """Resolve one CORPUS argument into a Source; raises InputError if it does not exist or its
    format is unknown (an unreadable file is reported when it is read, as --on-error says)."""
    if str(name) == "-":
        return _spool_stdin(spool_dir)
    path = Path(name)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.name.lower().endswith((".txt", ".txt.gz", ".txt.zst"))
        )
        from neardup.corpus.web import is_html_name

        pages = [p for p in path.rglob("*") if p.is_file() and is_html_name(p.name)]
        if pages:  # a folder of scraped pages (its .txt files are read as plain text too)
            return Source(name=str(name), path=path, format="html", files=sorted(files + pages))
        return Source(name=str(name), path=path, format="txt", files=files)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    # an unreadable file is skipped (or stops the run) by --on-error, like a bad record
    unreadable = None if os.access(path, os.R_OK) else "unreadable file: permission denied"
    fmt = detect_format(path)
    return Source(
        name=str(name),
        path=path,
        format=fmt,
        compression=_compression_of(path),
        unreadable=unreadable,
        files=[path] if fmt in ("html", "txt") else None,  # a single page or text file
    )


def _spool_stdin(spool_dir: Path | None) -> Source:
    fd, tmp = tempfile.mkstemp(prefix="neardup-stdin-", suffix=".jsonl", dir=spool_dir)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(), out)
    atexit.register(Path(tmp).unlink, missing_ok=True)  # the spool outlives the run, no longer
    return Source(name="-", path=Path(tmp), format="jsonl", is_stdin=True)


def memory_source(records: list[Any], name: str = "<memory>", first: int = 0) -> Source:
    """A source over documents given in memory: strings (texts) or dicts (records); `first` is
    the position of the first of them among all the documents (strings get it as their id)."""
    return Source(name=name, path=Path(name), format="memory", records=records, first=first)
