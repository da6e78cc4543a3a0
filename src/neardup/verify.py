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
import mmap
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numba as nb
import numpy as np

from neardup.arrays import unique
from neardup.config import Settings

RULE_EXACT, RULE_JACCARD, RULE_CONTAINMENT = 0, 1, 2
RULE_NAMES = ("exact", "jaccard", "containment")


class ShingleStore:
    """Append-only store of sorted shingle sets, one per document number, on disk."""

    def __init__(self, directory: str | os.PathLike[str] | None = None):
        fd, name = tempfile.mkstemp(prefix="neardup-shingles-", suffix=".u32", dir=directory)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._offsets = [np.zeros(1, np.int64)]
        self._end = 0

    def append(self, values: np.ndarray, offsets: np.ndarray) -> None:
        """Add the sets values[offsets[i]:offsets[i+1]] as the next documents."""
        values.astype(np.uint32, copy=False).tofile(self._file)
        self._offsets.append(offsets[1:] - offsets[0] + self._end)
        self._end += int(offsets[-1] - offsets[0])

    @property
    def offsets(self) -> np.ndarray:
        if len(self._offsets) > 1:
            self._offsets = [np.concatenate(self._offsets)]
        return self._offsets[0]

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def values(self) -> np.ndarray:
        """All values, memory-mapped (read-only)."""
        self._file.flush()
        if self._end == 0:
            return np.zeros(0, np.uint32)
        with open(self.path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return np.frombuffer(mm, dtype=np.uint32, count=self._end)

    def gather(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sets of `docs` read into one compact array, with offsets (doc k's set is
        values[off[k]:off[k + 1]]). Reads with pread, so the memory used is the compact array,
        not the pages of a mapping of the whole store."""
        self._file.flush()
        off = self.offsets
        sizes = off[docs + 1] - off[docs]
        out_off = np.zeros(len(docs) + 1, np.int64)
        np.cumsum(sizes, out=out_off[1:])
        out = np.empty(int(out_off[-1]), np.uint32)
        view = memoryview(out).cast("B")
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for k, (start, n) in enumerate(zip(off[docs].tolist(), sizes.tolist(), strict=True)):
                if n:
                    o = int(out_off[k]) * 4
                    os.preadv(fd, [view[o : o + 4 * n]], start * 4)
        finally:
            os.close(fd)
        return out, out_off

    def get(self, doc: int) -> np.ndarray:
        off = self.offsets
        return self.values()[off[doc] : off[doc + 1]]

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)

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
) -> VerifiedPairs:
    """`verify_pairs` over sets kept in a ShingleStore, reading back only the sets of the pairs'
    documents, a bounded number of documents at a time (memory stays a few tens of MB)."""
    parts = []
    start = 0
    n = len(pairs)
    while start < n:
        # grow the chunk until it involves about chunk_docs distinct documents
        end = min(n, start + chunk_docs // 2)
        docs = unique(pairs[start:end].ravel())
        while end < n and len(docs) < chunk_docs:
            end = min(n, end + chunk_docs // 2)
            docs = unique(pairs[start:end].ravel())
        values, offsets = store.gather(docs)
        local = np.searchsorted(docs, pairs[start:end])
        part = verify_pairs(local, values, offsets, settings, exclude=exclude)
        part.a, part.b = docs[part.a], docs[part.b]
        parts.append(part)
        start = end
    return VerifiedPairs.concat(parts)
