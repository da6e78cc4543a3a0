"""Readers: sources -> batches of records (id, text, a little metadata, where it came from).

Readers never drop a record silently. A record that cannot be used (broken JSON, a missing or
non-string text field, an empty or over-long text, a duplicate id) becomes a `Problem` naming the
file and line; with on_error="fail" the first one stops the run with an `InputError`, with "skip"
it is counted and listed in skipped.jsonl. Text that is not valid UTF-8 is decoded with
replacement characters and counted as a warning (the document is kept).

Records are identified for the second pass (writing the deduplicated corpus) by (source index,
ordinal): the ordinal counts the records of a source in reading order.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import mmap
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from neardup.config import Settings
from neardup.corpus.sources import InputError, Source

META_FIELDS = ("title", "source", "url", "published", "site", "author")
_NON_BLANK = re.compile(rb"\S")

csv.field_size_limit(sys.maxsize)


@dataclass
class Problem:
    """A record that was skipped (or a warning about one that was kept)."""

    source: str
    line: int | None
    reason: str
    id: str | None = None
    skipped: bool = True

    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    def message(self) -> str:
        ident = f" (id {self.id!r})" if self.id else ""
        return f"{self.where()}{ident}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "id": self.id, "reason": self.reason}


@dataclass
class RecordBatch:
    """Records read from one source, in order."""

    source_index: int
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    meta: list[dict[str, str]] = field(default_factory=list)
    ordinals: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def append(self, id_: str, text: str, meta: dict[str, str], ordinal: int, line: int) -> None:
        self.ids.append(id_)
        self.texts.append(text)
        self.meta.append(meta)
        self.ordinals.append(ordinal)
        self.lines.append(line)


@dataclass
class JsonlBlock:
    """Whole lines of a JSONL source, read but not parsed: the find pipeline parses them in its
    worker processes (`parse_jsonl_block`), so the reading process only moves bytes."""

    source_index: int
    name: str  # the source's name, for problems
    label: str  # default ids are f"{label}:{line}"
    data: bytes
    first_line: int  # line number of data's first line
    after: list[Problem] = field(default_factory=list)  # problems of the source after these lines
    offset: int = -1  # byte offset of data in the source file (-1: compressed or standard input)
    # a block of a plain file travels without its bytes (data is empty): whoever parses it reads
    # file[offset : offset + length] itself, so the bytes never go through a pipe
    path: str | None = None
    length: int = 0

    def __len__(self) -> int:
        return self.length if self.path is not None else len(self.data)

    def read(self) -> bytes:
        """The block's bytes (read from its file when they were left there)."""
        if self.path is None:
            return self.data
        fd = os.open(self.path, os.O_RDONLY)
        try:
            data = os.pread(fd, self.length, self.offset)
            while len(data) < self.length:  # pread may return less than asked on some files
                more = os.pread(fd, self.length - len(data), self.offset + len(data))
                if not more:
                    raise OSError(
                        f"{self.name}: the file changed while it was read (shorter than the "
                        f"{self.offset + self.length:,} bytes first read)"
                    )
                data += more
        finally:
            os.close(fd)
        return data


@dataclass
class ParsedBlock:
    """A `JsonlBlock` parsed: its records and problems; `records` counts its non-blank lines (the
    ordinals of `batch` are relative to the block)."""

    batch: RecordBatch
    skipped: list[Problem]
    warnings: list[Problem]
    records: int
    byte_starts: list[int] = field(default_factory=list)  # each record's offset (see JsonlBlock)
    byte_lengths: list[int] = field(default_factory=list)  # and its line's length, newline included
    n_chars: Any = None  # set by the worker that sketched it: characters of each text
    blank: list[bool] = field(default_factory=list)  # each text is blank (when some had no words)
    # set by the find pipeline's worker, which then sends these instead of the metadata dicts
    meta_table: Any = None  # `MetaColumns.table` of the records' metadata
    published: Any = None  # each record's `published` in seconds since the epoch (NaN: none)
    sites: Any = None  # each record's `neardup.boilerplate.site_of` (Arrow strings), when used

    def report(self, problems: ProblemLog, after: list[Problem]) -> None:
        """Add the block's problems to `problems` in reading order, then `after` (the source's
        problems past the block: `JsonlBlock.after`)."""
        for problem in self.skipped:
            problems.skip(problem)
        for problem in self.warnings:
            problems.warn(problem)
        for problem in after:
            (problems.skip if problem.skipped else problems.warn)(problem)


