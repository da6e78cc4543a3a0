"""The find pipeline: read -> normalize/shingle/sketch -> candidates -> verify -> cluster.

Each stage is a plain function from the stage modules; this module only moves batches between
them and keeps the per-document bookkeeping (`DocTable`). The engine decides where the
per-batch stage (sketching) runs; everything after it works on compact arrays of the whole
corpus: LSH band keys (bands x 4 bytes per document), anchors (~1/16 of the shingles) and the
shingle sets on disk.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import numba as nb
import numpy as np
import pyarrow as pa

from neardup.boilerplate import Boilerplate, detect_boilerplate, numbers_of_sites, site_of
from neardup.candidates import (
    anchor_candidates,
    band_keys32,
    lsh_candidates_from_keys,
    merge_pairs,
)
from neardup.cluster import ClusterTable, build_clusters
from neardup.config import Settings
from neardup.corpus.meta import MetaColumns
from neardup.corpus.readers import (
    JsonlBlock,
    ParsedBlock,
    Problem,
    ProblemLog,
    RecordBatch,
    parse_jsonl_block,
)
from neardup.engines.local import LocalEngine, release_memory
from neardup.sketch import SketchBatch, sketch_texts
from neardup.verify import (
    RULE_EXACT,
    ShingleStore,
    Spooled,
    VerifiedPairs,
    spool_sets,
    verify_stored_pairs,
)


def parse_published(value: str | None) -> float:
    """Seconds since the epoch (UTC) for an ISO 8601 or RFC 2822 date; NaN if absent or unreadable."""
    if not value:
        return math.nan
    value = value.strip()
    dt = None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return math.nan
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def site_keys(metas: Sequence[dict[str, str]], settings: Settings) -> pa.Array | None:
    """Each record's site (`site_of`), when boilerplate is looked for per site."""
    if settings.boilerplate != "site":
        return None
    return pa.array([site_of(m) for m in metas], pa.string())


def published_seconds(metas: Sequence[dict[str, str]]) -> np.ndarray:
    """`parse_published` of each record's `published` field."""
    return np.fromiter((parse_published(m.get("published")) for m in metas), np.float64, len(metas))


@dataclass
class DocTable:
    """What the pipeline keeps per accepted document (numbered 0.. in input order)."""

    ids: list[str] = field(default_factory=list)
    meta: MetaColumns = field(default_factory=MetaColumns)
    source_index: list[np.ndarray] = field(default_factory=list)
    ordinal: list[np.ndarray] = field(default_factory=list)
    line: list[np.ndarray] = field(default_factory=list)
    published: list[np.ndarray] = field(default_factory=list)
    band_keys: list[np.ndarray] = field(default_factory=list)  # (n, bands) uint32 per batch
    content_hash: list[np.ndarray] = field(default_factory=list)
    anchor_values: list[np.ndarray] = field(default_factory=list)
    anchor_counts: list[np.ndarray] = field(default_factory=list)
    n_chars: list[np.ndarray] = field(default_factory=list)
    # where each record's line is in its JSONL file (-1: not a plain JSONL file), to read it back
    byte_offset: list[np.ndarray] = field(default_factory=list)
    byte_length: list[np.ndarray] = field(default_factory=list)
    # while reading: each id's document number (to find repeated ids) and the first document
    # number of each batch's arrays (to say where the first one was)
    first_seen: dict[str, int] = field(default_factory=dict)
    batch_starts: list[int] = field(default_factory=list)
    sites: list[pa.Array] = field(default_factory=list)  # `site_of`, when boilerplate is per site

    def __len__(self) -> int:
        return len(self.ids)

    def place_while_reading(
        self, number: int, batch: RecordBatch, kept_at: list[int]
    ) -> tuple[int, int]:
        """(source index, line) of document `number`, read in an earlier batch or in `batch`
        (its kept positions so far: `kept_at`)."""
        if number >= len(self):
            return batch.source_index, batch.lines[kept_at[number - len(self)]]
        b = bisect.bisect_right(self.batch_starts, number) - 1
        at = number - self.batch_starts[b]
        return int(self.source_index[b][at]), int(self.line[b][at])

    def finish(self, bands: int) -> None:
        """Concatenate the per-batch arrays (call once, after the last batch)."""

        def cat(parts: list[np.ndarray], dtype: Any, shape: tuple[int, ...] = (0,)) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(shape, dtype)

        self.source_index_arr = cat(self.source_index, np.int32)
        self.ordinal_arr = cat(self.ordinal, np.int64)
        self.line_arr = cat(self.line, np.int64)
        self.published_arr = cat(self.published, np.float64)
        self.first_seen = {}  # only needed while reading (duplicate ids)
        self.batch_starts = []
        self.band_keys_arr = cat(self.band_keys, np.uint32, (0, bands))
        self.content_hash_arr = cat(self.content_hash, np.uint64)
        self.anchor_values_arr = cat(self.anchor_values, np.uint32)
        counts = cat(self.anchor_counts, np.int64)
        self.anchor_offsets_arr = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=self.anchor_offsets_arr[1:])
        self.n_chars_arr = cat(self.n_chars, np.int64)
        self.byte_offset_arr = cat(self.byte_offset, np.int64)
        self.byte_length_arr = cat(self.byte_length, np.int64)
        for name in (
            "source_index",
            "published",
            "ordinal",
            "line",
            "band_keys",
            "content_hash",
            "anchor_values",
            "anchor_counts",
            "n_chars",
            "byte_offset",
            "byte_length",
        ):
            getattr(self, name).clear()


