"""Candidate pairs: which documents are worth verifying, from their sketches alone.

Two generators, whose union is verified exactly (`neardup.verify`):

1. LSH banding of MinHash signatures, for pairs of high Jaccard similarity. The signature is cut
   into b bands of r rows; documents that agree on every row of some band share a bucket. A pair
   of Jaccard s is proposed with probability 1 - (1 - s^r)^b; `neardup.config.lsh_params`
   chooses (b, r) from the threshold so a pair at the threshold is proposed with probability
   >= 0.98 by default.

2. An inverted index of containment anchors (`neardup.sketch`), for pairs where one document is
   mostly contained in the other: an abridged reprint (the first third of a wire story) has a
   Jaccard of about 0.33 with the full story, far below any useful LSH threshold, yet almost all
   of its anchors are also anchors of the full story. Documents that share anchors are counted
   per pair, and a pair is proposed when the shared anchors cover at least `anchor_min_ratio` of
   the smaller document's anchors. We chose hash-sampled anchors over prefix or paragraph
   sketches because they do not depend on where the copied passage starts or on paragraph breaks
   (which scrapers mangle), and over a full inverted index of all shingles because sampling one
   in 16 keeps the index 16 times smaller while a copied passage of 100 words still shares ~6
   anchors. Anchors held by more than `anchor_max_df` documents (boilerplate, stock phrases) are
   left out, which bounds the work per anchor.

Large LSH buckets (thousands of near-identical pages) would make all-pairs quadratic; a bucket
larger than `max_bucket` proposes each member with its next `max_bucket // 8` neighbours in the
bucket instead, which keeps the bucket connected for clustering.

Pairs are returned as int64 (n, 2) arrays of document numbers with a < b, sorted and unique.
"""

from __future__ import annotations

import itertools

import numba as nb
import numpy as np

from neardup.arrays import unique
from neardup.boilerplate import excluded_bitmap, is_excluded
from neardup.text import mix64

U64 = np.uint64


@nb.njit(cache=True, nogil=True)
def band_keys(signatures, bands, rows):
    """(n, bands) uint64: one hash per band of each signature."""
    n = signatures.shape[0]
    keys = np.empty((n, bands), np.uint64)
    for i in range(n):
        for b in range(bands):
            h = U64(0x9E3779B97F4A7C15) ^ U64(b)
            for r in range(rows):
                h = mix64(h ^ U64(signatures[i, b * rows + r]))
            keys[i, b] = h
    return keys


