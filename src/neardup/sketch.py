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
in one compiled loop over the batch: no Python work per token or per shingle. Texts of ASCII only
(nearly all of an English news corpus) take a fast path: they are joined into one buffer of bytes
and tokenized by bit masks 64 characters at a time (`neardup.text.ascii_token_hashes`); the others
take the general tokenizer over the joined str's code points. Both give the very same hashes
(tests/test_sketch_fastpath.py). The rest is laid out for the processor more than for reading:
shingle hashes a token position at a time over all shingles (vector instructions), the
content-hash chains of 8 documents side by side, one pass filling the MinHash bins and the
buckets of the set's sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from neardup.arrays import concat_ragged
from neardup.config import Settings
from neardup.shingle import S32, seed_mix, shingle_hashes_into, sort_unique_u32
from neardup.text import (
    M1,
    M2,
    ascii_bytes,
    ascii_masks,
    ascii_token_count,
    ascii_token_hashes,
    compose,
    kernel_tables,
    mix64,
    tokenize_into,
)

U64 = np.uint64
LOW32 = U64(0xFFFFFFFF)


@nb.njit(cache=True, nogil=True)
def _densify(count, num_perm, seedmix, out, filled):
    """Densification: each empty bin of out (filled[i] false) takes the value of the first
    filled bin along a probe sequence of the bin and the seed only; all bins 0xFFFFFFFF when
    there are no hashes at all."""
    if count == 0:
        for i in range(num_perm):
            out[i] = np.uint32(0xFFFFFFFF)
        return
    k = U64(num_perm)
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
    _densify(count, num_perm, seedmix, out, filled)


@nb.njit(cache=True, nogil=True)
def _oph_fill(sh, ns, num_perm, out, filled, vals, counts, shift):
    """The one-permutation pass of `oph_signature` (no densification; out and filled reset by
    the caller), writing each shingle's stored value (high half) to vals and counting them by
    their top bits (counts[v >> shift]) for `_sort_unique_into`."""
    k = U64(num_perm)
    for i in range(ns):
        h = sh[i]
        top = h >> S32
        b = (top * k) >> S32
        v = np.uint32(h & LOW32)
        out[b] = min(out[b], v)
        filled[b] = True
        vals[i] = np.uint32(top)
        counts[np.uint32(top) >> shift] += 1


GROUP = 8  # documents whose content hashes are computed side by side (one vector of 8 lanes)


@intrinsic
def _mix_chains8(typingctx, ch, rows, n_tokens, longest):
    """For t < longest: ch[i] = mix64(ch[i] ^ rows[8 t + i]) in each lane i with t < n_tokens[i]:
    8 chains of dependent mixes as one chain of vector operations (the chain in a register)."""
    sig = types.void(ch, rows, n_tokens, types.int64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        v8 = ir.VectorType(i64, 8)

        def data(k):
            return context.make_array(signature.args[k])(context, builder, args[k]).data

        def splat(x):
            return ir.Constant(v8, [x] * 8)

        ch_p = builder.bitcast(data(0), v8.as_pointer())
        n = builder.load(builder.bitcast(data(2), v8.as_pointer()), align=8)
        rows_p = data(1)
        acc = cgutils.alloca_once(builder, v8)
        builder.store(builder.load(ch_p, align=8), acc)
        with cgutils.for_range(builder, args[3]) as loop:
            t = loop.index
            c = builder.load(acc)
            row = builder.gep(rows_p, [builder.mul(t, ir.Constant(i64, 8))])
            v = builder.load(builder.bitcast(row, v8.as_pointer()), align=8)
            tv = builder.insert_element(
                ir.Constant(v8, ir.Undefined), t, ir.Constant(ir.IntType(32), 0)
            )
            zero8 = ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8)
            tv = builder.shuffle_vector(tv, ir.Constant(v8, ir.Undefined), zero8)
            live = builder.icmp_signed("<", tv, n)
            z = builder.xor(c, v)
            z = builder.mul(builder.xor(z, builder.lshr(z, splat(30))), splat(int(M1)))
            z = builder.mul(builder.xor(z, builder.lshr(z, splat(27))), splat(int(M2)))
            z = builder.xor(z, builder.lshr(z, splat(31)))
            builder.store(builder.select(live, z, c), acc)
        builder.store(builder.load(acc), ch_p, align=8)
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(cache=True, nogil=True)
def _content_hashes(tokens, tok_lo, n_tokens, seedmix, rows, out):
    """out[i] = the content hash of the n_tokens[i] token hashes at tokens[tok_lo[i]:], for the
    GROUP documents (n_tokens 0 past the last): each is a chain of dependent mixes, so the
    chains of the group run side by side, interleaved in rows (8 * (longest + 1) values)."""
    longest = 0
    for i in range(GROUP):
        out[i] = seedmix ^ U64(n_tokens[i])
        longest = max(longest, n_tokens[i])
        lo = tok_lo[i]
        for t in range(n_tokens[i]):
            rows[GROUP * t + i] = tokens[lo + t]
    _mix_chains8(out, rows, n_tokens, longest)


