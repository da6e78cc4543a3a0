"""Verification: exact Jaccard and containment of candidate pairs, on their shingle sets.

Sketches only propose; every reported pair is measured on the exact shingle sets, so precision
against the stated rule is 1.0 by construction. For sets A and B with I = |A & B|:

    jaccard = I / (|A| + |B| - I)      containment(A in B) = I / |A|

A pair is a duplicate when jaccard >= threshold ("jaccard"), or when the smaller side's
containment in the other reaches `containment` ("containment") and that side has at least
`min_containment_shingles` shingles.

Shingle sets are kept out of memory in a `ShingleStore` (a flat uint32 file with offsets), and
verification reads them back through a memory map: memory grows with the number of documents, not
with their text.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np

from neardup.arrays import unique
from neardup.config import Settings

RULE_EXACT, RULE_JACCARD, RULE_CONTAINMENT = 0, 1, 2
RULE_NAMES = ("exact", "jaccard", "containment")


@dataclass(frozen=True)
class Spooled:
    """Shingle sets a worker process wrote to its own spool file (`spool_sets`): values
    [byte_offset, byte_offset + 4 * count) of `path`, laid out as the batch's set_values."""

    path: str
    byte_offset: int
    count: int


_spool_files: dict[str, int] = {}  # this process's spool file in each directory: its descriptor