def parse_jsonl_block(block: JsonlBlock, settings: Settings) -> ParsedBlock:
    """Parse a `JsonlBlock` as `Reader` parses a JSONL file (same records, ids and problems)."""
    parser = Reader([], settings, ProblemLog("skip"))
    batch = RecordBatch(block.source_index)
    lines = block.read().split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    ordinal = -1
    position = block.offset
    starts: list[int] = []
    lengths: list[int] = []
    for k, raw in enumerate(lines):
        start = position
        position += len(raw) + 1
        if not raw.strip():
            continue
        ordinal += 1
        lineno = block.first_line + k
        obj = parser._parse_json_line(raw, block.name, lineno)
        if obj is None:
            continue
        rec = parser._record(obj, block.name, lineno, f"{block.label}:{lineno}")
        if rec is not None:
            batch.append(rec[0], rec[1], rec[2], ordinal, lineno)
            starts.append(start if block.offset >= 0 else -1)
            lengths.append(len(raw) + 1)
    problems = parser.problems
    return ParsedBlock(batch, problems.skipped, problems.warnings, ordinal + 1, starts, lengths)


def parse_jsonl_record(raw: bytes, settings: Settings, name: str = "", line: int = 0) -> str | None:
    """The text of one JSONL line as `Reader` reads it, or None if it has none (for rereading
    a record at its byte offset)."""
    parser = Reader([], settings, ProblemLog("skip"))
    obj = parser._parse_json_line(raw, name, line)
    if obj is None:
        return None
    rec = parser._record(obj, name, line, f"{name}:{line}")
    return None if rec is None else rec[1]


class ProblemLog:
    """Collects problems; raises at the first one when on_error is "fail"."""

    def __init__(self, on_error: str = "skip", echo: Callable[[Problem], None] | None = None):
        self.on_error = on_error
        self.skipped: list[Problem] = []
        self.warnings: list[Problem] = []
        self.echo = echo
        self.counts: dict[str, int] = {}  # input items that are not documents (WARC requests...)

    def skip(self, problem: Problem) -> None:
        if self.on_error == "fail":
            raise InputError(problem.message())
        self.skipped.append(problem)
        if self.echo:
            self.echo(problem)

    def warn(self, problem: Problem) -> None:
        problem.skipped = False
        self.warnings.append(problem)
        if self.echo:
            self.echo(problem)

    def skipped_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.skipped:
            key = p.reason.split(":")[0].split(" (")[0]
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))


def _text_problem(text: Any, settings: Settings) -> str | None:
    if text is None:
        return f"missing text field {settings.text_field!r}"
    if not isinstance(text, str):
        return f"text field {settings.text_field!r} is not a string (got {type(text).__name__})"
    if settings.max_chars and len(text) > settings.max_chars:
        return f"document too long: {len(text):,} characters, more than max_chars={settings.max_chars:,}"
    return None


def _meta_of(obj: dict[str, Any]) -> dict[str, str]:
    meta = {}
    for key in META_FIELDS:
        value = obj.get(key)
        if value is not None and value != "":
            meta[key] = value if isinstance(value, str) else str(value)
    return meta


class _NotMappable(Exception):
    pass


_BLANK_BYTES = np.frombuffer(b" \t\r\n\x0b\x0c", np.uint8)


def _drop_pages(mapped: mmap.mmap, start: int, stop: int) -> None:
    """Unmap the pages of mapped[start:stop] that were read (they stay in the page cache): the
    mapping would otherwise add the whole file to this process's resident size."""
    page = mmap.PAGESIZE
    lo, hi = start // page * page, stop // page * page
    if hi > lo and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


