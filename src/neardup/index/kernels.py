"""Compiled helpers of the index's writer (`neardup.index.store`): whole-batch array passes that
replace numpy chains of repeat/unique over every posting of a batch.

Each function gives the same result as the numpy code it replaced (the tests compare the index
with `find`); they only avoid the temporary arrays and numpy's hash-based `unique`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from neardup.candidates import _group_bounds, _kept_pairs

U64 = np.uint64


@nb.njit(cache=True, nogil=True)
def _new_group_pair_codes(codes, starts, ends, first_new, among_new):
    """Over sorted codes (anchor << 32 | document) and the runs codes[starts[g]:ends[g]] of one
    anchor (`neardup.candidates._group_bounds`), the (earlier << 32 | later) code of every pair
    of documents of a run whose later member is new (number >= first_new), one per shared
    anchor; with among_new False the earlier one must be indexed (< first_new)."""
    lo_mask = U64(0xFFFFFFFF)
    fn = U64(first_new)
    # pass 1: how many pairs; pass 2: write them
    total = 0
    for fill in range(2):
        out = np.empty(total if fill else 0, np.uint64)
        k = 0
        for g in range(len(starts)):
            i, j = starts[g], ends[g]
            for y in range(i + 1, j):
                later = codes[y] & lo_mask
                if later < fn:
                    continue
                for x in range(i, y):
                    earlier = codes[x] & lo_mask
                    if not among_new and earlier >= fn:
                        break  # sorted by document: the rest are new too
                    if fill:
                        out[k] = (earlier << U64(32)) | later
                    k += 1
        total = k
    return out


def anchor_pairs(
    values: np.ndarray,
    owners: np.ndarray,
    anchor_counts: np.ndarray,
    first_new: int,
    max_df: int,
    min_ratio: float,
    among_new: bool,
) -> np.ndarray:
    """Candidate pairs (a < b, sorted unique (n, 2) int64) of `find`'s anchor rule over postings
    (values[i] held by document owners[i], which has anchor_counts[i] anchors; a document holds
    an anchor once): documents sharing anchors held by at most max_df documents, the shared ones
    covering min_ratio of the smaller document's anchors; b is a new document (>= first_new), and
    a is too only if among_new.

    Method: one sort of the (anchor << 32 | document) codes (document numbers fit 32 bits, as in
    the postings), the runs of one anchor held by 2 to max_df documents found as `find` finds
    them (`neardup.candidates._group_bounds`), the pairs of each run emitted as codes by a
    compiled pass, one sort of those, and the runs counted (`neardup.candidates._kept_pairs`, as
    `find` counts them)."""
    if len(values) == 0:
        return np.zeros((0, 2), np.int64)
    owners = np.asarray(owners, np.int64)
    counts_of = np.zeros(int(owners.max()) + 1, np.int64)  # 8 bytes a document number
    counts_of[owners] = anchor_counts
    codes = (np.asarray(values, np.uint64) << U64(32)) | owners.astype(np.uint64)
    codes.sort()
    starts, ends = _group_bounds(codes, max_df)
    pair_codes = _new_group_pair_codes(codes, starts, ends, first_new, among_new)
    if len(pair_codes) == 0:
        return np.zeros((0, 2), np.int64)
    pair_codes.sort()
    lo, hi = _kept_pairs(pair_codes, counts_of, float(min_ratio))
    return np.stack([lo, hi], axis=1)


@nb.njit(cache=True, nogil=True)
def _gather_spans(data, starts, sizes):
    """The byte spans data[starts[i] : starts[i] + sizes[i]] copied end to end, and where each
    begins in the result (offsets, len(starts) + 1)."""
    offsets = np.zeros(len(starts) + 1, np.int64)
    for i in range(len(starts)):
        offsets[i + 1] = offsets[i] + sizes[i]
    out = np.empty(offsets[-1], np.uint8)
    for i in range(len(starts)):
        out[offsets[i] : offsets[i + 1]] = data[starts[i] : starts[i] + sizes[i]]
    return out, offsets


def gather_sets(
    data: np.ndarray, at: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shingle sets stored at byte offsets `at` (counts[i] uint32 values each, not necessarily
    4-byte aligned) of the bytes `data`, as one (values, offsets) ragged array: what reading
    them one slice at a time gave, without a Python call per set (boilerplate detection reads
    hundreds of indexed pages per site and batch)."""
    at = np.asarray(at, np.int64)
    counts = np.asarray(counts, np.int64)
    raw, byte_offsets = _gather_spans(data, at, 4 * counts)
    return raw.view(np.uint32), byte_offsets // 4
