"""Shingles: the hashes of every run of `ngram` consecutive tokens of a document.

A shingle's hash combines its token hashes in order (so "a b" and "b a" differ) and is mixed with
the run's seed, so the same seed gives the same shingles everywhere. A document shorter than
`ngram` tokens has a single shingle made of all its tokens, so short texts can still match.

Two documents are compared on their shingle SETS: Jaccard |A & B| / |A | B| says how alike they
are, containment |A & B| / |A| how much of A is inside B. Sets are stored as sorted, unique uint32
values (the high half of the 64-bit shingle hash): with a few thousand shingles per document the
chance that two different shingles of a pair collide is about n^2 / 2^32, i.e. negligible.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from neardup.text import FNV_PRIME, mix64

U64 = np.uint64
S32 = U64(32)
ROT = U64(27)
ROT_BACK = U64(37)


@nb.njit
def seed_mix(seed):
    return mix64(U64(seed) ^ U64(0x9E3779B97F4A7C15))


@nb.njit(cache=True, nogil=True)
def shingle_hashes_into(tok_hash, n_tokens, ngram, seedmix, out):
    """Write the seeded 64-bit hashes of the document's shingles into `out`; return how many.

    Shingle i is h = seedmix, then for each of its tokens h = rotl(h, 27) ^ token, h *= prime
    (rotate-multiply keeps the order of tokens in the hash), then mix64(h). Computed one token
    position at a time over all shingles: simple loops over arrays, which the compiler runs
    on several shingles at once (vector instructions).
    """
    if n_tokens == 0:
        return 0
    width = ngram if n_tokens >= ngram else n_tokens
    count = n_tokens - width + 1
    for i in range(count):
        out[i] = seedmix
    for j in range(width):
        for i in range(count):
            h = out[i]
            out[i] = (((h << ROT) | (h >> ROT_BACK)) ^ tok_hash[i + j]) * FNV_PRIME
    for i in range(count):
        out[i] = mix64(out[i])
    return count


@nb.njit(cache=True, nogil=True)
def sort_unique_u32(vals, n, tmp):
    """Sort vals[:n] (uint32) in place and drop repeats; returns the new length.

    LSD radix sort, four passes of 8 bits: linear in n, several times faster than a comparison
    sort for the few hundred to few thousand shingles of a document. tmp must hold n values.
    """
    counts = np.zeros(256, np.int64)
    src, dst = vals, tmp
    for shift in range(0, 32, 8):
        counts[:] = 0
        sh = np.uint32(shift)
        for i in range(n):
            counts[(src[i] >> sh) & np.uint32(255)] += 1
        total = 0
        for b in range(256):
            c = counts[b]
            counts[b] = total
            total += c
        for i in range(n):
            b = (src[i] >> sh) & np.uint32(255)
            dst[counts[b]] = src[i]
            counts[b] += 1
        src, dst = dst, src
    # four passes: the sorted values are back in vals
    m = 0
    for i in range(n):
        if m == 0 or vals[i] != vals[m - 1]:
            vals[m] = vals[i]
            m += 1
    return m


@nb.njit(cache=True, nogil=True)
def shingle_set(hashes):
    """Sorted unique uint32 shingle values (high half of each 64-bit hash)."""
    vals = np.empty(len(hashes), np.uint32)
    for i in range(len(hashes)):
        vals[i] = np.uint32(hashes[i] >> S32)
    return np.unique(vals)
