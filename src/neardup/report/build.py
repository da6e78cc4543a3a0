"""Alignments of a find run (alignments.jsonl) and its HTML report (report.html).

Both come from one streaming pass over the clustered documents (`neardup.corpus.fetch`): as soon
as every member of a cluster has been read again, its pairs are aligned (`neardup.align`, in
batches of clusters spread over worker processes for large runs), one line per pair goes to
alignments.jsonl, the cluster's texts and member-vs-original alignments go to the report's data,
and the texts are dropped. The process that aligns a batch writes its outputs itself, into a
spool folder beside the results (its lines to a file of its own, its report data as the batch's
chunk); the writing process copies the lines into alignments.jsonl in batch order (in the kernel)
and renames the chunks into place, so neither passes through a pipe. The output does not depend
on the number of processes: batches are cut by size, numbered, and consumed in order.

Work is bounded for large corpora: every pair of pairs.parquet gets a record, aligned up to
`max_aligned_pairs`; past that, only the pairs that involve their cluster's original are aligned
(the others get `"aligned": false`). The report shows every cluster in its list, but embeds
texts and alignments for at most `max_detail_members` members per cluster and `max_detail_bytes`
in all (whole batches: from the first batch past it on, none); the first `inline_bytes` of that
data are inside report.html, the rest in sidecar files report-data/chunk-NNNN.js (NNNN: the
batch) that the page loads when a cluster is opened (a <script> tag, which
works from file:// too). So report.html stays a few megabytes for a corpus of 100,000 documents
and opens on its first screen, the largest clusters, without loading any text.

Boilerplate (`neardup.boilerplate`: text that recurs around unrelated stories, which did not
count toward similarity) stays in both, marked: when the run found some, each member's
boilerplate spans are found once (only for the members whose shingle sets hold enough of it),
every alignments.jsonl record gets the spans of its two texts, and its passages, insertions,
removals and substitutions say whether they are boilerplate; the report shows it hatched in grey.
The schema is in docs/alignment.md.
"""

from __future__ import annotations

import contextlib
import html
import math
import multiprocessing as mp
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import orjson

from neardup.align import Alignment, Prepared, Substitutions, align, align_prepared, prepare
from neardup.boilerplate import (
    NO_SPANS,
    AlignmentMarks,
    BoilerplateMarker,
    TextSpans,
    count_boilerplate_shingles,
)
from neardup.corpus.fetch import RecordFiles, iter_group_texts, record_refs
from neardup.corpus.writers import atomic_path
from neardup.engines.local import LocalEngine, default_workers, release_memory
from neardup.verify import RULE_NAMES

if TYPE_CHECKING:
    from neardup.api import FindResult
    from neardup.config import Settings

DEFAULT_MAX_ALIGNED_PAIRS = 200_000
DEFAULT_MAX_DETAIL_MEMBERS = 50
DEFAULT_MAX_DETAIL_BYTES = 512_000_000
DEFAULT_INLINE_BYTES = 8_000_000
CHUNK_BYTES = 1_000_000
PARALLEL_FROM_PAIRS = 2_000
BATCH_PAIRS = 256
TITLE_CHARS = 160
INDEX_MEMBER_IDS = 12


# shared by the records and report entries of pairs without boilerplate (only serialized)
_NO_BOILERPLATE = {"a": [], "b": [], "chars": [0, 0], "shared_chars": [0, 0]}
_NO_SPANS: list[list[Any]] = [[], []]


def alignment_record(
    aln: Alignment,
    marks: AlignmentMarks | None = None,
    spans_a: TextSpans | None = None,
    spans_b: TextSpans | None = None,
) -> dict[str, Any]:
    """The alignment part of an alignments.jsonl line (offsets only for passages; the text of
    insertions, removals and substitutions, which is what a reader wants to see).

    With spans (the run found boilerplate) the record gets a `boilerplate` object: each text's
    boilerplate character spans and counts; and with `marks` (either text has some), every
    passage, insertion and removal says whether it is boilerplate, and passages how many of their
    characters are (when neither has any, no part is, and the flags are left out: most pairs of a
    corpus, so the file stays as small and as fast to write as without marking). Substitutions
    are not flagged (they are many, and small): one is in boilerplate when its offsets are in
    the spans.
    """
    record = aln.to_dict()
    if spans_a is None or spans_b is None:
        return record
    if marks is None:  # neither text has boilerplate
        record["boilerplate"] = _NO_BOILERPLATE
        return record
    record["boilerplate"] = {
        "a": [[s, e] for s, e in zip(spans_a.starts, spans_a.ends, strict=True)],
        "b": [[s, e] for s, e in zip(spans_b.starts, spans_b.ends, strict=True)],
        "chars": list(marks.chars),
        "shared_chars": list(marks.shared_chars),
    }
    for item, flag, chars in zip(
        record["passages"], marks.passages, marks.passage_chars, strict=True
    ):
        item["boilerplate"] = flag
        item["boilerplate_chars"] = list(chars)
    for key, flags in (("insertions", marks.insertions), ("removals", marks.removals)):
        for item, flag in zip(record[key], flags, strict=True):
            item["boilerplate"] = flag
    return record