@dataclass
class RunState:
    """Everything a find run produced, before it is turned into user-facing results."""

    settings: Settings
    docs: DocTable
    store: ShingleStore
    pairs: VerifiedPairs
    clusters: ClusterTable
    problems: ProblemLog
    counts: dict[str, int]
    timings: dict[str, float]
    n_candidates: int = 0
    boilerplate: Boilerplate | None = None  # shingles that do not count (neardup.boilerplate)


# Where the workers write the shingle sets of their batches (`neardup.verify.spool_sets`): the
# run's store directory, set before the workers fork (None: the sets come back with the batch).
_SPOOL_DIR: str | None = None


def _sketch_worker(
    settings: Settings, item: list[str] | JsonlBlock
) -> tuple[SketchBatch, np.ndarray, ParsedBlock | None, Spooled | None]:
    """The per-batch stage: sketches, with the signatures reduced to LSH band keys (all that the
    find pipeline keeps of them: bands x 4 bytes per document instead of num_perm x 4).

    `item` is a batch's texts, or a block of JSONL lines, parsed here (then the parsed records
    come back without their texts, which the pipeline does not keep)."""
    parsed = None
    if isinstance(item, JsonlBlock):
        parsed = parse_jsonl_block(item, settings)
        texts = parsed.batch.texts
    else:
        texts = item
    sk = sketch_texts(texts, settings)
    keys = band_keys32(sk.signatures, settings.bands, settings.rows)
    sk.signatures = np.zeros((0, sk.signatures.shape[1]), sk.signatures.dtype)
    if parsed is not None:
        parsed.n_chars = np.fromiter(map(len, texts), np.int64, len(texts))
        parsed.blank = [not t.strip() for t in texts] if not sk.n_tokens.all() else []
        parsed.batch.texts = []
        # the metadata as the pipeline keeps it, made here rather than in the reading process
        parsed.meta_table = MetaColumns.table(parsed.batch.meta)
        parsed.published = published_seconds(parsed.batch.meta)
        parsed.sites = site_keys(parsed.batch.meta, settings)
        parsed.batch.meta = []
    spooled = None
    if _SPOOL_DIR is not None:
        spooled = spool_sets(_SPOOL_DIR, sk.set_values)
        sk.set_values = sk.set_values[:0]
    return sk, keys, parsed, spooled