class Reader:
    """Reads sources in order and yields RecordBatches of at most `batch_size` records."""

    def __init__(
        self,
        sources: list[Source],
        settings: Settings,
        problems: ProblemLog,
        *,
        jsonl_blocks: bool = False,
    ):
        self.sources = sources
        self.settings = settings
        self.problems = problems
        self.bytes_read = 0  # compressed or on-disk bytes, for progress
        # JSONL sources as unparsed JsonlBlocks (for a pipeline that parses them in its workers)
        self.jsonl_blocks = jsonl_blocks

    def __iter__(self) -> Iterator[RecordBatch]:
        for index, source in enumerate(self.sources):
            read = {
                "jsonl": self._read_jsonl_blocks if self.jsonl_blocks else self._read_jsonl,
                "csv": self._read_csv,
                "parquet": self._read_parquet,
                "txt": self._read_txt,
                "memory": self._read_memory,
                "html": self._read_web,
                "warc": self._read_web,
            }[source.format]
            if source.unreadable:
                self.problems.skip(Problem(source.name, None, source.unreadable))
                continue
            yield from read(index, source)

    # --- JSONL ----------------------------------------------------------------------------------
    def _read_jsonl(self, index: int, source: Source) -> Iterator[RecordBatch]:
        s = self.settings
        batch = RecordBatch(index)
        try:
            stream = source.open_binary()
        except OSError as e:
            self.problems.skip(Problem(source.name, None, f"unreadable file: {e}"))
            return
        with stream:
            ordinal = -1
            lineno = 0
            try:
                for raw in stream:
                    lineno += 1
                    self.bytes_read += len(raw)
                    if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                        raw = raw[len(codecs.BOM_UTF8) :]  # written by some Windows tools
                    if not raw.strip():
                        continue
                    ordinal += 1
                    obj = self._parse_json_line(raw, source.name, lineno)
                    if obj is None:
                        continue
                    rec = self._record(obj, source.name, lineno, f"{_file_label(source)}:{lineno}")
                    if rec is None:
                        continue
                    batch.append(rec[0], rec[1], rec[2], ordinal, lineno)
                    if len(batch) >= s.batch_size:
                        yield batch
                        batch = RecordBatch(index)
            except (OSError, EOFError, ValueError) as e:
                # truncated or corrupt compressed stream: everything before it was read
                self.problems.skip(
                    Problem(source.name, lineno + 1, f"unreadable from here on: {e}")
                )
        if ordinal == -1:
            self.problems.warn(Problem(source.name, None, "no records in file"))
        if batch:
            yield batch

    def _read_jsonl_blocks(self, index: int, source: Source) -> Iterator[JsonlBlock]:
        """The lines of a JSONL source in blocks of about batch_size x 4 KB, cut after a newline."""
        block_bytes = max(1 << 16, self.settings.batch_size * 4096)
        if source.compression is None and not source.is_stdin:
            try:
                yield from self._file_blocks(index, source, block_bytes)
                return
            except _NotMappable:
                pass  # an empty or special file: read as a stream
        try:
            stream = source.open_binary()
        except OSError as e:
            self.problems.skip(Problem(source.name, None, f"unreadable file: {e}"))
            return
        label = _file_label(source)
        lines_before = 0
        seekable = source.compression is None and not source.is_stdin
        position = 0  # byte offset of the next block in the file
        parts: list[bytes] = []  # whole lines not yet in a block
        size = 0
        pending = bytearray()  # the start of a line
        any_record = False
        after: list[Problem] = []

        def block() -> JsonlBlock:
            nonlocal parts, size, lines_before, any_record, position
            data = b"".join(parts)
            parts, size = [], 0
            any_record = any_record or _NON_BLANK.search(data) is not None
            out = JsonlBlock(
                index,
                source.name,
                label,
                b"" if seekable else data,
                lines_before + 1,
                offset=position if seekable else -1,
                path=str(source.path) if seekable else None,
                length=len(data),
            )
            lines_before += data.count(b"\n")
            position += len(data)
            return out

        with stream:
            try:
                first = True
                # read1: what one read gives, so a corrupt stream loses no line decoded before it
                read = getattr(stream, "read1", stream.read)
                while chunk := read(1 << 16):
                    self.bytes_read += len(chunk)
                    if first and chunk.startswith(codecs.BOM_UTF8):
                        chunk = chunk[len(codecs.BOM_UTF8) :]  # written by some Windows tools
                        position = len(codecs.BOM_UTF8)
                    first = False
                    cut = chunk.rfind(b"\n")
                    if cut < 0:  # inside a long line
                        pending += chunk
                        continue
                    parts.append(bytes(pending) + chunk[: cut + 1] if pending else chunk[: cut + 1])
                    size += len(parts[-1])
                    pending = bytearray(chunk[cut + 1 :])
                    if size >= block_bytes:
                        yield block()
            except (OSError, EOFError, ValueError) as e:
                # truncated or corrupt compressed stream: every whole line before it was read
                pending = bytearray()
                if parts:
                    yield block()
                after.append(
                    Problem(source.name, lines_before + 1, f"unreadable from here on: {e}")
                )
        if parts:
            yield block()
        if pending:
            any_record = any_record or _NON_BLANK.search(pending) is not None
        if not any_record:
            after.append(Problem(source.name, None, "no records in file", skipped=False))
        if pending or after:
            yield JsonlBlock(
                index,
                source.name,
                label,
                bytes(pending),
                lines_before + 1,
                after,
                offset=position if seekable else -1,
            )

    def _file_blocks(self, index: int, source: Source, block_bytes: int) -> Iterator[JsonlBlock]:
        """`_read_jsonl_blocks` of a plain file: block bounds found in a read-only mapping (the
        cut by rfind, the lines by a vectorized count), the bytes left for the parser to read."""
        try:
            with open(source.path, "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError) as e:  # empty file (cannot be mapped), a pipe, a device
            raise _NotMappable from e
        label = _file_label(source)
        with mapped:
            size = len(mapped)
            position = len(codecs.BOM_UTF8) if mapped[:3] == codecs.BOM_UTF8 else 0
            lines_before = 0
            any_record = False
            while position < size:
                end = min(size, position + block_bytes)
                cut = mapped.rfind(b"\n", position, end)
                while cut < 0 and end < size:  # a line longer than a block
                    end = min(size, end + block_bytes)
                    cut = mapped.rfind(b"\n", position, end)
                stop = cut + 1 if cut >= 0 and end < size else size
                view = np.frombuffer(mapped, np.uint8, stop - position, position)
                if not any_record:
                    any_record = bool(np.any(~np.isin(view, _BLANK_BYTES)))
                block = JsonlBlock(
                    index,
                    source.name,
                    label,
                    b"",
                    lines_before + 1,
                    offset=position,
                    path=str(source.path),
                    length=stop - position,
                )
                lines_before += int(np.count_nonzero(view == 10))
                del view  # (a view would keep the mapping from closing)
                _drop_pages(mapped, position, stop)
                self.bytes_read += stop - position
                yield block
                position = stop
        if not any_record:
            yield JsonlBlock(
                index,
                source.name,
                label,
                b"",
                lines_before + 1,
                [Problem(source.name, None, "no records in file", skipped=False)],
                offset=position,
            )

    def _parse_json_line(self, raw: bytes, name: str, lineno: int) -> dict[str, Any] | None:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                try:
                    obj = orjson.loads(raw.decode("utf-8", "replace"))
                except orjson.JSONDecodeError as e2:
                    self.problems.skip(Problem(name, lineno, f"broken JSON: {e2}"))
                    return None
                self.problems.warn(Problem(name, lineno, "invalid UTF-8 replaced"))
            else:
                # a lone surrogate escape ("\ud83d" of an emoji cut in half) is a bad encoding,
                # not broken JSON: the record is kept with U+FFFD, as for invalid UTF-8
                try:
                    obj = json.loads(raw) if "surrogate" in str(e) else None
                except ValueError:
                    obj = None
                if obj is None:
                    self.problems.skip(Problem(name, lineno, f"broken JSON: {e}"))
                    return None
                obj = _replace_lone_surrogates(obj)
                self.problems.warn(Problem(name, lineno, "invalid surrogate escape replaced"))
        if not isinstance(obj, dict):
            self.problems.skip(
                Problem(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
            )
            return None
        return obj

    def _record(
        self, obj: dict[str, Any], name: str, lineno: int, default_id: str
    ) -> tuple[str, str, dict[str, str]] | None:
        s = self.settings
        raw_id = obj.get(s.id_field)
        if raw_id is None or raw_id == "":
            doc_id = default_id
        elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
            doc_id = str(raw_id)
        else:
            self.problems.skip(
                Problem(name, lineno, f"id field {s.id_field!r} is not a string or integer")
            )
            return None
        text = obj.get(s.text_field)
        if isinstance(text, bytes):  # Parquet strings written as plain binary
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                text = text.decode("utf-8", "replace")
                self.problems.warn(Problem(name, lineno, "invalid UTF-8 replaced", id=doc_id))
        problem = _text_problem(text, s)
        if problem:
            self.problems.skip(Problem(name, lineno, problem, id=doc_id))
            return None
        meta = _meta_of(obj)
        if s.published_field != "published" and obj.get(s.published_field) is not None:
            meta["published"] = str(obj[s.published_field])
        return doc_id, text, meta  # type: ignore[return-value]

    # --- CSV ------------------------------------------------------------------------------------
    def _read_csv(self, index: int, source: Source) -> Iterator[RecordBatch]:
        s = self.settings
        batch = RecordBatch(index)
        try:
            stream = source.open_binary()
        except OSError as e:
            self.problems.skip(Problem(source.name, None, f"unreadable file: {e}"))
            return
        text_stream = io.TextIOWrapper(
            stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        with text_stream:
            reader = csv.reader(text_stream, delimiter=source.delimiter)
            try:
                header = next(reader)
            except StopIteration:
                # no records, so nothing to skip: a warning, not an error
                self.problems.warn(Problem(source.name, None, "empty CSV file (no header)"))
                return
            except csv.Error as e:
                raise InputError(f"{source.name}:1: unreadable CSV header: {e}") from e
            except (OSError, EOFError, ValueError) as e:  # e.g. not gzip data after all
                self.problems.skip(Problem(source.name, None, f"unreadable file: {e}"))
                return
            header = [_fix_surrogates(h) for h in header]
            if s.text_field not in header:
                raise InputError(
                    f"{source.name}:1: no text column {s.text_field!r} "
                    f"(columns: {', '.join(header)}); set it with --text-field"
                )
            ordinal = -1
            while True:
                start_line = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as e:
                    ordinal += 1
                    self.problems.skip(Problem(source.name, start_line, f"broken CSV row: {e}"))
                    continue
                except (OSError, EOFError, ValueError) as e:
                    self.problems.skip(
                        Problem(source.name, start_line, f"unreadable from here on: {e}")
                    )
                    break
                if not row:
                    continue
                ordinal += 1
                if len(row) != len(header):
                    self.problems.skip(
                        Problem(
                            source.name,
                            start_line,
                            f"expected {len(header)} fields, got {len(row)}",
                        )
                    )
                    continue
                fixed = [_fix_surrogates(v) for v in row]
                if any(f is not v for f, v in zip(fixed, row, strict=True)):
                    self.problems.warn(Problem(source.name, start_line, "invalid UTF-8 replaced"))
                obj = dict(zip(header, fixed, strict=True))
                rec = self._record(
                    obj, source.name, start_line, f"{_file_label(source)}:{start_line}"
                )
                if rec is None:
                    continue
                batch.append(rec[0], rec[1], rec[2], ordinal, start_line)
                if len(batch) >= s.batch_size:
                    yield batch
                    batch = RecordBatch(index)
        self.bytes_read += source.size_bytes()
        if batch:
            yield batch

    # --- Parquet --------------------------------------------------------------------------------
    def _read_parquet(self, index: int, source: Source) -> Iterator[RecordBatch]:
        s = self.settings
        try:
            pf = pq.ParquetFile(source.parquet_input())
        except (pa.ArrowException, OSError) as e:
            self.problems.skip(Problem(source.name, None, f"not a readable Parquet file: {e}"))
            return
        names = pf.schema_arrow.names
        if s.text_field not in names:
            raise InputError(
                f"{source.name}: no text column {s.text_field!r} (columns: {', '.join(names)}); "
                "set it with --text-field"
            )
        wanted = [
            c for c in (s.id_field, s.text_field, s.published_field, *META_FIELDS) if c in names
        ]
        wanted = list(dict.fromkeys(wanted))
        ordinal = -1
        batches = pf.iter_batches(batch_size=s.batch_size, columns=wanted)
        while True:
            try:
                rb = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError) as e:  # a corrupt row group: the rest is lost
                self.problems.skip(
                    Problem(source.name, ordinal + 2, f"unreadable from here on: {e}")
                )
                break
            batch = RecordBatch(index)
            columns = {name: rb.column(name).to_pylist() for name in wanted}
            for i in range(rb.num_rows):
                ordinal += 1
                obj = {name: col[i] for name, col in columns.items()}
                rec = self._record(
                    obj, source.name, ordinal + 1, f"{_file_label(source)}:{ordinal + 1}"
                )
                if rec is None:
                    continue
                batch.append(rec[0], rec[1], rec[2], ordinal, ordinal + 1)
            if batch:
                yield batch
        self.bytes_read += source.size_bytes()

    # --- folders of text files ------------------------------------------------------------------
    def _read_txt(self, index: int, source: Source) -> Iterator[RecordBatch]:
        s = self.settings
        batch = RecordBatch(index)
        assert source.files is not None
        if not source.files:
            others = sum(1 for p in source.path.rglob("*") if p.is_file())
            hint = f" ({others} other file(s): give JSONL, CSV or Parquet files by name)"
            self.problems.warn(
                Problem(source.name, None, "no .txt files in folder" + (hint if others else ""))
            )
        root = source.path if source.path.is_dir() else source.path.parent  # one .txt file
        for ordinal, path in enumerate(source.files):
            rel = path.relative_to(root).as_posix()
            where = str(path)
            try:
                with source.open_binary(path) as f:
                    data = f.read()
            except (OSError, EOFError, ValueError) as e:
                self.problems.skip(Problem(where, None, f"unreadable file: {e}", id=rel))
                continue
            self.bytes_read += path.stat().st_size
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("utf-8", "replace")
                self.problems.warn(Problem(where, None, "invalid UTF-8 replaced", id=rel))
            problem = _text_problem(text, s)
            if problem:
                self.problems.skip(Problem(where, None, problem, id=rel))
                continue
            batch.append(rel, text, {}, ordinal, 0)
            if len(batch) >= s.batch_size:
                yield batch
                batch = RecordBatch(index)
        if batch:
            yield batch

    # --- HTML pages and WARC files (neardup.corpus.web) -----------------------------------------
    def _read_web(self, index: int, source: Source) -> Iterator[RecordBatch]:
        from neardup.corpus.web import read_source

        return read_source(self, index, source)

    # --- documents given in memory --------------------------------------------------------------
    def _read_memory(self, index: int, source: Source) -> Iterator[RecordBatch]:
        s = self.settings
        batch = RecordBatch(index)
        for ordinal, item in enumerate(source.records or []):
            number = source.first + ordinal + 1  # among all the documents given, from 1
            if isinstance(item, str):
                obj: Any = {s.text_field: item}
            elif isinstance(item, dict):
                obj = item
            else:
                self.problems.skip(
                    Problem(
                        source.name,
                        number,
                        f"expected a string or a dict, got {type(item).__name__}",
                    )
                )
                continue
            rec = self._record(obj, source.name, number, str(number - 1))
            if rec is None:
                continue
            batch.append(rec[0], rec[1], rec[2], ordinal, number)
            if len(batch) >= s.batch_size:
                yield batch
                batch = RecordBatch(index)
        if batch:
            yield batch


def _file_label(source: Source) -> str:
    """The file name in default ids ("<file name>:<line>"); stdin's spool name is temporary."""
    return "stdin" if source.is_stdin else source.path.name


def _replace_lone_surrogates(obj: Any) -> Any:
    """The object with lone UTF-16 surrogates in its top-level strings replaced by U+FFFD."""
    if not isinstance(obj, dict):
        return obj

    def fix(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    return {fix(k): fix(v) for k, v in obj.items()}


def _fix_surrogates(value: str) -> str:
    """Undo surrogateescape: invalid UTF-8 bytes become replacement characters."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_all(sources: list[Source], settings: Settings) -> tuple[list[RecordBatch], ProblemLog]:
    """Convenience for small corpora and tests: every batch in memory."""
    problems = ProblemLog(settings.on_error)
    return list(Reader(sources, settings, problems)), problems


__all__ = [
    "META_FIELDS",
    "InputError",
    "Problem",
    "ProblemLog",
    "Reader",
    "RecordBatch",
    "read_all",
]