@nb.njit(cache=True, nogil=True)
def _grown(values, used, size):
    """A larger array holding values[:used]."""
    out = np.empty(size, values.dtype)
    out[:used] = values[:used]
    return out


@nb.njit(cache=True, nogil=True)
def _sketch_kernel(
    ascii_text, cps, doc_lo, doc_hi, doc_ascii, packed, fold_chars, ngram, num_perm, seed,
    anchor_rate,
):  # fmt: skip
    """Documents whose doc_ascii is set are ascii_text[doc_lo:doc_hi] (the fast path: ASCII
    texts joined by one separator, padded), the others cps[doc_lo:doc_hi] (the general
    tokenizer)."""
    n_docs = len(doc_lo)
    seedmix = seed_mix(seed)
    anchor_mask = np.uint32(anchor_rate - 1)
    abuf = ascii_bytes(ascii_text)
    wmask = np.empty(len(abuf) >> 6, np.uint64)
    jmask = np.empty(len(abuf) >> 6, np.uint64)
    ascii_masks(abuf, wmask, jmask)
    max_len = 1
    # room for the shingle sets: at most one shingle a token, counted when ASCII, else guessed
    # (grown if need be); a tight guess lets the sets be returned without a copy
    total = 1
    group_len = 1
    for g in range(0, n_docs, GROUP):
        glen = 0
        for d in range(g, min(g + GROUP, n_docs)):
            n = doc_hi[d] - doc_lo[d]
            max_len = max(max_len, n)
            glen += n
            total += (
                ascii_token_count(doc_lo[d], doc_hi[d], wmask, jmask) if doc_ascii[d] else n // 4
            )
        group_len = max(group_len, glen)
    scratch = max_len + 64
    tokens = np.empty(group_len + 64, np.uint64)  # the token hashes of a group's documents
    rows = np.empty(GROUP * (max_len + 1), np.uint64)  # the same, interleaved
    run_start = np.empty(scratch, np.int64)
    run_end = np.empty(scratch, np.int64)
    x8 = np.empty(scratch, np.uint64)
    length = np.empty(scratch, np.int64)
    idx = np.empty(scratch, np.int64)
    sh = np.empty(scratch, np.uint64)
    vals = np.empty(scratch, np.uint32)
    tmp = np.empty(scratch, np.uint32)
    filled = np.empty(num_perm, np.bool_)
    counts = np.empty(2 * (1 << 16) + 2, np.int64)
    tok_lo = np.zeros(GROUP, np.int64)
    tok_n = np.zeros(GROUP, np.int64)
    group_ch = np.zeros(GROUP, np.uint64)

    signatures = np.empty((n_docs, num_perm), np.uint32)
    n_tokens = np.zeros(n_docs, np.int64)
    content_hash = np.zeros(n_docs, np.uint64)
    set_offsets = np.zeros(n_docs + 1, np.int64)
    anchor_offsets = np.zeros(n_docs + 1, np.int64)
    set_values = np.empty(total, np.uint32)
    anchor_values = np.empty(total, np.uint32)

    for g in range(0, n_docs, GROUP):
        g_end = min(g + GROUP, n_docs)
        # tokens of the group's documents
        off = 0
        for d in range(g, g_end):
            lo = doc_lo[d]
            hi = doc_hi[d]
            out = tokens[off:]
            if doc_ascii[d]:
                nt = ascii_token_hashes(
                    abuf, lo, hi, wmask, jmask, out, run_start, run_end, x8, length, idx
                )
            else:
                nt = tokenize_into(cps, lo, hi, packed, fold_chars, out, run_start, run_end)
            tok_lo[d - g] = off
            tok_n[d - g] = nt
            n_tokens[d] = nt
            off += nt
        for i in range(g_end - g, GROUP):
            tok_n[i] = 0
        _content_hashes(tokens, tok_lo, tok_n, seedmix, rows, group_ch)
        for d in range(g, g_end):
            content_hash[d] = group_ch[d - g]
            nt = tok_n[d - g]
            ns = shingle_hashes_into(tokens[tok_lo[d - g] :], nt, ngram, seedmix, sh)
            sig = signatures[d]
            sig[:] = np.uint32(0xFFFFFFFF)
            filled[:] = False
            # buckets of the sort: 2^kb, between ns and 2 ns
            kb = 1
            while kb < 16 and (1 << kb) <= ns:
                kb += 1
            shift = np.uint32(32 - kb)
            counts[: (1 << kb) + 1] = 0
            _oph_fill(sh, ns, num_perm, sig, filled, vals, counts, shift)
            _densify(ns, num_perm, seedmix, sig, filled)
            s0 = set_offsets[d]
            a0 = anchor_offsets[d]
            if s0 + ns > len(set_values):
                grown = max(2 * len(set_values), s0 + ns)
                set_values = _grown(set_values, s0, grown)
                anchor_values = _grown(anchor_values, a0, grown)
            nu, na = _sort_unique_into(
                vals, ns, tmp, counts, kb, shift, set_values[s0:], anchor_values[a0:], anchor_mask
            )
            set_offsets[d + 1] = s0 + nu
            anchor_offsets[d + 1] = a0 + na
    sv = set_values[: set_offsets[n_docs]]
    return (
        signatures,
        n_tokens,
        content_hash,
        # a view when little is unused: a copy would write the memory a second time
        sv if 4 * len(sv) >= 3 * len(set_values) else sv.copy(),
        set_offsets,
        anchor_values[: anchor_offsets[n_docs]].copy(),
        anchor_offsets,
    )