def spool_sets(directory: str, values: np.ndarray) -> Spooled:
    """Append a batch's set values to this process's spool file in `directory` (a worker does
    this so that the sets reach the parent's store without going through a pipe)."""
    path = os.path.join(directory, f"spool-{os.getpid()}.u32")
    fd = _spool_files.get(path)
    if fd is None:
        fd = _spool_files[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    data = memoryview(np.ascontiguousarray(values, np.uint32)).cast("B")
    at = os.lseek(fd, 0, os.SEEK_END)
    while data:
        data = data[os.write(fd, data) :]
    return Spooled(path, at, len(values))


class ShingleStore:
    """Append-only store of sorted shingle sets, one per document number, on disk.

    A document's set is `count` uint32 values at a byte position of one of the store's files:
    its own file (`append`) or a worker's spool file (`append_spooled`). `offsets` numbers the
    values as if they were one array (document i's set is values i of `offsets[i]` to
    `offsets[i + 1]`), which is what the stages' kernels index."""

    def __init__(self, directory: str | os.PathLike[str] | None = None):
        self.directory = tempfile.mkdtemp(prefix="neardup-shingles-", dir=directory)
        self.path = Path(self.directory) / "sets.u32"
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._paths = [str(self.path)]
        self._offsets = [np.zeros(1, np.int64)]
        self._pos: list[np.ndarray] = []  # byte position of each document's set in its file
        self._file_of: list[np.ndarray] = []  # which file (index into _paths)
        self._end = 0  # values in all
        self._own_bytes = 0
        self._lock = threading.Lock()

    def _add(self, file: int, positions: np.ndarray, sizes: np.ndarray) -> None:
        self._pos.append(positions)
        self._file_of.append(np.full(len(sizes), file, np.int16))
        self._offsets.append(np.cumsum(sizes) + self._end)
        self._end += int(sizes.sum())

    def append(self, values: np.ndarray, offsets: np.ndarray) -> None:
        """Add the sets values[offsets[i]:offsets[i+1]] as the next documents."""
        values = values.astype(np.uint32, copy=False)
        values[offsets[0] : offsets[-1]].tofile(self._file)
        starts = offsets[:-1] - offsets[0]
        self._add(0, self._own_bytes + 4 * starts, np.diff(offsets))
        self._own_bytes += 4 * int(offsets[-1] - offsets[0])

    def append_spooled(self, spooled: Spooled, offsets: np.ndarray, rows: np.ndarray) -> None:
        """Add as the next documents the sets of `rows` of a spooled batch whose set_values had
        the offsets `offsets`."""
        if spooled.path not in self._paths:
            self._paths.append(spooled.path)
        file = self._paths.index(spooled.path)
        starts = offsets[rows]
        self._add(file, spooled.byte_offset + 4 * starts, offsets[rows + 1] - starts)

    @property
    def offsets(self) -> np.ndarray:
        with self._lock:
            if len(self._offsets) > 1:
                self._offsets = [np.concatenate(self._offsets)]
            return self._offsets[0]

    def _places(self) -> tuple[np.ndarray, np.ndarray]:
        # stages gather from several threads at once: the two lists are joined under a lock so
        # that no thread sees one joined and the other not
        with self._lock:
            if len(self._pos) != 1:
                self._pos = [np.concatenate(self._pos) if self._pos else np.zeros(0, np.int64)]
                self._file_of = [
                    np.concatenate(self._file_of) if self._file_of else np.zeros(0, np.int16)
                ]
            return self._pos[0], self._file_of[0]

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def gather(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sets of `docs` read into one compact array, with offsets (doc k's set is
        values[off[k]:off[k + 1]]). Reads with pread, so the memory used is the compact array,
        not the pages of a mapping of the whole store."""
        self._file.flush()
        docs = np.asarray(docs, np.int64)
        off = self.offsets
        positions, files = self._places()
        sizes = off[docs + 1] - off[docs]
        out_off = np.zeros(len(docs) + 1, np.int64)
        np.cumsum(sizes, out=out_off[1:])
        out = np.empty(int(out_off[-1]), np.uint32)
        view = memoryview(out).cast("B")
        fds = [os.open(path, os.O_RDONLY) for path in self._paths]
        try:
            for k, (at, n, f) in enumerate(
                zip(positions[docs].tolist(), sizes.tolist(), files[docs].tolist(), strict=True)
            ):
                if n:
                    o = int(out_off[k]) * 4
                    os.preadv(fds[f], [view[o : o + 4 * n]], at)
        finally:
            for fd in fds:
                os.close(fd)
        return out, out_off

    def get(self, doc: int) -> np.ndarray:
        return self.gather(np.array([doc], np.int64))[0]

    def close(self) -> None:
        self._file.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


@nb.njit(cache=True, nogil=True)
def intersection_sizes(values, offsets, a, b):
    """|set(a[i]) & set(b[i])| for each pair, by merging the sorted sets."""
    out = np.empty(len(a), np.int64)
    for p in range(len(a)):
        i, i_end = offsets[a[p]], offsets[a[p] + 1]
        j, j_end = offsets[b[p]], offsets[b[p] + 1]
        n = 0
        while i < i_end and j < j_end:
            x, y = values[i], values[j]
            if x == y:
                n += 1
                i += 1
                j += 1
            elif x < y:
                i += 1
            else:
                j += 1
        out[p] = n
    return out


@dataclass
class VerifiedPairs:
    """Pairs with their exact scores; rule is one of RULE_* (see RULE_NAMES)."""

    a: np.ndarray
    b: np.ndarray
    jaccard: np.ndarray
    a_in_b: np.ndarray
    b_in_a: np.ndarray
    rule: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    @staticmethod
    def empty() -> VerifiedPairs:
        z = np.zeros(0, np.int64)
        f = np.zeros(0, np.float64)
        return VerifiedPairs(z, z, f, f, f, np.zeros(0, np.int8))

    @staticmethod
    def concat(parts: list[VerifiedPairs]) -> VerifiedPairs:
        parts = [p for p in parts if len(p)]
        if not parts:
            return VerifiedPairs.empty()
        return VerifiedPairs(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("a", "b", "jaccard", "a_in_b", "b_in_a", "rule")
            )
        )

    def sorted(self) -> VerifiedPairs:
        order = np.lexsort((self.b, self.a))
        return VerifiedPairs(
            *(getattr(self, f)[order] for f in ("a", "b", "jaccard", "a_in_b", "b_in_a", "rule"))
        )


def _overlap(
    pairs: np.ndarray, values: np.ndarray, offsets: np.ndarray, exclude: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|A & B|, |A|, |B| per pair, without the `exclude` values (boilerplate) when given."""
    a, b = pairs[:, 0], pairs[:, 1]
    if exclude is not None and len(exclude):
        from neardup.boilerplate import masked_overlap

        return masked_overlap(values, offsets, a, b, exclude)
    return (
        intersection_sizes(values, offsets, a, b),
        offsets[a + 1] - offsets[a],
        offsets[b + 1] - offsets[b],
    )


def _ratios(inter: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> tuple[np.ndarray, ...]:
    inter, size_a, size_b = (x.astype(np.float64) for x in (inter, size_a, size_b))
    union = size_a + size_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = np.where(union > 0, inter / union, 0.0)
        a_in_b = np.where(size_a > 0, inter / size_a, 0.0)
        b_in_a = np.where(size_b > 0, inter / size_b, 0.0)
    return jaccard, a_in_b, b_in_a


def score_pairs(
    pairs: np.ndarray, values: np.ndarray, offsets: np.ndarray, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Exact (jaccard, a_in_b, b_in_a) for an (n, 2) array of document numbers; shingle values
    in `exclude` (sorted uint32: boilerplate, see neardup.boilerplate) do not count."""
    return _ratios(*_overlap(pairs, values, offsets, exclude))


def verify_pairs(
    pairs: np.ndarray,
    values: np.ndarray,
    offsets: np.ndarray,
    settings: Settings,
    exclude: np.ndarray | None = None,
) -> VerifiedPairs:
    """Keep the candidate pairs that satisfy the duplicate rule, with their scores (computed
    without the shingle values in `exclude`, when given)."""
    if len(pairs) == 0:
        return VerifiedPairs.empty()
    inter, size_a, size_b = _overlap(pairs, values, offsets, exclude)
    jaccard, a_in_b, b_in_a = _ratios(inter, size_a, size_b)
    a, b = pairs[:, 0], pairs[:, 1]
    contained = (
        (a_in_b >= settings.containment) & (size_a >= settings.min_containment_shingles)
    ) | ((b_in_a >= settings.containment) & (size_b >= settings.min_containment_shingles))
    by_jaccard = jaccard >= settings.threshold
    keep = by_jaccard | contained
    rule = np.where(by_jaccard, RULE_JACCARD, RULE_CONTAINMENT).astype(np.int8)
    return VerifiedPairs(a[keep], b[keep], jaccard[keep], a_in_b[keep], b_in_a[keep], rule[keep])


def verify_stored_pairs(
    pairs: np.ndarray,
    store: ShingleStore,
    settings: Settings,
    exclude: np.ndarray | None = None,
    chunk_docs: int = 50_000,
    threads: int | None = None,
) -> VerifiedPairs:
    """`verify_pairs` over sets kept in a ShingleStore, reading back only the sets of the pairs'
    documents, a bounded number of documents at a time (memory stays a few tens of MB), the
    chunks in `threads` threads (default: one per core; reading and the kernels release the
    GIL; the result is in the pairs' order whatever the threads)."""
    n = len(pairs)
    threads = threads or min(os.cpu_count() or 1, 2)
    # at most chunk_docs documents a chunk (two a pair), and chunks for every thread
    per_chunk = max(1, min(chunk_docs // 2, -(-n // (2 * threads))))
    bounds = [*range(0, n, per_chunk), n]

    def verify_chunk(span: tuple[int, int]) -> VerifiedPairs:
        chunk = pairs[span[0] : span[1]]
        docs = unique(chunk.ravel())
        values, offsets = store.gather(docs)
        part = verify_pairs(np.searchsorted(docs, chunk), values, offsets, settings, exclude)
        part.a, part.b = docs[part.a], docs[part.b]
        return part

    spans = list(itertools.pairwise(bounds))
    if threads > 1 and len(spans) > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(verify_chunk, spans))
    else:
        parts = [verify_chunk(span) for span in spans]
    return VerifiedPairs.concat(parts) if parts else VerifiedPairs.empty()