def band_keys32(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint32: the high half of each `band_keys` hash (the compact form the find
    pipeline keeps instead of the signatures; a chance collision only adds a candidate, which
    verification then rejects)."""
    return (band_keys(signatures, bands, rows) >> U64(32)).astype(np.uint32)


@nb.njit(cache=True, nogil=True)
def _pack(keys, members):
    out = np.empty(len(keys), np.uint64)
    for i in range(len(keys)):
        out[i] = (U64(keys[i]) << U64(32)) | U64(members[i])
    return out


@nb.njit(cache=True, nogil=True)
def _code_group_pairs(codes, max_group, neighbours, out_a, out_b):
    """Pairs of members sharing a key, over sorted codes (key << 32 | member): all pairs of a
    group of at most max_group, else each member with its next `neighbours`; -1 when out is full."""
    n = len(codes)
    n_out = 0
    i = 0
    hi_mask = U64(0xFFFFFFFF00000000)
    lo_mask = U64(0xFFFFFFFF)
    while i < n:
        key = codes[i] & hi_mask
        j = i + 1
        while j < n and (codes[j] & hi_mask) == key:
            j += 1
        size = j - i
        if size >= 2 and (size <= max_group or neighbours > 0):
            reach = j if size <= max_group else 0
            for x in range(i, j):
                end = reach if reach else min(j, x + 1 + neighbours)
                for y in range(x + 1, end):
                    if n_out >= len(out_a):
                        return -1
                    out_a[n_out] = np.int64(codes[x] & lo_mask)
                    out_b[n_out] = np.int64(codes[y] & lo_mask)
                    n_out += 1
        i = j
    return n_out


def pairs_sharing_keys(
    keys: np.ndarray, members: np.ndarray, max_group: int, neighbours: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of members (document numbers < 2**32) that share a uint32 key; one sort of packed
    64-bit codes, so memory is 8 bytes per (key, member) entry."""
    codes = _pack(keys.astype(np.uint32, copy=False), members.astype(np.int64, copy=False))
    codes.sort()
    capacity = max(1024, 4 * len(codes))
    while True:
        out_a = np.empty(capacity, np.int64)
        out_b = np.empty(capacity, np.int64)
        n = _code_group_pairs(codes, max_group, neighbours, out_a, out_b)
        if n >= 0:
            return out_a[:n], out_b[:n]
        capacity *= 4


def lsh_candidates_from_keys(
    keys: np.ndarray,
    doc_numbers: np.ndarray,
    max_bucket: int = 64,
    *,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """LSH candidates from per-band uint32 keys (see `band_keys32`): pairs sharing a bucket.
    Document doc_numbers[i] has the keys of row rows[i] (default: row i): a subset of a
    corpus's documents is read in place, one band at a time, instead of copied."""
    if len(doc_numbers) < 2:
        return np.zeros((0, 2), np.int64)
    all_a, all_b = [], []
    for band in range(keys.shape[1]):
        column = keys[:, band] if rows is None else keys[rows, band]
        a, b = pairs_sharing_keys(column, doc_numbers, max_bucket, max(1, max_bucket // 8))
        # one band at a time, deduplicated as we go, keeps the pair lists small
        merged = _normalize_pairs(a, b)
        all_a.append(merged[:, 0])
        all_b.append(merged[:, 1])
    return _normalize_pairs(np.concatenate(all_a), np.concatenate(all_b))


def _normalize_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    code = unique((lo[keep].astype(np.uint64) << U64(32)) | hi[keep].astype(np.uint64))
    return np.stack(
        [(code >> U64(32)).astype(np.int64), (code & U64(0xFFFFFFFF)).astype(np.int64)], axis=1
    )


def lsh_candidates(
    signatures: np.ndarray, doc_numbers: np.ndarray, bands: int, rows: int, max_bucket: int = 64
) -> np.ndarray:
    """Pairs of documents whose signatures agree on all rows of at least one band."""
    return lsh_candidates_from_keys(band_keys32(signatures, bands, rows), doc_numbers, max_bucket)


@nb.njit(cache=True, nogil=True)
def _anchor_codes(values, offsets, rows, doc_numbers, exclude, bits):
    """(anchor << 32 | document) codes of the given rows' anchors that are not in `exclude`
    (sorted; `bits`: its `excluded_bitmap`), and each row's count of them."""
    total = 0
    for k in range(len(rows)):
        total += offsets[rows[k] + 1] - offsets[rows[k]]
    codes = np.empty(total, np.uint64)
    counts = np.zeros(len(rows), np.int64)
    n = 0
    for k in range(len(rows)):
        d = U64(doc_numbers[k])
        for t in range(offsets[rows[k]], offsets[rows[k] + 1]):
            v = values[t]
            if is_excluded(v, exclude, bits):
                continue
            codes[n] = (U64(v) << U64(32)) | d
            n += 1
            counts[k] += 1
    return codes[:n], counts


@nb.njit(cache=True, nogil=True)
def _group_bounds(codes, max_group):
    """Start and end of each run of codes with one anchor and 2 to max_group documents."""
    hi_mask = U64(0xFFFFFFFF00000000)
    starts, ends = [], []
    i, n = 0, len(codes)
    while i < n:
        key = codes[i] & hi_mask
        j = i + 1
        while j < n and (codes[j] & hi_mask) == key:
            j += 1
        if 2 <= j - i <= max_group:
            starts.append(i)
            ends.append(j)
        i = j
    return np.array(starts, np.int64), np.array(ends, np.int64)


@nb.njit(cache=True, nogil=True)
def _pairs_per_first(codes, starts, ends, n_docs):
    """How many pairs each document is the smaller of (pairs of members of each group)."""
    out = np.zeros(n_docs, np.int64)
    lo_mask = U64(0xFFFFFFFF)
    for g in range(len(starts)):
        for x in range(starts[g], ends[g]):
            out[np.int64(codes[x] & lo_mask)] += ends[g] - 1 - x
    return out


@nb.njit(cache=True, nogil=True)
def _part_pairs(codes, starts, ends, first_lo, first_hi, size):
    """(lo << 32 | hi) codes of the group pairs whose smaller document is in [first_lo,
    first_hi), one per shared anchor."""
    out = np.empty(size, np.uint64)
    lo_mask = U64(0xFFFFFFFF)
    n = 0
    for g in range(len(starts)):
        for x in range(starts[g], ends[g]):
            a = codes[x] & lo_mask
            if first_lo <= a < first_hi:
                for y in range(x + 1, ends[g]):
                    out[n] = (a << U64(32)) | (codes[y] & lo_mask)
                    n += 1
    return out[:n]


@nb.njit(cache=True, nogil=True)
def _kept_pairs(sorted_codes, anchors_of, min_ratio):
    """Distinct pairs of sorted pair codes whose count (shared anchors) covers min_ratio of the
    smaller document's anchors."""
    lo_out = np.empty(len(sorted_codes), np.int64)
    hi_out = np.empty(len(sorted_codes), np.int64)
    lo_mask = U64(0xFFFFFFFF)
    n, i = 0, 0
    while i < len(sorted_codes):
        j = i + 1
        while j < len(sorted_codes) and sorted_codes[j] == sorted_codes[i]:
            j += 1
        lo = np.int64(sorted_codes[i] >> U64(32))
        hi = np.int64(sorted_codes[i] & lo_mask)
        smaller = min(anchors_of[lo], anchors_of[hi])
        if j - i >= max(1.0, np.ceil(min_ratio * smaller)):
            lo_out[n] = lo
            hi_out[n] = hi
            n += 1
        i = j
    return lo_out[:n], hi_out[:n]


ANCHOR_PART_PAIRS = 1 << 23  # pair codes sorted at once (64 MB): bounds the stage's memory


def anchor_candidates(
    anchor_values: np.ndarray,
    anchor_offsets: np.ndarray,
    doc_numbers: np.ndarray,
    min_ratio: float = 0.5,
    max_df: int = 500,
    *,
    rows: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Pairs of documents whose shared anchors cover `min_ratio` of the smaller one's anchors.

    Document doc_numbers[i] has the anchors anchor_values[anchor_offsets[r]:anchor_offsets[r + 1]]
    of row r = rows[i] (default: row i), unique per document; anchors in `exclude` (sorted: the
    boilerplate) do not count. The pairs of each shared anchor are counted in parts of at most
    ANCHOR_PART_PAIRS (by the smaller document), so memory does not grow with how many anchors
    the corpus shares.
    """
    doc_numbers = np.asarray(doc_numbers, np.int64)
    rows = np.arange(len(doc_numbers), dtype=np.int64) if rows is None else rows.astype(np.int64)
    excluded = np.zeros(0, np.uint32) if exclude is None else exclude.astype(np.uint32)
    if len(doc_numbers) == 0:
        return np.zeros((0, 2), np.int64)
    codes, counts = _anchor_codes(
        anchor_values.astype(np.uint32, copy=False),
        anchor_offsets.astype(np.int64, copy=False),
        rows,
        doc_numbers,
        excluded,
        excluded_bitmap(excluded),
    )
    codes.sort()
    starts, ends = _group_bounds(codes, max_df)
    n_docs = int(doc_numbers.max()) + 1
    anchors_of = np.zeros(n_docs, np.int64)
    anchors_of[doc_numbers] = counts
    per_first = _pairs_per_first(codes, starts, ends, n_docs)
    # parts of consecutive smaller documents, each with at most ANCHOR_PART_PAIRS pairs (or one
    # document, however many it has)
    cumulative = np.cumsum(per_first)
    bounds = [0]
    while bounds[-1] < n_docs:
        done = cumulative[bounds[-1] - 1] if bounds[-1] else 0
        nxt = int(np.searchsorted(cumulative, done + ANCHOR_PART_PAIRS, side="right"))
        bounds.append(min(n_docs, max(nxt, bounds[-1] + 1)))
    kept_lo, kept_hi = [], []
    for first_lo, first_hi in itertools.pairwise(bounds):
        size = int(cumulative[first_hi - 1] - (cumulative[first_lo - 1] if first_lo else 0))
        if size == 0:
            continue
        part = _part_pairs(codes, starts, ends, first_lo, first_hi, size)
        part.sort()
        lo, hi = _kept_pairs(part, anchors_of, float(min_ratio))
        kept_lo.append(lo)
        kept_hi.append(hi)
    if not kept_lo:
        return np.zeros((0, 2), np.int64)
    return np.stack([np.concatenate(kept_lo), np.concatenate(kept_hi)], axis=1)


def merge_pairs(*pair_arrays: np.ndarray) -> np.ndarray:
    """Union of pair arrays, sorted and unique."""
    arrays = [p for p in pair_arrays if len(p)]
    if not arrays:
        return np.zeros((0, 2), np.int64)
    both = np.concatenate(arrays)
    return _normalize_pairs(both[:, 0], both[:, 1])