@nb.njit(cache=True, nogil=True)
def _sort_unique_into(vals, n, tmp, counts, kb, shift, out, anchors, anchor_mask):
    """Sorted unique vals[:n] into out, and those of them with no bit of anchor_mask into
    anchors; returns both counts.

    counts[b] holds how many values have v >> shift == b, for the 2^kb buckets (more buckets
    than values): one pass places each value in its bucket, then only the buckets holding
    several values are sorted, most of them two values by a min and a max. A bucket with
    many values (adversarial text) falls back to the radix sort. tmp: scratch of n values.
    """
    nbk = 1 << kb
    big = 0
    total = 0
    nm = 0
    multi = counts[nbk + 1 :]  # the buckets of two values or more
    for b in range(nbk):
        c = counts[b]
        big = max(big, c)
        counts[b] = total
        total += c
        multi[nm] = b
        nm += c > 1
    if big > 32:
        m = sort_unique_u32(vals, n, tmp)
        na = 0
        for i in range(m):
            v = vals[i]
            out[i] = v
            anchors[na] = v
            na += (v & anchor_mask) == 0
        return m, na
    for i in range(n):
        v = vals[i]
        b = v >> shift
        tmp[counts[b]] = v
        counts[b] += 1
    # counts[b] is now the end of bucket b
    for q in range(nm):
        b = multi[q]
        hi = counts[b]
        lo = counts[b - 1] if b > 0 else 0
        if hi - lo == 2:
            x = tmp[lo]
            y = tmp[lo + 1]
            tmp[lo] = min(x, y)
            tmp[lo + 1] = max(x, y)
        else:
            for i in range(lo + 1, hi):
                x = tmp[i]
                j = i
                while j > lo and tmp[j - 1] > x:
                    tmp[j] = tmp[j - 1]
                    j -= 1
                tmp[j] = x
    m = 0
    na = 0
    prev = np.uint32(0)
    for i in range(n):
        v = tmp[i]
        new = i == 0 or v != prev
        out[m] = v
        m += new
        anchors[na] = v
        na += new and (v & anchor_mask) == 0
        prev = v
    return m, na


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
        sv, so = concat_ragged([b.set_values for b in batches], [b.set_offsets for b in batches])
        av, ao = concat_ragged(
            [b.anchor_values for b in batches], [b.anchor_offsets for b in batches]
        )
        return SketchBatch(
            signatures=np.concatenate([b.signatures for b in batches]),
            n_tokens=np.concatenate([b.n_tokens for b in batches]),
            content_hash=np.concatenate([b.content_hash for b in batches]),
            set_values=sv,
            set_offsets=so,
            anchor_values=av,
            anchor_offsets=ao,
        )


# after the last ASCII text: room for the 64-character blocks and 8-byte reads of the fast path
_PAD = "\0" * 80


def sketch_texts(texts: Sequence[str], settings: Settings) -> SketchBatch:
    """Normalize, tokenize, shingle and sketch a batch of texts."""
    return _sketch(texts, settings, fast=True)


def _sketch(texts: Sequence[str], settings: Settings, fast: bool) -> SketchBatch:
    """`sketch_texts`; with fast=False every text takes the general tokenizer (for tests)."""
    n = len(texts)
    flags = list(map(str.isascii, texts)) if fast else [False] * n
    is_ascii = np.array(flags, np.bool_).reshape(n)
    rest = ~is_ascii
    lengths = np.fromiter(map(len, texts), np.int64, n)
    doc_lo = np.empty(n, np.int64)
    doc_hi = np.empty(n, np.int64)
    # ASCII texts: joined by one separator (so that no token runs across two of them), read as
    # bytes by the fast path
    a_len = lengths[is_ascii] + 1
    a_end = np.cumsum(a_len)
    doc_lo[is_ascii] = a_end - a_len
    doc_hi[is_ascii] = a_end - 1
    ascii_text = "\0".join([*compress(texts, flags), _PAD])
    # the others: composed to NFC and joined; the kernel reads the joined str's own buffer
    others = [compose(t) for t in compress(texts, rest.tolist())]
    o_len = np.fromiter(map(len, others), np.int64, len(others))
    o_end = np.cumsum(o_len)
    doc_lo[rest] = o_end - o_len
    doc_hi[rest] = o_end
    out = _sketch_kernel(
        ascii_text, "".join(others), doc_lo, doc_hi, is_ascii, *kernel_tables(), settings.ngram,
        settings.num_perm, settings.seed, settings.anchor_rate,
    )  # fmt: skip
    return SketchBatch(*out)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """MinHash estimate of the Jaccard similarity of two documents from their signatures."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)
