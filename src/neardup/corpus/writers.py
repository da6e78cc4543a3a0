"""Writers: the results folder of a find run.

- pairs.parquet and pairs.jsonl: every verified pair with its scores and the rule that matched;
- clusters.jsonl: one line per cluster of two or more documents;
- deduplicated.<format>: the kept documents (singletons and each cluster's original), written by
  a second pass over the inputs so every field stays exactly as it was (JSONL lines are copied
  byte for byte); a folder of text files gives a folder `deduplicated/`;
- skipped.jsonl: every input record that was not used, with file, line and reason;
- run.json: settings, versions, inputs, counts and timings.

Writes go to a temporary name first and are renamed into place, so a results folder never holds
a half-written file.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from neardup.corpus.sources import Source


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it to `path` when the block succeeds."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()


def write_jsonl(path: Path, rows: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for row in rows:
            f.write(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY))
            f.write(b"\n")
            n += 1
    return n


def write_table(path: Path, table: pa.Table) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(
            orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        )


def kept_masks(
    sources: list[Source], source_index: np.ndarray, ordinal: np.ndarray, kept: np.ndarray
) -> list[np.ndarray]:
    """Per source, a boolean array over record ordinals: True where the record is kept."""
    masks = []
    for s in range(len(sources)):
        sel = (source_index == s) & kept
        size = int(ordinal[source_index == s].max()) + 1 if np.any(source_index == s) else 0
        mask = np.zeros(size, bool)
        mask[ordinal[sel]] = True
        masks.append(mask)
    return masks


def _is_kept(mask: np.ndarray, ordinal: int) -> bool:
    return ordinal < len(mask) and bool(mask[ordinal])


def kept_ranges(
    sources: list[Source],
    source_index: np.ndarray,
    kept: np.ndarray,
    byte_offset: np.ndarray,
    byte_length: np.ndarray,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per plain JSONL source whose kept records all have a known place: their byte offsets and
    lengths (see `neardup.corpus.readers.JsonlBlock`), for `write_deduplicated` to copy."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not len(byte_offset) == len(byte_length) == len(source_index) == len(kept):
        return out  # places not known (documents that did not come from the find pipeline)
    for s, src in enumerate(sources):
        if src.format != "jsonl":
            continue
        sel = (source_index == s) & kept
        if np.all(byte_offset[sel] >= 0):
            out[s] = (byte_offset[sel], byte_length[sel])
    return out


def write_deduplicated(
    out_dir: Path,
    sources: list[Source],
    masks: list[np.ndarray],
    memory: dict[int, list[Any]] | None = None,
    ranges: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[str]:
    """Write the kept records of every source, grouped by format; returns the files written.

    With `ranges` (`kept_ranges`), those JSONL sources are copied range by range (runs of kept
    lines in one read each) instead of line by line."""
    written: list[str] = []
    by_format: dict[str, list[int]] = {}
    for i, src in enumerate(sources):
        if not src.unreadable:  # reported as skipped on the first pass
            by_format.setdefault(src.format, []).append(i)
    if "jsonl" in by_format or "memory" in by_format:
        path = out_dir / "deduplicated.jsonl"
        with atomic_path(path) as tmp, open(tmp, "wb") as out:
            for i, src in enumerate(sources):
                if src.format == "jsonl" and ranges is not None and i in ranges:
                    _copy_ranges(src.path, *ranges[i], out)
                elif src.format == "jsonl":
                    _copy_jsonl(src, masks[i], out)
                elif src.format == "memory":
                    for k, item in enumerate((memory or {}).get(i, [])):
                        if _is_kept(masks[i], k):
                            row = (
                                item
                                if isinstance(item, dict)
                                else {"id": str(src.first + k), "text": item}
                            )
                            out.write(orjson.dumps(row, default=str) + b"\n")
        written.append(path.name)
    if "csv" in by_format:
        written.append(
            _write_csv(
                out_dir,
                [sources[i] for i in by_format["csv"]],
                [masks[i] for i in by_format["csv"]],
            )
        )
    if "parquet" in by_format:
        written.append(
            _write_parquet(
                out_dir,
                [sources[i] for i in by_format["parquet"]],
                [masks[i] for i in by_format["parquet"]],
            )
        )
    folders = by_format.get("txt", []) + by_format.get("html", [])
    if folders:
        target = out_dir / "deduplicated"
        with atomic_path(target) as tmp:
            tmp.mkdir(parents=True)
            for i in folders:
                src = sources[i]
                root = src.path if src.path.is_dir() else src.path.parent  # one .html file
                for ordinal, path in enumerate(src.files or []):
                    if _is_kept(masks[i], ordinal):
                        dest = tmp / path.relative_to(root)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(path, dest)
            if target.exists():
                shutil.rmtree(target)
        written.append("deduplicated/")
    if "warc" in by_format:
        from neardup.corpus.web import write_kept_warc

        path = out_dir / "deduplicated.warc.gz"
        with atomic_path(path) as tmp:
            write_kept_warc(
                tmp, [sources[i] for i in by_format["warc"]], [masks[i] for i in by_format["warc"]]
            )
        written.append(path.name)
    return written


def _copy_jsonl(src: Source, mask: np.ndarray, out: io.BufferedWriter) -> None:
    ordinal = -1
    try:
        with src.open_binary() as f:
            for lineno, raw in enumerate(f):
                if lineno == 0 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]  # not in the middle of the output
                if not raw.strip():
                    continue
                ordinal += 1
                if _is_kept(mask, ordinal):
                    out.write(raw if raw.endswith(b"\n") else raw + b"\n")
    except (OSError, EOFError, ValueError):
        pass  # the unreadable tail was reported as skipped on the first pass


def _copy_ranges(path: Path, offsets: np.ndarray, lengths: np.ndarray, out: BinaryIO) -> None:
    """Copy the lines at (offset, length) in file order, adjacent ones as one run; a last line
    without its newline gets one."""
    if len(offsets) == 0:
        return
    order = np.argsort(offsets, kind="stable")
    starts, ends = offsets[order], offsets[order] + lengths[order]
    run_first = np.flatnonzero(np.r_[True, starts[1:] != ends[:-1]])
    run_last = np.r_[run_first[1:], len(starts)] - 1
    piece = 1 << 24
    out_fd = _file_descriptor(out)
    with open(path, "rb") as f:
        fd = f.fileno()
        for start, end in zip(starts[run_first].tolist(), ends[run_last].tolist(), strict=True):
            at = start
            while at < end:
                copied = _copy_in_kernel(fd, out, out_fd, min(piece, end - at), at)
                if copied < 0:  # not possible here: through a buffer
                    out_fd = None
                    data = os.pread(fd, min(piece, end - at), at)
                    copied = len(data)
                    out.write(data)
                if not copied:  # the last line's newline, missing from the file
                    out.write(b"\n")
                    break
                at += copied


def _file_descriptor(out: BinaryIO) -> int | None:
    try:
        return out.fileno() if hasattr(os, "copy_file_range") else None
    except (OSError, ValueError, AttributeError):  # not a file (an in-memory buffer)
        return None


def _copy_in_kernel(fd: int, out: BinaryIO, out_fd: int | None, count: int, at: int) -> int:
    """Copy count bytes of fd at offset `at` to the end of `out` inside the kernel
    (copy_file_range: one copy between page caches instead of two through a buffer, which
    halves the cost of writing a large deduplicated corpus); -1 where that is not possible."""
    if out_fd is None:
        return -1
    out.flush()
    try:
        copied = os.copy_file_range(fd, out_fd, count, at)
    except OSError:  # another file system, an old kernel, a pipe
        return -1
    out.seek(0, os.SEEK_END)  # the buffered writer's idea of the position follows
    return copied


def _write_csv(out_dir: Path, sources: list[Source], masks: list[np.ndarray]) -> str:
    ext = "tsv" if all(s.delimiter == "\t" for s in sources) else "csv"
    delimiter = "\t" if ext == "tsv" else ","
    headers: list[list[str]] = []
    for src in sources:
        try:
            with src.open_binary() as f:
                text = io.TextIOWrapper(
                    f, encoding="utf-8-sig", errors="surrogateescape", newline=""
                )
                headers.append(next(csv.reader(text, delimiter=src.delimiter), []))
        except (OSError, EOFError, ValueError, csv.Error):  # reported on the first pass
            headers.append([])
    union = list(dict.fromkeys(h for hs in headers for h in hs))
    path = out_dir / f"deduplicated.{ext}"
    with (
        atomic_path(path) as tmp,
        open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="") as out,
    ):
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow(union)
        for src, header, mask in zip(sources, headers, masks, strict=True):
            if not mask.any():
                continue  # nothing kept (perhaps nothing readable)
            position = [header.index(h) if h in header else -1 for h in union]
            with src.open_binary() as f:
                text = io.TextIOWrapper(
                    f, encoding="utf-8-sig", errors="surrogateescape", newline=""
                )
                reader = csv.reader(text, delimiter=src.delimiter)
                next(reader, None)
                ordinal = -1
                while True:
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    except csv.Error:
                        ordinal += 1
                        continue
                    except (OSError, EOFError, ValueError):
                        break
                    if not row:
                        continue
                    ordinal += 1
                    if _is_kept(mask, ordinal):
                        writer.writerow([row[p] if 0 <= p < len(row) else "" for p in position])
    return path.name


def _write_parquet(out_dir: Path, sources: list[Source], masks: list[np.ndarray]) -> str:
    files: list[pq.ParquetFile | None] = []
    for src in sources:
        try:
            files.append(pq.ParquetFile(src.parquet_input()))
        except (pa.ArrowException, OSError):  # reported as skipped on the first pass
            files.append(None)
    schema = _unify_schemas([f.schema_arrow for f in files if f is not None])
    path = out_dir / "deduplicated.parquet"
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for pf, mask in zip(files, masks, strict=True):
            if pf is None or not mask.any():
                continue
            start = 0
            batches = pf.iter_batches(batch_size=8192)
            while start < len(mask):  # no kept row after the mask's end
                try:
                    rb = next(batches)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError):  # reported as skipped on the first pass
                    break
                rows = np.arange(start, start + rb.num_rows)
                start += rb.num_rows
                keep = rows[rows < len(mask)]
                keep = keep[mask[keep]] - (start - rb.num_rows)
                if len(keep):
                    table = pa.Table.from_batches([rb.take(pa.array(keep))])
                    writer.write_table(_conform(table, schema))
    return path.name


def _unify_schemas(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for the kept rows of every Parquet input. A column whose types do not promote
    to one another (an id that is a number in one file and text in another) is written as text."""
    if not schemas:
        return pa.schema([])
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    fields: dict[str, pa.Field] = {}
    for schema in schemas:
        for f in schema:
            if f.name in fields:
                try:
                    both = [pa.schema([fields[f.name]]), pa.schema([f])]
                    f = pa.unify_schemas(both, promote_options="permissive").field(0)
                except (pa.ArrowTypeError, pa.ArrowInvalid):
                    f = pa.field(f.name, pa.string())
            fields[f.name] = f
    return pa.schema(list(fields.values()))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table with the unified schema's columns (missing ones null), in its order."""
    for f in schema:
        if f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(len(table), f.type))
    return table.select(schema.names).cast(schema)
