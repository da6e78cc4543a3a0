"""The library API: `neardup.find(documents)` and its result.

    import neardup
    result = neardup.find(["text one ...", "text two ..."])        # strings
    result = neardup.find([{"id": "a", "text": "..."}, ...])        # dicts (other keys = metadata)
    result = neardup.find([Path("corpus.jsonl"), Path("pages/")])   # paths (files or folders)
    result.pairs; result.clusters; result.original_of("a"); result.write("results/")

Plain strings are always texts, never paths: pass `pathlib.Path` objects for files.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from neardup.config import Settings
from neardup.corpus.readers import Problem, ProblemLog, Reader
from neardup.corpus.sources import Source, memory_source, open_source
from neardup.corpus.writers import (
    kept_masks,
    kept_ranges,
    write_deduplicated,
    write_json,
    write_jsonl,
    write_table,
)
from neardup.engines.local import LocalEngine
from neardup.pipeline import RunState, run_find
from neardup.report import write_alignments_and_report
from neardup.verify import RULE_NAMES


@dataclass(frozen=True)
class Pair:
    """A verified pair: `a` and `b` are document ids (a read before b)."""

    a: str
    b: str
    jaccard: float
    a_in_b: float  # share of a's shingles found in b
    b_in_a: float
    rule: str  # "exact", "jaccard" or "containment"
    cluster: int


@dataclass(frozen=True)
class Member:
    id: str
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cluster:
    """A cluster of two or more documents; `original` is the id of the one kept."""

    id: int
    original: str
    rule: str  # which rule chose the original (see neardup.cluster)
    members: list[str]

    @property
    def duplicates(self) -> list[str]:
        return [m for m in self.members if m != self.original]


class FindResult:
    """What `find` found: pairs, clusters and originals, with counts and timings."""

    def __init__(
        self, state: RunState, sources: list[Source], memory: dict[int, list[Any]] | None = None
    ):
        self._state = state
        self.sources = sources
        self._memory = memory or {}
        self.settings: Settings = state.settings
        self.counts: dict[str, int] = state.counts
        self.timings: dict[str, float] = state.timings
        docs = state.docs
        self.ids: list[str] = docs.ids
        self._numbers: dict[str, int] | None = None  # id -> document number, when first asked
        n = len(docs.ids)
        self._cluster_of = np.full(n, -1, np.int64)
        for c, members in enumerate(state.clusters.members):
            self._cluster_of[members] = c
        self.kept_mask = np.ones(n, bool)
        for c, members in enumerate(state.clusters.members):
            self.kept_mask[members] = False
            self.kept_mask[state.clusters.original[c]] = True
        self._pairs: list[Pair] | None = None
        self._clusters: list[Cluster] | None = None

    @property
    def _number(self) -> dict[str, int]:
        # built on the first lookup by id: a million ids take ~100 MB as a dict, and writing the
        # results needs none
        if self._numbers is None:
            self._numbers = {doc_id: i for i, doc_id in enumerate(self.ids)}
        return self._numbers

    # --- results ---------------------------------------------------------------------------------
    @property
    def skipped(self) -> list[Problem]:
        return self._state.problems.skipped

    @property
    def warnings(self) -> list[Problem]:
        return self._state.problems.warnings

    @property
    def pairs(self) -> list[Pair]:
        if self._pairs is None:
            p, ids = self._state.pairs, self.ids
            self._pairs = [
                Pair(
                    ids[a],
                    ids[b],
                    float(j),
                    float(ab),
                    float(ba),
                    RULE_NAMES[r],
                    int(self._cluster_of[a]),
                )
                for a, b, j, ab, ba, r in zip(
                    p.a.tolist(),
                    p.b.tolist(),
                    p.jaccard.tolist(),
                    p.a_in_b.tolist(),
                    p.b_in_a.tolist(),
                    p.rule.tolist(),
                    strict=True,
                )
            ]
        return self._pairs

    @property
    def clusters(self) -> list[Cluster]:
        if self._clusters is None:
            ct, ids = self._state.clusters, self.ids
            self._clusters = [
                Cluster(c, ids[int(ct.original[c])], ct.rule[c], [ids[m] for m in members.tolist()])
                for c, members in enumerate(ct.members)
            ]
        return self._clusters

    def original_of(self, doc_id: str) -> str:
        """The id of the original of the document's cluster (the document itself if it has no
        copies). Raises KeyError for an id that was not read or was skipped."""
        i = self._number[doc_id]
        c = self._cluster_of[i]
        return doc_id if c < 0 else self.ids[int(self._state.clusters.original[c])]

    def cluster_of(self, doc_id: str) -> Cluster | None:
        c = self._cluster_of[self._number[doc_id]]
        return None if c < 0 else self.clusters[int(c)]

    @property
    def kept_ids(self) -> list[str]:
        return [self.ids[i] for i in np.flatnonzero(self.kept_mask).tolist()]

    @property
    def duplicates(self) -> dict[str, str]:
        """Every dropped document id -> the id of the original that was kept instead."""
        out = {}
        for cl in self.clusters:
            for m in cl.duplicates:
                out[m] = cl.original
        return out

    def meta(self, doc_id: str) -> dict[str, str]:
        return self._state.docs.meta[self._number[doc_id]]

    def pairs_table(self) -> pa.Table:
        p, ids = self._state.pairs, self.ids
        return pa.table(
            {
                "a": pa.array([ids[i] for i in p.a.tolist()], pa.string()),
                "b": pa.array([ids[i] for i in p.b.tolist()], pa.string()),
                "jaccard": pa.array(p.jaccard, pa.float64()),
                "containment_a_in_b": pa.array(p.a_in_b, pa.float64()),
                "containment_b_in_a": pa.array(p.b_in_a, pa.float64()),
                "rule": pa.array([RULE_NAMES[r] for r in p.rule.tolist()], pa.string()),
                "cluster": pa.array(self._cluster_of[p.a], pa.int64()),
            }
        )

    def shingle_set(self, doc_id: str) -> np.ndarray:
        return np.array(self._state.store.get(self._number[doc_id]))

    # --- output ----------------------------------------------------------------------------------
    def cluster_rows(self, chunk: int = 4_000) -> Iterator[dict[str, Any]]:
        """clusters.jsonl's rows, in cluster order (made a chunk of clusters at a time, so a
        large run never holds them all)."""
        state, ids = self._state, self.ids
        ct = state.clusters
        for first in range(0, len(ct), chunk):
            numbers = range(first, min(first + chunk, len(ct)))
            members_of = [ct.members[c].tolist() for c in numbers]
            # one metadata lookup for the chunk's members
            metas = iter(state.docs.meta.rows([m for ms in members_of for m in ms]))
            for c, members in zip(numbers, members_of, strict=True):
                original = int(ct.original[c])
                yield {
                    "cluster": c,
                    "size": len(members),
                    "original": ids[original],
                    "original_rule": ct.rule[c],
                    "members": [
                        {"id": ids[m], **next(metas), "original": m == original} for m in members
                    ],
                    "duplicates": [ids[m] for m in members if m != original],
                }

    def write(
        self,
        out: str | os.PathLike[str],
        *,
        argv: Sequence[str] | None = None,
        report: bool = True,
        workers: int | None = None,
    ) -> dict[str, Any]:
        """Write the results folder (see neardup.corpus.writers); returns the run record.

        With report=False, alignments.jsonl and report.html are left out (the slowest outputs:
        about 0.2 ms of CPU per pair); `neardup compare` still aligns any pair on demand."""
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        written: list[str] = []

        def write_tables_and_corpus() -> None:
            t = time.perf_counter()
            table = self.pairs_table()
            write_table(out_dir / "pairs.parquet", table)
            write_jsonl(
                out_dir / "pairs.jsonl",
                (
                    row
                    for part in table.to_batches(max_chunksize=10_000)
                    for row in part.to_pylist()
                ),
            )
            write_jsonl(out_dir / "clusters.jsonl", self.cluster_rows())
            skipped = _in_input_order(self.skipped, self.sources)
            write_jsonl(out_dir / "skipped.jsonl", [p.to_dict() for p in skipped])
            docs = self._state.docs
            masks = kept_masks(
                self.sources, docs.source_index_arr, docs.ordinal_arr, self.kept_mask
            )
            ranges = kept_ranges(
                self.sources,
                docs.source_index_arr,
                self.kept_mask,
                docs.byte_offset_arr,
                docs.byte_length_arr,
            )
            written.extend(write_deduplicated(out_dir, self.sources, masks, self._memory, ranges))
            self.timings["write"] = time.perf_counter() - t

        if report:
            # the tables and the deduplicated corpus are written while the workers align (this
            # process would otherwise leave a core idle for the whole of that writing)
            t = time.perf_counter()
            report_files = write_alignments_and_report(
                self,
                out_dir,
                argv=list(argv) if argv else None,
                workers=workers,
                alongside=write_tables_and_corpus,
            )
            self.timings["align_and_report"] = time.perf_counter() - t
            files = written + report_files
        else:
            write_tables_and_corpus()
            files = written
        run = self.run_record(argv)
        run["outputs"] = [
            "pairs.parquet",
            "pairs.jsonl",
            "clusters.jsonl",
            "skipped.jsonl",
            *files,
            "run.json",
        ]
        write_json(out_dir / "run.json", run)
        return run

    def run_record(self, argv: Sequence[str] | None = None) -> dict[str, Any]:
        return {
            "neardup": _version("neardup"),
            "command": list(argv) if argv is not None else None,
            "settings": self.settings.to_dict(),
            "inputs": [
                {
                    "name": s.name,
                    "format": s.format,
                    "compression": s.compression,
                    "bytes": s.size_bytes() if s.format != "memory" else None,
                }
                for s in self.sources
            ],
            "counts": self.counts,
            "skipped_by_reason": self._state.problems.skipped_by_reason(),
            "warnings": [p.message() for p in self.warnings[:1000]],
            "timings_seconds": {k: round(v, 4) for k, v in self.timings.items()},
            "environment": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "packages": {p: _version(p) for p in ("numpy", "numba", "pyarrow", "orjson")},
            },
        }


def _in_input_order(problems: list[Problem], sources: list[Source]) -> list[Problem]:
    """Problems sorted by where they are in the input (source, line, id), so skipped.jsonl does
    not depend on when each was found: reading runs a few batches ahead of tokenizing, which
    finds the empty texts and repeated ids, and more batches ahead with more workers."""
    rank = {s.name: i for i, s in enumerate(sources)}
    folders = [(str(s.path) + os.sep, i) for i, s in enumerate(sources) if s.files is not None]

    def key(p: Problem) -> tuple[int, int, str]:
        r = rank.get(p.source)
        if r is None:  # a file of a folder source
            r = next((i for prefix, i in folders if p.source.startswith(prefix)), len(sources))
        return r, p.line or 0, p.id or ""

    return sorted(problems, key=key)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def resolve_sources(documents: Iterable[Any]) -> tuple[list[Source], dict[int, list[Any]]]:
    """Turn the `documents` argument into sources: runs of in-memory items become one source
    each, paths become file or folder sources."""
    sources: list[Source] = []
    memory: dict[int, list[Any]] = {}
    run: list[Any] = []
    run_first = 0  # position of the run's first item among all the documents

    def flush() -> None:
        if run:
            memory[len(sources)] = list(run)
            sources.append(memory_source(memory[len(sources)], first=run_first))
            run.clear()

    for position, item in enumerate(documents):
        if isinstance(item, os.PathLike):
            flush()
            sources.append(open_source(item))
        else:
            if not run:
                run_first = position
            run.append(item)
    flush()
    return sources, memory


def find(
    documents: Iterable[Any],
    settings: Settings | None = None,
    *,
    workers: int | None = 1,
    out: str | os.PathLike[str] | None = None,
    problems: ProblemLog | None = None,
    **overrides: Any,
) -> FindResult:
    """Find the copies among `documents` (strings, dicts, or `Path`s of corpus files/folders).

    Settings may be given as a `Settings` object and/or keyword overrides
    (`find(docs, threshold=0.6)`). With `out`, the results folder is written too.
    """
    settings = (
        (settings or Settings()).replace(**overrides) if overrides else (settings or Settings())
    )
    sources, memory = resolve_sources(documents)
    return find_sources(
        sources, settings, workers=workers, out=out, problems=problems, memory=memory
    )


def find_sources(
    sources: list[Source],
    settings: Settings,
    *,
    workers: int | None = None,
    out: str | os.PathLike[str] | None = None,
    problems: ProblemLog | None = None,
    memory: dict[int, list[Any]] | None = None,
    on_progress: Any = None,
    argv: Sequence[str] | None = None,
    report: bool = True,
) -> FindResult:
    problems = problems or ProblemLog(settings.on_error)
    reader = Reader(sources, settings, problems, jsonl_blocks=True)
    state = run_find(
        reader,
        settings,
        problems,
        engine=LocalEngine(workers),
        source_names=[s.name for s in sources],
        on_progress=on_progress,
        bytes_read=lambda: reader.bytes_read,
    )
    result = FindResult(state, sources, memory)
    if out is not None:
        result.write(out, argv=argv, report=report, workers=workers)
    return result