def _payload(item: RecordBatch | JsonlBlock) -> list[str] | JsonlBlock:
    return item if isinstance(item, JsonlBlock) else item.texts


def warm_up(settings: Settings) -> None:
    """Load (or compile) the kernels before workers fork, so each does not compile its own."""
    sketch_texts(["warm up the kernels"], settings)


@nb.njit(cache=True)
def _ragged_take(values, offsets, rows):
    counts = np.empty(len(rows), np.int64)
    total = 0
    for k in range(len(rows)):
        counts[k] = offsets[rows[k] + 1] - offsets[rows[k]]
        total += counts[k]
    out = np.empty(total, values.dtype)
    out_off = np.zeros(len(rows) + 1, np.int64)
    pos = 0
    for k in range(len(rows)):
        s = offsets[rows[k]]
        for t in range(counts[k]):
            out[pos + t] = values[s + t]
        pos += counts[k]
        out_off[k + 1] = pos
    return out, out_off


def exact_duplicate_pairs(content_hash: np.ndarray) -> tuple[VerifiedPairs, np.ndarray]:
    """Pairs (first, other) for documents whose normalized texts are identical, and the mask of
    documents that represent their group (the first of each)."""
    n = len(content_hash)
    order = np.lexsort((np.arange(n), content_hash))
    sorted_hash = content_hash[order]
    starts = np.ones(n, bool)
    starts[1:] = sorted_hash[1:] != sorted_hash[:-1]
    group_first = order[np.maximum.accumulate(np.where(starts, np.arange(n), 0))]
    is_rep = np.zeros(n, bool)
    is_rep[order[starts]] = True
    dup = order[~starts]
    rep = group_first[~starts]
    ones = np.ones(len(dup))
    pairs = VerifiedPairs(
        a=np.minimum(rep, dup).astype(np.int64),
        b=np.maximum(rep, dup).astype(np.int64),
        jaccard=ones,
        a_in_b=ones.copy(),
        b_in_a=ones.copy(),
        rule=np.full(len(dup), RULE_EXACT, np.int8),
    )
    return pairs, is_rep