def compact_alignment(
    aln: Alignment,
    marks: AlignmentMarks | None = None,
    spans_a: TextSpans | None = None,
    spans_b: TextSpans | None = None,
) -> dict[str, Any]:
    """The report's form of an alignment of a member (b) against the original (a). With spans,
    "bp" holds the boilerplate character spans of the original and of the member, and with
    `marks` (there are some), passages, insertions and removals end with a boilerplate flag (0/1;
    absent: 0)."""
    out = {
        "p": [
            [p.a_start, p.a_end, p.b_start, p.b_end, round(p.similarity, 3)] for p in aln.passages
        ],
        "i": [[s.start, s.end, -1 if s.passage is None else s.passage] for s in aln.insertions],
        "r": [[s.start, s.end, -1 if s.passage is None else s.passage] for s in aln.removals],
        "s": aln.substitutions.compact()
        if isinstance(aln.substitutions, Substitutions)
        else [
            [s.a_start, s.a_end, s.b_start, s.b_end, 0 if s.kind == "style" else 1]
            for s in aln.substitutions
        ],
        "sc": aln.scores(),
    }
    if spans_a is not None and spans_b is not None:
        if marks is None:  # neither text has boilerplate
            out["bp"] = _NO_SPANS
            return out
        out["bp"] = [
            [[s, e] for s, e in zip(spans.starts, spans.ends, strict=True)]
            for spans in (spans_a, spans_b)
        ]
        for key, flags in (("p", marks.passages), ("i", marks.insertions), ("r", marks.removals)):
            for item, flag in zip(out[key], flags, strict=True):
                item.append(int(flag))
    return out


class _Chunks:
    """The report's cluster details, one chunk per batch of clusters: each worker writes its
    batch's chunk to the spool folder itself (`_write_batch`), and this process only decides,
    in batch order, which chunks are kept (`max_bytes` in all: from the first batch past it on,
    none), and then which of those go inline in the page (up to `inline_bytes`) and which
    become sidecar files report-data/chunk-NNNN.js (NNNN: the batch number)."""

    def __init__(self, out_dir: Path, spool: Path, inline_bytes: int, max_bytes: int):
        self.spool = spool
        self.inline_bytes = inline_bytes
        self.max_bytes = max_bytes
        self.kept: list[tuple[int, int]] = []  # (batch number, chunk bytes)
        self.total = 0
        self.full = False
        self.inline: list[tuple[int, bytes]] = []
        self.sidecar = 0
        self.data_dir = out_dir / "report-data"
        if self.data_dir.exists():
            for old in self.data_dir.glob("chunk-*.js"):
                old.unlink()

    def keep(self, number: int, size: int) -> bool:
        """Whether batch `number`'s chunk (`size` bytes, -1: not written) is kept; batches
        must come in order."""
        if not self.full and size >= 0 and self.total + size <= self.max_bytes:
            self.total += size
            self.kept.append((number, size))
            return True
        self.full = True
        with contextlib.suppress(FileNotFoundError):
            _chunk_path(self.spool, number).unlink()
        return False

    def place(self) -> None:
        """Move the kept chunks inline (while they fit) or into report-data/."""
        used = 0
        for number, size in self.kept:
            path = _chunk_path(self.spool, number)
            if used + size <= self.inline_bytes:
                blob = path.read_bytes()
                self.inline.append((number, blob[len(_chunk_head(number)) : -len(_CHUNK_TAIL)]))
                path.unlink()
                used += size
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                os.replace(path, _chunk_path(self.data_dir, number))
                self.sidecar += 1


