"""Sketches: a MinHash signature and a set of containment anchors per document, over a batch.

MinHash by one-permutation hashing with optimal densification (Li, Owen & Zhang 2012;
Shrivastava 2017). Each 64-bit shingle hash h is split in two: its high 32 bits pick one of K
bins, its low 32 bits are the value, and a bin keeps the smallest value it sees. One pass over the
shingles fills all K bins, instead of K hash functions over every shingle. An empty bin (short
documents) borrows the value of the first non-empty bin along a probe sequence that depends on the
bin and the seed only, never on the document, so that two documents borrow alike. Then for
documents A and B, P[sig_A[i] == sig_B[i]] = J(A, B), and the share of equal bins estimates the
Jaccard similarity with standard deviation about sqrt(J (1 - J) / K): 0.044 at most for K = 128.
`neardup.config.minhash_error_bound` states the bound the tests hold it to.

Containment anchors. MinHash estimates Jaccard, which is low for an abridged copy (half a story
has J = 0.5 with the whole; a third, 0.33) although all of it is copied. So every document also
keeps the shingles whose mixed hash is 0 modulo `anchor_rate` (one in 16 by default). The choice
depends on the shingle only, so a passage shared by two documents yields the same anchors in both,
and shared anchors / anchors of the smaller document estimates its containment in the other
(Broder's MOD-m sample). `neardup.candidates` pairs documents through an inverted index of
anchors.

`sketch_texts` runs the whole read-side pipeline of a batch (normalize, tokenize, shingle, sketch)
in one compiled loop over the batch's code points: no Python work per token or per shingle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np

from neardup.config import Settings
from neardup.shingle import S32, seed_mix, shingle_hashes_into, sort_unique_u32
from neardup.text import compose, kernel_tables, mix64, tokenize_into

U64 = np.uint64
LOW32 = U64(0xFFFFFFFF)


@nb.njit(cache=True, nogil=True)
def oph_signature(hashes, count, num_perm, seedmix, out):
    """One-permutation MinHash of hashes[:count] into out[:num_perm], densified."""
    filled = np.zeros(num_perm, np.bool_)
    k = U64(num_perm)
    for i in range(count):
        h = hashes[i]
        b = ((h >> S32) * k) >> S32
        v = np.uint32(h & LOW32)
        if not filled[b] or v < out[b]:
            out[b] = v
            filled[b] = True
    if count == 0:
        for i in range(num_perm):
            out[i] = np.uint32(0xFFFFFFFF)
        return
    for i in range(num_perm):
        if filled[i]:
            continue
        attempt = U64(1)
        while True:
            j = mix64(seedmix ^ (U64(i) << S32) ^ attempt) % k
            if filled[j]:
                out[i] = out[j]
                break
            attempt += U64(1)


@nb.njit(cache=True, nogil=True)
def _sketch_kernel(cps, bounds, packed, fold_chars, ngram, num_perm, seed, anchor_rate):
    n_docs = len(bounds) - 1
    seedmix = seed_mix(seed)
    anchor_mask = np.uint32(anchor_rate - 1)
    max_len = 1
    for d in range(n_docs):
        max_len = max(max_len, bounds[d + 1] - bounds[d])
    tok_hash = np.empty(max_len, np.uint64)
    tok_start = np.empty(max_len, np.int64)
    tok_end = np.empty(max_len, np.int64)
    sh = np.empty(max_len, np.uint64)
    vals = np.empty(max_len, np.uint32)
    anch = np.empty(max_len, np.uint32)
    tmp = np.empty(max_len, np.uint32)

    signatures = np.empty((n_docs, num_perm), np.uint32)
    n_tokens = np.zeros(n_docs, np.int64)
    content_hash = np.zeros(n_docs, np.uint64)
    set_offsets = np.zeros(n_docs + 1, np.int64)
    anchor_offsets = np.zeros(n_docs + 1, np.int64)
    set_values = np.empty(bounds[-1] - bounds[0] + 1, np.uint32)
    anchor_values = np.empty(bounds[-1] - bounds[0] + 1, np.uint32)

    for d in range(n_docs):
        nt = tokenize_into(
            cps, bounds[d], bounds[d + 1], packed, fold_chars, tok_hash, tok_start, tok_end,
        )  # fmt: skip
        n_tokens[d] = nt
        ch = seedmix ^ U64(nt)
        for t in range(nt):
            ch = mix64(ch ^ tok_hash[t])
        content_hash[d] = ch
        ns = shingle_hashes_into(tok_hash, nt, ngram, seedmix, sh)
        oph_signature(sh, ns, num_perm, seedmix, signatures[d])
        na = 0
        for i in range(ns):
            v = np.uint32(sh[i] >> S32)
            vals[i] = v
            # anchors: the low bits of the stored value are independent of the bin (top bits)
            if v & anchor_mask == 0:
                anch[na] = v
                na += 1
        nu = sort_unique_u32(vals, ns, tmp)
        s0 = set_offsets[d]
        set_values[s0 : s0 + nu] = vals[:nu]
        set_offsets[d + 1] = s0 + nu
        nau = sort_unique_u32(anch, na, tmp)
        a0 = anchor_offsets[d]
        anchor_values[a0 : a0 + nau] = anch[:nau]
        anchor_offsets[d + 1] = a0 + nau
    return (
        signatures,
        n_tokens,
        content_hash,
        set_values[: set_offsets[n_docs]].copy(),
        set_offsets,
        anchor_values[: anchor_offsets[n_docs]].copy(),
        anchor_offsets,
    )


@dataclass
class SketchBatch:
    """Sketches of a batch of documents, in the batch's order.

    Ragged per-document arrays are stored flat with offsets: document i's shingle set is
    set_values[set_offsets[i]:set_offsets[i + 1]] (sorted, unique).
    """

    signatures: np.ndarray  # (n, num_perm) uint32
    n_tokens: np.ndarray  # (n,) int64
    content_hash: np.ndarray  # (n,) uint64: equal for texts that normalize alike
    set_values: np.ndarray  # uint32
    set_offsets: np.ndarray  # (n + 1,) int64
    anchor_values: np.ndarray  # uint32
    anchor_offsets: np.ndarray  # (n + 1,) int64

    def __len__(self) -> int:
        return len(self.n_tokens)

    def shingle_set(self, i: int) -> np.ndarray:
        return self.set_values[self.set_offsets[i] : self.set_offsets[i + 1]]

    def anchors(self, i: int) -> np.ndarray:
        return self.anchor_values[self.anchor_offsets[i] : self.anchor_offsets[i + 1]]

    @property
    def set_sizes(self) -> np.ndarray:
        return np.diff(self.set_offsets)

    @staticmethod
    def concat(batches: Sequence[SketchBatch]) -> SketchBatch:
        def ragged(values: list[np.ndarray], offsets: list[np.ndarray]):
            out_off = [np.zeros(1, np.int64)]
            base = 0
            for off in offsets:
                out_off.append(off[1:] + base)
                base += int(off[-1])
            return np.concatenate(values), np.concatenate(out_off)

        sv, so = ragged([b.set_values for b in batches], [b.set_offsets for b in batches])
        av, ao = ragged([b.anchor_values for b in batches], [b.anchor_offsets for b in batches])
        return SketchBatch(
            signatures=np.concatenate([b.signatures for b in batches]),
            n_tokens=np.concatenate([b.n_tokens for b in batches]),
            content_hash=np.concatenate([b.content_hash for b in batches]),
            set_values=sv,
            set_offsets=so,
            anchor_values=av,
            anchor_offsets=ao,
        )


def sketch_texts(texts: Sequence[str], settings: Settings) -> SketchBatch:
    """Normalize, tokenize, shingle and sketch a batch of texts."""
    texts = [t if t.isascii() else compose(t) for t in texts]
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    bounds = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=bounds[1:])
    # the kernel reads the joined str's own buffer: no per-document arrays, no encoding
    joined = "".join(texts)
    out = _sketch_kernel(
        joined, bounds, *kernel_tables(), settings.ngram, settings.num_perm, settings.seed,
        settings.anchor_rate,
    )  # fmt: skip
    return SketchBatch(*out)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """MinHash estimate of the Jaccard similarity of two documents from their signatures."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)