def _take_batch(
    item: RecordBatch | JsonlBlock,
    result: tuple[SketchBatch, np.ndarray, ParsedBlock | None, Spooled | None],
    docs: DocTable,
    store: ShingleStore,
    problems: ProblemLog,
    settings: Settings,
    names: list[str],
    records_before: dict[int, int],
) -> int:
    """Keep a sketched batch's documents (all but empty texts and repeated ids, which become
    problems) in `docs` and `store`; returns how many records the batch had."""
    sk, keys, parsed, spooled = result
    if parsed is not None:
        # a JSONL block parsed by the worker: its problems in reading order, then the source's
        batch = parsed.batch
        parsed.report(problems, item.after)
        before = records_before.get(batch.source_index, 0)
        batch.ordinals = [before + o for o in batch.ordinals]
        records_before[batch.source_index] = before + parsed.records
        n_chars = parsed.n_chars
        blank = parsed.blank
        byte_offset = np.asarray(parsed.byte_starts, np.int64)
        byte_length = np.asarray(parsed.byte_lengths, np.int64)
        meta_table, published, sites = parsed.meta_table, parsed.published, parsed.sites
    else:
        batch = item
        n_chars = np.fromiter(map(len, batch.texts), np.int64, len(batch.texts))
        blank = [not t.strip() for t in batch.texts] if not sk.n_tokens.all() else []
        byte_offset = byte_length = np.full(len(batch), -1, np.int64)
        meta_table, published = MetaColumns.table(batch.meta), published_seconds(batch.meta)
        sites = site_keys(batch.meta, settings)
    keep = sk.n_tokens > 0

    def place(src: int, line: int, doc_id: str) -> tuple[str, int | None]:
        # records of a folder (text or HTML files) have no line: name the file itself
        name = names[src] if names else str(src)
        return (name, line) if line else (f"{name.rstrip('/')}/{doc_id}", None)

    for i in np.flatnonzero(~keep).tolist():
        reason = "empty text" if blank[i] else "no words in text (only punctuation or symbols)"
        where, line = place(batch.source_index, batch.lines[i], batch.ids[i])
        problems.skip(Problem(where, line, reason, id=batch.ids[i]))
    first_seen = docs.first_seen
    base = len(docs)
    kept_at: list[int] = []  # this batch's kept positions so far
    for i, doc_id in enumerate(batch.ids):
        if not keep[i]:
            continue
        number = first_seen.setdefault(doc_id, base + len(kept_at))
        if number == base + len(kept_at):
            kept_at.append(i)
            continue
        keep[i] = False
        first, first_line = place(*docs.place_while_reading(number, batch, kept_at), doc_id)
        first += f":{first_line}" if first_line else ""
        where, line = place(batch.source_index, batch.lines[i], doc_id)
        problems.skip(Problem(where, line, f"duplicate id (first seen at {first})", id=doc_id))
    idx = np.flatnonzero(keep)
    every = len(idx) == len(keep)  # (nearly always: no copies of what the worker made)
    docs.batch_starts.append(base)
    docs.ids.extend(batch.ids if every else [batch.ids[i] for i in idx])
    docs.meta.extend_table(meta_table if every else meta_table.take(pa.array(idx)))
    docs.published.append(published[idx])
    if sites is not None:
        docs.sites.append(sites if every else sites.take(pa.array(idx)))
    docs.source_index.append(np.full(len(idx), batch.source_index, np.int32))
    docs.ordinal.append(np.asarray(batch.ordinals, np.int64)[idx])
    docs.line.append(np.asarray(batch.lines, np.int64)[idx])
    docs.band_keys.append(keys[idx])
    docs.content_hash.append(sk.content_hash[idx])
    docs.n_chars.append(n_chars[idx])
    docs.byte_offset.append(byte_offset[idx])
    docs.byte_length.append(byte_length[idx])
    if spooled is not None:
        store.append_spooled(spooled, sk.set_offsets, idx)
        av, ao = (
            (sk.anchor_values, sk.anchor_offsets)
            if every
            else _ragged_take(sk.anchor_values, sk.anchor_offsets, idx)
        )
    elif every:
        store.append(sk.set_values, sk.set_offsets)
        av, ao = sk.anchor_values, sk.anchor_offsets
    else:
        store.append(*_ragged_take(sk.set_values, sk.set_offsets, idx))
        av, ao = _ragged_take(sk.anchor_values, sk.anchor_offsets, idx)
    docs.anchor_values.append(av)
    docs.anchor_counts.append(np.diff(ao))
    return len(batch)


ProgressFn = Callable[[int, int], None]  # (bytes read so far, documents so far)