_CHUNK_TAIL = b");\n"


def _chunk_head(number: int) -> bytes:
    return b"window.neardupChunk(%d," % number


def _chunk_path(folder: Path, number: int) -> Path:
    return folder / f"chunk-{number:04d}.js"


class _LinesSpool:
    """Where a process appends the alignments.jsonl lines of the batches it aligns: one file
    per process in the spool folder (`lines-PID`), opened once."""

    files: ClassVar[dict[str, int]] = {}

    @classmethod
    def append(cls, spool: str, data: bytes) -> tuple[str, int, int]:
        """(file, offset, length) of `data`, appended to this process's file."""
        path = os.path.join(spool, f"lines-{os.getpid()}")
        fd = cls.files.get(path)
        if fd is None:
            fd = cls.files[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        offset = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        return path, offset, len(data)

    @classmethod
    def close_all(cls) -> None:
        for fd in cls.files.values():
            os.close(fd)
        cls.files.clear()


def _copy_range(src: int, dst: int, offset: int, length: int) -> None:
    """Append `length` bytes of file `src` from `offset` to file `dst` (in the kernel when it
    can: the lines never pass through this process's memory)."""
    while length > 0:
        try:
            n = os.copy_file_range(src, dst, length, offset)
        except OSError:  # not supported here (old kernel, some file systems)
            n = 0
        if n <= 0:
            data = os.pread(src, min(length, 1 << 24), offset)
            if not data:
                raise OSError(f"the alignment spool is shorter than expected at {offset}")
            view = memoryview(data)
            while view:
                view = view[os.write(dst, view) :]
            n = len(data)
        offset += n
        length -= n


def _align_cluster(
    ngram: int,
    align_all: bool,
    max_detail_members: int,
    marker: BoilerplateMarker | None,
    job: dict[str, Any],
    with_detail: bool = True,
) -> tuple[bytes, dict[str, Any] | None, list[float]]:
    """Align one cluster: its alignments.jsonl lines, its report detail (None without
    `with_detail`: past the report's budget), its pair similarities.
    `marker`: the run's boilerplate, to mark in both (None: no boilerplate found, or off)."""
    ids, texts, original = job["ids"], job["texts"], job["original"]
    prepared: dict[int, Prepared] = {}
    boilerplate_spans: dict[int, TextSpans] = {}

    def prep(d: int) -> Prepared:
        # each member is tokenized once, however many pairs it is in
        if d not in prepared:
            prepared[d] = prepare(texts[d])
        return prepared[d]

    def spans(d: int) -> TextSpans:
        # and its boilerplate spans found once, from the same tokens (only in the members whose
        # shingle sets hold boilerplate at all)
        assert marker is not None
        if d not in boilerplate_spans:
            boilerplate_spans[d] = (
                marker.text_spans(texts[d], prep(d).tokens) if d in job["bp"] else NO_SPANS
            )
        return boilerplate_spans[d]

    against_original: dict[int, Alignment] = {}
    marks_against_original: dict[int, AlignmentMarks | None] = {}

    def marks_of(aln: Alignment, reference: int, other: int) -> AlignmentMarks | None:
        # None: neither text has boilerplate
        assert marker is not None
        spans_r, spans_o = spans(reference), spans(other)
        if not (spans_r.total or spans_o.total):
            return None
        return marker.mark(aln, spans_r, spans_o, substitutions=False)

    jaccard_with_original: dict[int, float] = {}
    pair_jaccards: list[float] = []
    lines = []
    for a, b, jaccard, a_in_b, b_in_a, rule in job["pairs"]:
        pair_jaccards.append(jaccard)
        record: dict[str, Any] = {
            "a": ids[a],
            "b": ids[b],
            "cluster": job["c"],
            "original": ids[original],
            "rule": rule,
            "jaccard": round(jaccard, 4),
            "containment_a_in_b": round(a_in_b, 4),
            "containment_b_in_a": round(b_in_a, 4),
        }
        involves_original = original in (a, b)
        if involves_original:
            jaccard_with_original[b if a == original else a] = jaccard
        if (align_all or involves_original) and a in texts and b in texts:
            # align against the original when it is in the pair, so insertions are what a copy
            # added; the record still speaks of a and b as pairs.parquet does
            reference, other = (b, a) if b == original else (a, b)
            aln = align_prepared(prep(reference), prep(other), ngram=ngram)
            if reference == original:
                against_original[other] = aln
            record["aligned"] = True
            written = aln if reference == a else aln.swapped()
            if marker is None:
                record.update(alignment_record(written))
            else:
                # marked once, on the alignment against the original; the report reuses it
                marks = marks_of(aln, reference, other)
                if reference == original:
                    marks_against_original[other] = marks
                if marks is not None and reference != a:
                    marks = marks.swapped()
                record.update(alignment_record(written, marks, spans(a), spans(b)))
        else:
            record["aligned"] = False
            record["why_not_aligned"] = (
                "text could not be read again"
                if a not in texts or b not in texts
                else "max_aligned_pairs reached"
            )
        lines.append(orjson.dumps(record))
    if not with_detail:
        return b"".join(line + b"\n" for line in lines), None, pair_jaccards
    # the report: every member (up to max_detail_members) against the original
    copies = [m for m in job["members"] if m != original]
    detail_members = [original, *copies[: max_detail_members - 1]]
    detail_alignments: dict[str, Any] = {}
    for m in detail_members[1:]:
        if m not in texts or original not in texts:
            continue
        aln = against_original.get(m)
        if aln is None:
            aln = align_prepared(prep(original), prep(m), ngram=ngram)
        if marker is None:
            detail_alignments[ids[m]] = compact_alignment(aln)
        else:
            marks = (
                marks_against_original[m]
                if m in marks_against_original
                else marks_of(aln, original, m)
            )
            detail_alignments[ids[m]] = compact_alignment(aln, marks, spans(original), spans(m))
    rows = []
    in_detail = set(detail_members)
    for m, row in zip(job["members"], job["rows"], strict=True):
        row = dict(row, original=m == original)
        if m != original:
            row["jaccard"] = (
                round(jaccard_with_original[m], 4) if m in jaccard_with_original else None
            )
        if ids[m] in detail_alignments:
            row["aligned"] = detail_alignments[ids[m]]["sc"]["aligned_b"]
        if marker is not None and m in texts and m in in_detail:
            # share of the member's characters that are boilerplate
            row["bp"] = round(spans(m).total / max(len(texts[m]), 1), 4)
        rows.append(row)
    detail = {
        "members": rows,
        "texts": {ids[m]: texts[m] for m in detail_members if m in texts},
        "al": detail_alignments,
    }
    return b"".join(line + b"\n" for line in lines), detail, pair_jaccards


def _index_entry(job: dict[str, Any], pair_jaccards: list[float]) -> dict[str, Any]:
    """The cluster's row in the report's list (its chunk number "k" is added by the writer)."""
    orig_meta = job["rows"][job["members"].index(job["original"])]
    return {
        "c": job["c"],
        "n": len(job["members"]),
        "o": orig_meta["id"],
        "t": orig_meta["title"][:TITLE_CHARS],
        "src": sorted({r["source"] for r in job["rows"]}),
        "sim": round(sum(pair_jaccards) / len(pair_jaccards), 4) if pair_jaccards else None,
        "lo": round(min(pair_jaccards), 4) if pair_jaccards else None,
        "rule": job["rule"],
        "ids": [job["ids"][m] for m in job["members"][:INDEX_MEMBER_IDS]],
    }


# The run's view for the worker processes: set before they fork, so a batch sent to a worker is a
# list of cluster numbers, and each worker builds its jobs and reads its texts itself.
_VIEW: _RunView | None = None
# Set (to 1) by the writing process once the report's detail budget is spent: workers that see
# it leave the details of their next batches out (they would be dropped anyway; the outcome does
# not depend on when a worker sees it, see `_Chunks.keep`). Shared memory, made before the fork.
_DETAILS_FULL: Any = None


def _align_batch(
    ngram: int,
    align_all: bool,
    max_detail_members: int,
    marker: BoilerplateMarker | None,
    paths: list[str],
    settings: Settings,
    spool: str,
    batch: tuple[int, list[Any]],
) -> tuple[tuple[str, int, int], int, list[tuple[int, int, bytes]]]:
    """Align batch `number` of clusters, writing its outputs into the `spool` folder itself:
    its alignments.jsonl lines appended to this process's lines file, its report details as
    chunk `number` (`_Chunks`). Returns where its lines are (file, offset, length), the chunk's
    size in bytes (-1: not written), and (cluster, members, list entry as JSON) per cluster.

    The items are (cluster, texts or None) when the run's view is in this process (a forked
    worker, or the parent itself), else jobs built by the parent. Texts not given are read here
    at their records' offsets, so they never travel between processes, nor do the outputs."""
    number, items = batch
    if items and isinstance(items[0], tuple):
        assert _VIEW is not None
        jobs = _VIEW.jobs(items)
    else:
        jobs = items
    with_detail = not (_DETAILS_FULL is not None and _DETAILS_FULL.value)
    lines, details, out = [], [], []
    with RecordFiles(paths) as files:
        for job in jobs:
            if job.get("refs") is not None:
                job["texts"] = files.read_texts(job.pop("refs"), settings)
            cluster_lines, detail, jaccards = _align_cluster(
                ngram, align_all, max_detail_members, marker, job, with_detail
            )
            lines.append(cluster_lines)
            if detail is not None:
                details.append(b'"%d":' % job["c"] + orjson.dumps(detail))
            entry = orjson.dumps(_index_entry(job, jaccards))
            out.append((job["c"], len(job["members"]), entry))
    where = _LinesSpool.append(spool, b"".join(lines))
    size = -1
    if with_detail:
        blob = b"{" + b",".join(details) + b"}"
        size = len(blob)
        path = _chunk_path(Path(spool), number)
        with atomic_path(path) as tmp:
            tmp.write_bytes(_chunk_head(number) + blob + _CHUNK_TAIL)
    return where, size, out


def _warm_up() -> None:
    align("warm up the alignment kernels", "warm up the alignment kernels too")


class _RunView:
    """What building a cluster's job needs of a find run (see `_VIEW`)."""

    def __init__(self, result: FindResult, marker: BoilerplateMarker | None):
        state = result._state
        self.docs, self.pairs, self.clusters = state.docs, state.pairs, state.clusters
        self.store, self.boilerplate = state.store, state.boilerplate
        self.ids = result.ids
        self.source_names = [s.name for s in result.sources]
        self.marker = marker
        pairs = self.pairs
        cluster_of_pair = result._cluster_of[pairs.a] if len(pairs) else np.zeros(0, np.int64)
        self.pair_order = np.argsort(cluster_of_pair, kind="stable")
        self.bounds = np.searchsorted(
            cluster_of_pair[self.pair_order], np.arange(len(self.clusters) + 1)
        )
        docs = self.docs
        self.byte_offset = getattr(docs, "byte_offset_arr", None)
        self.byte_length = getattr(docs, "byte_length_arr", None)
        self.at_offsets = np.zeros(len(self.clusters), bool)
        if (
            self.byte_offset is not None
            and self.byte_length is not None
            and len(self.byte_offset) == len(docs)
            and len(self.clusters)
        ):
            # clusters whose records all have a place in a plain JSONL file: read by the workers
            members = np.concatenate(self.clusters.members).astype(np.int64)
            sizes = np.array([len(m) for m in self.clusters.members], np.int64)
            unknown = np.add.reduceat((self.byte_offset[members] < 0).astype(np.int64),
                                      np.r_[0, np.cumsum(sizes)[:-1]])  # fmt: skip
            self.at_offsets = unknown == 0
        docs.meta.compact()  # once, here, not in each worker

    def size(self, c: int) -> int:
        return int(self.bounds[c + 1] - self.bounds[c]) + len(self.clusters.members[c])

    def member_rows(self, members: np.ndarray) -> list[dict[str, Any]]:
        docs = self.docs
        rows = []
        members = members.astype(np.int64)
        for d, meta in zip(members.tolist(), docs.meta.rows(members), strict=True):
            rows.append(
                {
                    "id": self.ids[d],
                    "source": meta.get("source")
                    or self.source_names[int(docs.source_index_arr[d])],
                    "published": meta.get("published", ""),
                    "title": meta.get("title", ""),
                }
            )
        return rows

    def job(
        self,
        c: int,
        texts: dict[int, str] | None,
        rows: list[dict[str, Any]],
        with_boilerplate: set[int],
    ) -> dict:
        pairs, clusters, docs = self.pairs, self.clusters, self.docs
        members = clusters.members[c].tolist()
        job_pairs = [
            (
                int(pairs.a[p]),
                int(pairs.b[p]),
                float(pairs.jaccard[p]),
                float(pairs.a_in_b[p]),
                float(pairs.b_in_a[p]),
                RULE_NAMES[int(pairs.rule[p])],
            )
            for p in self.pair_order[self.bounds[c] : self.bounds[c + 1]].tolist()
        ]
        return {
            "c": c,
            "original": int(clusters.original[c]),
            "rule": clusters.rule[c],
            "members": members,
            "ids": {m: self.ids[m] for m in members},
            "rows": rows,
            "pairs": job_pairs,
            "texts": texts,
            "refs": None
            if texts is not None
            else record_refs(
                clusters.members[c], docs.source_index_arr, self.byte_offset, self.byte_length,
                docs.n_chars_arr,
            ),
            "bp": {m for m in members if m in with_boilerplate},
        }  # fmt: skip

    def jobs(self, items: list[tuple[int, dict[int, str] | None]]) -> list[dict[str, Any]]:
        # the metadata of the whole batch in one lookup
        members = np.concatenate([self.clusters.members[c] for c, _ in items]).astype(np.int64)
        rows = self.member_rows(members)
        with_boilerplate = self.with_boilerplate(members)
        jobs, at = [], 0
        for c, texts in items:
            n = len(self.clusters.members[c])
            jobs.append(self.job(c, texts, rows[at : at + n], with_boilerplate))
            at += n
        return jobs

    def with_boilerplate(self, members: np.ndarray) -> set[int]:
        """The members whose shingle sets hold at least `min_shingles` boilerplate shingles:
        a run of that many consecutive boilerplate shingles holds as many distinct values
        (unless the text repeats a word or two over and over), so only these texts are
        searched for boilerplate spans."""
        if self.marker is None or self.boilerplate is None or len(members) == 0:
            return set()
        values, offsets = self.store.gather(members)  # pread: only this batch's sets
        counts = count_boilerplate_shingles(
            values, offsets, np.arange(len(members), dtype=np.int64), self.boilerplate
        )
        return set(members[counts >= self.marker.min_shingles].tolist())


class _Alongside:
    """A function run once in a thread; its exception is raised again by `join`."""

    def __init__(self, fn: Callable[[], None] | None):
        self.fn = fn
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            assert self.fn is not None
            self.fn()
        except BaseException as e:  # raised again in the caller's thread
            self.error = e

    def start(self) -> None:
        if self.fn is not None and self.thread is None:
            self.thread = threading.Thread(target=self._run, name="neardup-write", daemon=True)
            self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
            if self.error is not None:
                raise self.error


def write_alignments_and_report(
    result: FindResult,
    out_dir: Path,
    *,
    max_aligned_pairs: int = DEFAULT_MAX_ALIGNED_PAIRS,
    max_detail_members: int = DEFAULT_MAX_DETAIL_MEMBERS,
    max_detail_bytes: int = DEFAULT_MAX_DETAIL_BYTES,
    inline_bytes: int = DEFAULT_INLINE_BYTES,
    workers: int | None = None,
    argv: list[str] | None = None,
    alongside: Callable[[], None] | None = None,
) -> list[str]:
    """Write alignments.jsonl and report.html (and report-data/ when needed) into `out_dir`;
    returns the names written.

    Clusters are aligned in batches by `workers` processes (default: all cores when there are
    at least PARALLEL_FROM_PAIRS pairs, else this process); the output does not depend on it.
    `alongside` (the run's other outputs) runs in a thread of this process while they align,
    started once the workers exist (never fork with a second thread running), and is done
    before the page, which shows its timing, is written.
    """
    global _VIEW, _DETAILS_FULL
    state = result._state
    docs, pairs, clusters = state.docs, state.pairs, state.clusters
    align_all = len(pairs) <= max_aligned_pairs
    # each cluster's list entry as JSON, with its size (the list shows the largest first): bytes
    # rather than dicts, as they pile up in this process while the workers align
    index: list[tuple[int, bytes] | None] = [None] * len(clusters)
    if workers is None:
        workers = default_workers() if len(pairs) >= PARALLEL_FROM_PAIRS else 1
    boilerplate = state.boilerplate
    marker = None
    if boilerplate is not None and len(boilerplate) and len(clusters):
        marker = BoilerplateMarker.of(boilerplate, result.settings)
    # the members whose shingle sets hold enough boilerplate for a span are found batch by
    # batch, where the batch's jobs are built (by the workers, when they fork from here)
    view = _RunView(result, marker)
    # workers that fork from this process see the view: they are sent cluster numbers only
    light = workers <= 1 or "fork" in mp.get_all_start_methods()

    def groups() -> Iterator[tuple[int, dict[int, str] | None]]:
        for c in np.flatnonzero(view.at_offsets).tolist():
            yield c, None
        streamed = np.flatnonzero(~view.at_offsets)
        for g, texts in iter_group_texts(
            result.sources,
            result.settings,
            docs.source_index_arr,
            docs.ordinal_arr,
            [clusters.members[c] for c in streamed.tolist()],
            docs.n_chars_arr,
        ):
            yield int(streamed[g]), texts

    def batches() -> Iterator[tuple[int, list[Any]]]:
        # numbered: the batches (and so the report's chunks) do not depend on the workers
        items: list[tuple[int, dict[int, str] | None]] = []
        size = number = 0
        for c, texts in groups():
            items.append((c, texts))
            size += view.size(c)
            if size >= BATCH_PAIRS:
                yield number, items if light else view.jobs(items)
                items, size, number = [], 0, number + 1
        if items:
            yield number, items if light else view.jobs(items)

    engine = LocalEngine(workers, warmup=_warm_up)
    path = out_dir / "alignments.jsonl"
    if alongside is not None and workers <= 1:
        # one core: a thread would only take turns with the alignment for the GIL
        alongside()
        alongside = None
    beside = _Alongside(alongside)
    # the workers write the lines and the details into a spool folder beside the outputs (same
    # file system: chunks are renamed into place, lines copied in the kernel)
    spool = Path(tempfile.mkdtemp(prefix=".neardup-spool-", dir=out_dir))
    chunks = _Chunks(out_dir, spool, inline_bytes, max_detail_bytes)
    _VIEW = view
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    _DETAILS_FULL = ctx.RawValue("b", 0)
    sources: dict[str, int] = {}
    try:
        with atomic_path(path) as tmp:
            out_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                for done, ((number, _), (where, size, outputs)) in enumerate(
                    engine.map(
                        _align_batch,
                        batches(),
                        lambda b: b,
                        result.settings.ngram,
                        align_all,
                        max_detail_members,
                        marker,
                        [str(source.path) for source in result.sources],
                        result.settings,
                        str(spool),
                    )
                ):
                    beside.start()  # the first results are in: the workers have forked
                    if done % 32 == 31:
                        # the results are unpickled in the pool's thread, whose malloc arena
                        # keeps what they freed (and this process's pages are shared with the
                        # workers')
                        release_memory()
                    lines_path, offset, length = where
                    if lines_path not in sources:
                        sources[lines_path] = os.open(lines_path, os.O_RDONLY)
                    _copy_range(sources[lines_path], out_fd, offset, length)
                    kept = chunks.keep(number, size)
                    if not kept:
                        _DETAILS_FULL.value = 1
                    k = b"%d" % number if kept else b"null"
                    for c, members, entry in outputs:
                        # the entry's last key, "k": the chunk that holds its detail
                        index[c] = (members, b'%s,"k":%s}' % (entry[:-1], k))
            finally:
                os.close(out_fd)
        chunks.place()
        beside.start()
    finally:
        _VIEW = None
        _DETAILS_FULL = None
        for fd in sources.values():
            os.close(fd)
        _LinesSpool.close_all()
        shutil.rmtree(spool, ignore_errors=True)
        beside.join()
    if not chunks.sidecar and chunks.data_dir.is_dir() and not any(chunks.data_dir.iterdir()):
        chunks.data_dir.rmdir()  # left empty by an earlier run
    written = ["alignments.jsonl"]
    write_page(out_dir / "report.html", result, index, chunks, argv)
    written.append("report.html")
    if chunks.sidecar:
        written.append("report-data/")
    return written


# --- the page ------------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files("neardup.report").joinpath(name).read_text(encoding="utf-8")


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element."""
    return _escape_script(orjson.dumps(obj))


def _escape_script(blob: bytes) -> str:
    # "<" only occurs inside JSON strings, where \u003c means the same character
    return blob.decode("utf-8").replace("<", "\\u003c")


def _escape_bytes(blob: bytes) -> bytes:
    """`_escape_script` on UTF-8 bytes (the same bytes, without decoding them)."""
    return blob.replace(b"<", b"\\u003c")


def histogram_svg(
    values: list[float] | np.ndarray, edges: list[float], labels: list[str], title: str, unit: str
) -> str:
    """An inline SVG bar chart of how many values fall in each [edges[i], edges[i+1])."""
    counts = (
        np.histogram(np.asarray(values, np.float64), bins=np.asarray(edges, np.float64))[0]
        if len(values)
        else np.zeros(len(edges) - 1, int)
    )
    width, height, left, bottom, top = 420, 190, 46, 34, 22
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(int(counts.max()) if len(counts) else 0, 1)
    bar_w = plot_w / len(counts)
    parts = [
        f'<svg class="hist" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="14" class="hist-title">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 4}" class="tick" text-anchor="end">{peak:,}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" class="tick" text-anchor="end">0</text>',
    ]
    for i, count in enumerate(counts.tolist()):
        h = plot_h * count / peak
        x = left + i * bar_w
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" class="bar">'
            f"<title>{html.escape(labels[i])}: {count:,} {unit}</title></rect>"
        )
    step = max(1, math.ceil(len(labels) / 8))
    for i in range(0, len(labels), step):
        x = left + (i + 0.5) * bar_w
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 14}" class="tick" text-anchor="middle">{html.escape(labels[i])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _histograms(result: FindResult) -> str:
    jaccard = result._state.pairs.jaccard
    sim_edges = [i / 20 for i in range(21)]
    sim_edges[-1] = 1.0000001
    sim_labels = [f"{e:.2f}" for e in sim_edges[:-1]]
    sizes = [len(m) for m in result._state.clusters.members]
    size_edges = [2, 3, 4, 5, 6, 11, 21, 51, 101, 1_000_000_000]
    size_labels = ["2", "3", "4", "5", "6-10", "11-20", "21-50", "51-100", ">100"]
    return histogram_svg(
        jaccard, sim_edges, sim_labels, "Pair similarity (Jaccard of shingles)", "pairs"
    ) + histogram_svg(sizes, size_edges, size_labels, "Cluster size (documents)", "clusters")


def write_page(
    path: Path,
    result: FindResult,
    index: list[tuple[int, bytes] | None],
    chunks: _Chunks,
    argv: list[str] | None,
) -> None:
    """Write report.html: the template with its placeholders filled, part by part (the inline
    chunks alone are megabytes: the page is never held whole in memory)."""
    counts = result.counts
    summary = {
        "counts": counts,
        "settings": result.settings.to_dict(),
        "inputs": [s.name for s in result.sources],
        "command": " ".join(argv) if argv else None,
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }
    # largest clusters first, then by number
    entries = [(-row[0], c, row[1]) for c, row in enumerate(index) if row is not None]
    entries.sort()

    def index_json() -> Iterator[bytes]:
        yield b"["
        for k, (_, _, entry) in enumerate(entries):
            yield b"," + entry if k else entry
        yield b"]"

    def inline() -> Iterator[bytes]:
        for k, (n, blob) in enumerate(chunks.inline):
            head = b'<script type="application/json" class="nd-chunk" data-chunk="%d">' % n
            yield (b"\n" if k else b"") + head + _escape_bytes(blob) + b"</script>"

    parts: dict[str, Callable[[], Iterator[bytes]]] = {
        "/*CSS*/": lambda: iter([_asset("report.css").encode()]),
        "<!--HISTOGRAMS-->": lambda: iter([_histograms(result).encode()]),
        "/*SUMMARY*/null": lambda: iter([_script_json(summary).encode()]),
        "/*INDEX*/[]": lambda: (_escape_bytes(b) for b in index_json()),
        "<!--CHUNKS-->": inline,
        "/*JS*/": lambda: iter([_asset("report.js").encode()]),
    }
    # one pass over the template, so that text inside the data is never taken for a placeholder
    template = _asset("template.html")
    pattern = re.compile("|".join(re.escape(k) for k in parts))
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        at = 0
        for m in pattern.finditer(template):
            f.write(template[at : m.start()].encode())
            for blob in parts[m.group(0)]():
                f.write(blob)
            at = m.end()
        f.write(template[at:].encode())


def iter_alignment_records(path: Path) -> Iterator[dict[str, Any]]:
    """Read alignments.jsonl back (for tests and tools)."""
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)