def run_find(
    batches: Iterable[RecordBatch | JsonlBlock],
    settings: Settings,
    problems: ProblemLog,
    *,
    engine: LocalEngine | None = None,
    source_names: list[str] | None = None,
    on_progress: ProgressFn | None = None,
    bytes_read: Callable[[], int] | None = None,
) -> RunState:
    """Run the whole pipeline over record batches (see the module docstring)."""
    engine = engine or LocalEngine(1)
    engine._warmup = lambda: warm_up(settings)
    names = source_names or []
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    docs = DocTable()
    store = ShingleStore()
    n_read = 0
    records_before: dict[int, int] = {}  # JSONL records of each source in earlier blocks
    global _SPOOL_DIR
    # worker processes write the sets to the store's directory themselves
    _SPOOL_DIR = store.directory if engine.workers > 1 else None
    try:
        results = engine.map(_sketch_worker, batches, _payload, settings)
        for item, result in results:
            n_read += _take_batch(
                item, result, docs, store, problems, settings, names, records_before
            )
            if on_progress:
                on_progress(bytes_read() if bytes_read else 0, n_read)
    finally:
        _SPOOL_DIR = None
    docs.finish(settings.bands)
    release_memory()
    n = len(docs)
    sizes = store.sizes()
    timings["read_and_sketch"] = time.perf_counter() - t0

    t = time.perf_counter()
    exact, is_rep = exact_duplicate_pairs(docs.content_hash_arr)
    reps = np.flatnonzero(is_rep).astype(np.int64)

    def lsh() -> np.ndarray:
        return lsh_candidates_from_keys(docs.band_keys_arr, reps, settings.max_bucket, rows=reps)

    # the LSH buckets do not depend on boilerplate: with cores to spare they are found in a
    # thread while boilerplate is detected (the kernels release the GIL)
    lsh_thread = ThreadPoolExecutor(1) if engine.workers > 1 else None
    lsh_done = lsh_thread.submit(lsh) if lsh_thread is not None else None
    timings["exact_duplicates"] = time.perf_counter() - t

    t = time.perf_counter()
    try:
        # per site: the sites the workers named, numbered here at once
        sites_or_meta = (
            numbers_of_sites(pa.chunked_array(docs.sites, pa.string())) if docs.sites else docs.meta
        )
        docs.sites = []
        boilerplate = detect_boilerplate(
            np.zeros(0, np.uint32),  # the sets are read a chunk at a time through `gather`
            store.offsets,
            sites_or_meta,
            settings,
            gather=store.gather,
            threads=engine.workers,  # `workers` is the run's budget of cores, threads included
        )
        timings["boilerplate"] = time.perf_counter() - t
        t = time.perf_counter()
        lsh_pairs = lsh_done.result() if lsh_done is not None else lsh()
    finally:
        if lsh_thread is not None:
            lsh_thread.shutdown()
    # fresh empty arrays, not [:0] views: a view keeps its whole base alive to the end
    docs.band_keys_arr = np.zeros((0, settings.bands), np.uint32)
    anchored = anchor_candidates(
        docs.anchor_values_arr,
        docs.anchor_offsets_arr,
        reps,
        settings.anchor_min_ratio,
        settings.anchor_max_df,
        rows=reps,
        exclude=boilerplate.values,
    )
    candidates = merge_pairs(lsh_pairs, anchored)
    n_lsh, n_anchored = len(lsh_pairs), len(anchored)
    # what only the candidate stage needs goes before verification reads shingle sets
    del lsh_pairs, anchored
    docs.anchor_values_arr = np.zeros(0, np.uint32)
    docs.anchor_offsets_arr = np.zeros(1, np.int64)
    release_memory()
    timings["candidates"] = time.perf_counter() - t

    t = time.perf_counter()
    verified = verify_stored_pairs(
        candidates, store, settings, exclude=boilerplate.values, threads=engine.workers
    )
    pairs = VerifiedPairs.concat([exact, verified]).sorted()
    timings["verify"] = time.perf_counter() - t

    t = time.perf_counter()
    clusters = build_clusters(n, pairs, docs.published_arr, sizes)
    timings["cluster"] = time.perf_counter() - t

    in_cluster = sum(len(m) for m in clusters.members)
    counts = {
        # every record read is either a document or skipped
        "documents_read": n + len(problems.skipped),
        "documents": n,
        "skipped": len(problems.skipped),
        "warnings": len(problems.warnings),
        "exact_duplicates": len(exact),
        "candidate_pairs": len(candidates),
        "lsh_candidates": n_lsh,
        "anchor_candidates": n_anchored,
        "near_duplicate_pairs": len(verified),
        "pairs": len(pairs),
        "clusters": len(clusters),
        "documents_in_clusters": int(in_cluster),
        "duplicates_removed": int(in_cluster - len(clusters)),
        "documents_kept": int(n - (in_cluster - len(clusters))),
        **boilerplate.summary(),
        **problems.counts,
    }
    return RunState(
        settings,
        docs,
        store,
        pairs,
        clusters,
        problems,
        counts,
        timings,
        len(candidates),
        boilerplate,
    )
