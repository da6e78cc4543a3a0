"""Boilerplate: text that recurs around unrelated documents, so it must not make them look alike.

Scraped news shares text that is not copying: a site's chrome on every page (menus, cookie
banners, newsletter promos, "Related articles", ad widgets), a company's "About" paragraph and
legal disclaimer on all its releases, the fixed wording of templated reports (court lists, public
notices, weather). On a short page this can be most of the text. The trap: a wire story
republished by fifty outlets also puts the same text in fifty documents, and it is exactly what
must be found. What tells them apart is what the shared text recurs NEXT TO:

- boilerplate recurs next to otherwise unrelated text: the pages of a site that carry its chrome
  each have a different story around it;
- a syndicated story recurs together with the rest of itself: the documents that carry one of
  its sentences carry the other sentences too, and little else that is their own - or they are on
  different sites, each with its own chrome.

Method (per site: a document's site is the host of its `url`, else its `site`, else its `source`
field; documents without any are not analysed unless `boilerplate="corpus"`, which treats the
whole corpus as one site). Within a site, on the documents' shingle sets:

1. Candidates: shingles that occur in at least k = `boilerplate_min_contexts` documents of the
   site (document frequency from one sort of the site's shingles).
2. Each document's own text: its shingles that are NOT candidates, i.e. rare in the site. Its
   context id is the smallest of those values (a one-hash MinHash of its own text), or none when
   it has fewer than `boilerplate_min_context_shingles` of them. Two copies of one story get the
   same context id (their own text is the story) with probability = the Jaccard of their own
   texts; unrelated stories get different ids.
3. A candidate is boilerplate when the documents carrying it have at least k DIFFERENT context
   ids: it occurs next to k different texts. The copies of a story that recurs on one site (the
   same article under three URLs) have no own text left (the story is itself frequent in the site,
   so it is a candidate, and so is the site's chrome around it): they give no contexts, and the
   story is not boilerplate. A story republished on different sites is never a candidate at all.

The boilerplate of a corpus is the union of its sites' boilerplate shingles: one sorted uint32
array (`Boilerplate.values`), the same values as the shingle sets of `neardup.shingle`. Matching
then works on the shingle sets minus those values: verification computes Jaccard and containment
without them (`masked_overlap`, called by `neardup.verify` through its `exclude` argument), and
the containment anchors of `neardup.candidates` are filtered the same way (`Boilerplate.drop`), so
that two copies of one story under different chrome are proposed and matched. The documents keep
their text: `boilerplate_spans` gives the character spans of a text covered by boilerplate
shingles, for the alignment and the report to mark.

Scale and engines. Detection is a function of one site's shingle sets (`detect_site_boilerplate`):
the streaming pipeline runs it after reading, over sites grouped in chunks of bounded size; an
incremental index re-runs it for the sites a batch touched and keeps the union; a Spark engine
groups documents by site, maps the same function and broadcasts the union. The cost is two
linear compiled passes over each site's shingles: a table of saturating counters (hashed, sized to
stay in cache) rules out the keys seen fewer than k times, only the few survivors are sorted and
counted exactly, and one pass computes each document's context id and the contexts of each
candidate. A site of more than `boilerplate_sample` documents is analysed on an evenly spread
sample of them: chrome is on most of a site's pages, so the sample finds it, and the memory of
detection stays bounded (a few chunks of sets read with pread) however large the site.

Limits. Matching works on sets: the few shingles that straddle two boilerplate blocks (the end of
one rotating "related" headline and the start of the next, in a page-specific order) are rare, so
they are not boilerplate and remain as noise in each page's set. A site needs k pages with
different stories before its chrome is recognised.
"""

from __future__ import annotations

import os
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from operator import attrgetter
from typing import Any
from urllib.parse import urlsplit

import numba as nb
import numpy as np
import pyarrow as pa

from neardup.arrays import unique
from neardup.config import Settings
from neardup.shingle import S32, seed_mix, shingle_hashes_into
from neardup.text import Tokens, mix64, tokenize

U64 = np.uint64
# shingles per detection chunk (whole sites): its counter table stays in cache
_CHUNK_VALUES = 1 << 20
_BITMAP_SHIFT = 12  # prefilter: one bit per 4096 consecutive uint32 values (1 MB)


def site_of(meta: dict[str, str]) -> str | None:
    """The site a document belongs to: its url's host (without www.), else `site`, else
    `source`; None when it has none of them."""
    url = meta.get("url")
    if url:
        try:
            host = urlsplit(url if "//" in url else "//" + url).hostname
        except ValueError:
            host = None
        if host:
            return host.removeprefix("www.")
    for key in ("site", "source"):
        value = meta.get(key)
        if value:
            return value.strip().lower()
    return None


def site_numbers(metas: Sequence[dict[str, str]], scope: str = "site") -> np.ndarray:
    """Site number of each document (int64; -1 = not analysed), numbered in order of appearance."""
    out = np.full(len(metas), -1, np.int64)
    if scope == "off":
        return out
    if scope == "corpus":
        out[:] = 0
        return out
    return numbers_of_sites(pa.array([site_of(meta) for meta in metas], pa.string()))


def numbers_of_sites(sites: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Site numbers (int64, in order of first appearance; -1 where None) of `site_of` values."""
    if isinstance(sites, pa.ChunkedArray):
        sites = sites.combine_chunks() if sites.num_chunks else pa.array([], pa.string())
    codes = sites.dictionary_encode().indices.fill_null(-1)
    return codes.to_numpy(zero_copy_only=False).astype(np.int64)


def _table_bits(n: int) -> int:
    """log2 of the counter table size: about four slots per shingle, 1 MB to 64 MB."""
    return int(min(26, max(20, np.ceil(np.log2(max(n, 1) * 4)))))


@nb.njit(cache=True, nogil=True)
def _count_pass(values, offsets, docs, site, k, bits):
    """Saturating counters of (site, shingle) keys, indexed by a hash of the key, and the keys
    whose counter reaches k: a superset of the keys in k or more documents (a rare key is kept
    only when it shares its slot), so the exact count sorts only a few percent of the keys.
    Returns those keys in the order met and where they were met (position in the documents'
    values laid end to end), so the context pass needs no second look at the counters.

    A document's slots are hashed first, then counted without a branch: the hashing loop
    vectorises, and the counting neither mispredicts on random slots nor waits on them."""
    counts = np.zeros(1 << bits, np.uint8)
    shift = U64(64 - bits)
    top = np.uint8(min(k, 255))
    longest = 0
    for d in range(len(docs)):
        longest = max(longest, offsets[docs[d] + 1] - offsets[docs[d]])
    slots = np.empty(longest, np.uint64)
    for d in range(len(docs)):
        sk = U64(site[d]) << U64(32)
        lo = offsets[docs[d]]
        n = offsets[docs[d] + 1] - lo
        for t in range(n):
            slots[t] = mix64(sk | U64(values[lo + t])) >> shift
        for t in range(n):
            c = counts[slots[t]]
            counts[slots[t]] = c + np.uint8(c < top)
    # grown as needed: the keys kept are usually a few percent of all
    maybe = np.empty(1024, np.uint64)
    maybe_at = np.empty(1024, np.int64)
    m = 0
    at = 0
    hits = np.empty(longest, np.int64)  # a document's positions that reach k
    for d in range(len(docs)):
        sk = U64(site[d]) << U64(32)
        lo = offsets[docs[d]]
        n = offsets[docs[d] + 1] - lo
        for t in range(n):
            slots[t] = mix64(sk | U64(values[lo + t])) >> shift
        h = 0
        for t in range(n):
            hits[h] = t
            h += counts[slots[t]] >= top
        if m + h > len(maybe):
            maybe = _grown_u64(maybe, m, m + h)
            maybe_at = _grown_i64(maybe_at, m, m + h)
        for j in range(h):
            maybe[m + j] = sk | U64(values[lo + hits[j]])
            maybe_at[m + j] = at + hits[j]
        m += h
        at += n
    return maybe[:m].copy(), maybe_at[:m].copy()


@nb.njit(cache=True, nogil=True)
def _grown_u64(a, n, need):
    out = np.empty(max(2 * len(a), need), np.uint64)
    out[:n] = a[:n]
    return out


@nb.njit(cache=True, nogil=True)
def _grown_i64(a, n, need):
    out = np.empty(max(2 * len(a), need), np.int64)
    out[:n] = a[:n]
    return out


@nb.njit(cache=True, nogil=True)
def _context_pass(values, offsets, docs, maybe, maybe_at, candidates, min_own):
    """Each document's context id (smallest own shingle, -1 when it has fewer than min_own) and
    the codes (candidate position << 32 | context id) of the candidates in documents that have
    one. A value is a candidate only if it is among `maybe` (met at `maybe_at`, in order) and
    in the sorted `candidates`; every other value is the document's own."""
    codes = np.empty(len(maybe), np.uint64)
    longest = 0
    for d in range(len(docs)):
        longest = max(longest, offsets[docs[d] + 1] - offsets[docs[d]])
    found = np.empty(longest, np.int64)
    c = 0
    j = 0  # next of `maybe`
    at = 0
    n_maybe = len(maybe)
    for d in range(len(docs)):
        own = 0
        first = np.int64(-1)
        n_cand = 0
        for t in range(offsets[docs[d]], offsets[docs[d] + 1]):
            i = -1
            if j < n_maybe and maybe_at[j] == at:
                key = maybe[j]
                j += 1
                i = np.searchsorted(candidates, key)
                if i >= len(candidates) or candidates[i] != key:
                    i = -1
            at += 1
            if i >= 0:
                found[n_cand] = i
                n_cand += 1
            else:
                own += 1
                if first < 0:
                    first = np.int64(values[t])  # sets are sorted: the first is the smallest
        if own >= min_own:
            for q in range(n_cand):
                codes[c] = (U64(found[q]) << U64(32)) | U64(first)
                c += 1
    return codes[:c]


def _detect_chunk(
    values: np.ndarray,
    offsets: np.ndarray,
    docs: np.ndarray,
    site: np.ndarray,
    min_contexts: int,
    min_context_shingles: int,
) -> np.ndarray:
    """Boilerplate values of the sites of `docs` (site[k]: small site number of docs[k])."""
    total = int(np.sum(offsets[docs + 1] - offsets[docs]))
    if total == 0:
        return np.zeros(0, np.uint32)
    bits = _table_bits(total)
    maybe, maybe_at = _count_pass(values, offsets, docs, site, min_contexts, bits)
    # exact document frequency of the keys that may be frequent
    ordered = np.sort(maybe)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    df = np.diff(np.r_[starts, len(ordered)])
    candidates = ordered[starts[df >= min_contexts]]
    del ordered
    if len(candidates) == 0:
        return np.zeros(0, np.uint32)
    codes = _context_pass(values, offsets, docs, maybe, maybe_at, candidates, min_context_shingles)
    contexts = np.bincount((unique(codes) >> U64(32)).astype(np.int64), minlength=len(candidates))
    found = candidates[contexts >= min_contexts]
    return unique((found & U64(0xFFFFFFFF)).astype(np.uint32))


def detect_site_boilerplate(
    values: np.ndarray, offsets: np.ndarray, docs: np.ndarray, settings: Settings
) -> np.ndarray:
    """Boilerplate shingle values (sorted uint32) of ONE site whose documents are `docs`.

    values/offsets hold shingle sets as in `neardup.verify.ShingleStore` (document i's sorted set
    is values[offsets[i]:offsets[i + 1]]). This is the unit an index or a Spark engine calls.
    """
    docs = np.asarray(docs, np.int64)
    if len(docs) < settings.boilerplate_min_contexts:
        return np.zeros(0, np.uint32)
    return _detect_chunk(
        values,
        np.asarray(offsets, np.int64),
        docs,
        np.zeros(len(docs), np.int64),
        settings.boilerplate_min_contexts,
        settings.boilerplate_min_context_shingles,
    )


@dataclass(frozen=True)
class Boilerplate:
    """The boilerplate shingles of a corpus: sorted unique uint32 shingle values."""

    values: np.ndarray
    sites_analysed: int = 0
    documents_analysed: int = 0

    @staticmethod
    def empty() -> Boilerplate:
        return Boilerplate(np.zeros(0, np.uint32))

    def __len__(self) -> int:
        return len(self.values)

    def contains(self, shingle_values: np.ndarray) -> np.ndarray:
        """Boolean mask: which of the given shingle values are boilerplate."""
        v = np.asarray(shingle_values, np.uint32)
        if len(self.values) == 0:
            return np.zeros(len(v), bool)
        i = np.minimum(np.searchsorted(self.values, v), len(self.values) - 1)
        return self.values[i] == v

    def drop(self, values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ragged sets (values, offsets) without the boilerplate values (e.g. anchors)."""
        if len(self.values) == 0 or len(values) == 0:
            return values, offsets
        keep = ~self.contains(values)
        kept_before = np.zeros(len(values) + 1, np.int64)
        np.cumsum(keep, out=kept_before[1:])
        return values[keep], kept_before[np.asarray(offsets, np.int64)]

    def summary(self) -> dict[str, int]:
        return {
            "boilerplate_shingles": len(self.values),
            "boilerplate_sites_analysed": self.sites_analysed,
            "boilerplate_documents_analysed": self.documents_analysed,
        }


def detect_boilerplate(
    values: np.ndarray,
    offsets: np.ndarray,
    metas: Sequence[dict[str, str]] | np.ndarray,
    settings: Settings,
    chunk_values: int = _CHUNK_VALUES,
    threads: int | None = None,
    gather: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> Boilerplate:
    """Boilerplate of a corpus (see the module docstring).

    `metas`: each document's metadata (for its site), or an array of site numbers (-1: none).
    Sites are processed a few at a time, each chunk holding about `chunk_values` shingles, in
    `threads` threads (default: one per core). With `gather` (e.g. `ShingleStore.gather`: the
    sets of some documents as compact (values, offsets)), each chunk reads only its own sets, so
    the memory used is a few chunks' worth, not the pages of the whole store.
    """
    if settings.boilerplate == "off":
        return Boilerplate.empty()
    if isinstance(metas, np.ndarray):  # site numbers already
        sites = metas.astype(np.int64)
    else:
        sites = site_numbers(metas, settings.boilerplate)
    offsets = np.asarray(offsets, np.int64)
    order = np.argsort(sites, kind="stable")
    order = order[sites[order] >= 0]
    if len(order) == 0:
        return Boilerplate.empty()
    sorted_sites = sites[order]
    starts = np.flatnonzero(np.r_[True, sorted_sites[1:] != sorted_sites[:-1]])
    ends = np.r_[starts[1:], len(order)]
    sample = settings.boilerplate_sample
    if sample and np.any(ends - starts > sample):
        # a large site: an evenly spread sample of its documents (in input order) is analysed
        parts = []
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            size = end - start
            picked = start + (np.arange(min(size, sample)) * size) // min(size, sample)
            parts.append(order[picked])
        order = np.concatenate(parts)
        sorted_sites = sites[order]
        starts = np.flatnonzero(np.r_[True, sorted_sites[1:] != sorted_sites[:-1]])
        ends = np.r_[starts[1:], len(order)]
    sizes = np.diff(offsets)[order]
    size_before = np.zeros(len(order) + 1, np.int64)
    np.cumsum(sizes, out=size_before[1:])
    k = settings.boilerplate_min_contexts
    chunks: list[tuple[np.ndarray, np.ndarray]] = []
    g = 0
    n_sites = len(starts)
    while g < n_sites:
        # a chunk of whole sites, at most chunk_values shingles (or one larger site)
        h = g + 1
        while h < n_sites and size_before[ends[h]] - size_before[starts[g]] <= chunk_values:
            h += 1
        lo, hi = starts[g], ends[h - 1]
        site_sizes = ends[g:h] - starts[g:h]
        if np.any(site_sizes >= k):
            chunks.append((order[lo:hi], np.repeat(np.arange(h - g), site_sizes)))
        g = h

    def detect(chunk: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        docs, local = chunk
        if gather is not None:
            chunk_values, chunk_offsets = gather(docs)
            return _detect_chunk(
                chunk_values, chunk_offsets, np.arange(len(docs), dtype=np.int64), local, k,
                settings.boilerplate_min_context_shingles,
            )  # fmt: skip
        return _detect_chunk(
            values, offsets, docs, local, k, settings.boilerplate_min_context_shingles
        )

    # chunks are independent and the kernels release the GIL: threads share the shingle sets,
    # and the union does not depend on the order in which chunks finish
    threads = max(1, min(threads or os.cpu_count() or 1, len(chunks)))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            found = list(pool.map(detect, chunks))
    else:
        found = [detect(chunk) for chunk in chunks]
    merged = unique(np.concatenate(found)) if found else np.zeros(0, np.uint32)
    return Boilerplate(merged.astype(np.uint32), n_sites, len(order))


# --- verification without boilerplate -------------------------------------------------------------
def excluded_bitmap(exclude: np.ndarray) -> np.ndarray:
    """A prefilter for `is_excluded`: one flag per 4096 consecutive uint32 values (1 MB)."""
    bits = np.zeros(1 << (32 - _BITMAP_SHIFT), np.bool_)
    bits[exclude >> np.uint32(_BITMAP_SHIFT)] = True
    return bits


@nb.njit(cache=True, nogil=True)
def is_excluded(v, exclude, bits):
    """Whether v is in `exclude` (sorted), `bits` being its `excluded_bitmap`."""
    if not bits[v >> 12]:
        return False
    i = np.searchsorted(exclude, v)
    return i < len(exclude) and exclude[i] == v


@nb.njit(cache=True, nogil=True)
def _masked_overlap(values, offsets, a, b, exclude, bits):
    n = len(a)
    inter = np.zeros(n, np.int64)
    size_a = np.zeros(n, np.int64)
    size_b = np.zeros(n, np.int64)
    for p in range(n):
        i, i_end = offsets[a[p]], offsets[a[p] + 1]
        j, j_end = offsets[b[p]], offsets[b[p] + 1]
        ni = 0
        na = 0
        nb_ = 0
        while i < i_end or j < j_end:
            if j >= j_end or (i < i_end and values[i] < values[j]):
                if not is_excluded(values[i], exclude, bits):
                    na += 1
                i += 1
            elif i >= i_end or values[j] < values[i]:
                if not is_excluded(values[j], exclude, bits):
                    nb_ += 1
                j += 1
            else:
                if not is_excluded(values[i], exclude, bits):
                    ni += 1
                    na += 1
                    nb_ += 1
                i += 1
                j += 1
        inter[p] = ni
        size_a[p] = na
        size_b[p] = nb_
    return inter, size_a, size_b


def masked_overlap(
    values: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray, exclude: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pairs (a[i], b[i]) of sets in (values, offsets): |A & B|, |A| and |B|, all counted
    without the values in `exclude` (sorted uint32)."""
    exclude = np.asarray(exclude, np.uint32)
    return _masked_overlap(
        values,
        np.asarray(offsets, np.int64),
        np.asarray(a, np.int64),
        np.asarray(b, np.int64),
        exclude,
        excluded_bitmap(exclude),
    )


# --- marking boilerplate in a text ---------------------------------------------------------------
# The outputs keep the boilerplate and mark it. A text's boilerplate spans are the character spans
# covered by runs of at least `min_shingles` consecutive boilerplate shingles (so a lone stock
# phrase that happens to recur is not marked), widened over attached punctuation. A part of an
# alignment (passage, insertion, removal, substitution) is boilerplate when it has some
# boilerplate and fewer than `ngram` words outside it on each of its sides: not one shingle of
# text of its own that could have been copied. So a passage that is the story plus the chrome the
# two templates share is copied text (its boilerplate characters are counted, and the spans show
# where), and a passage that is only shared chrome is boilerplate. Spans are computed once per
# document (one compiled pass over its tokens); parts are looked up by binary search.


def _lookup_table(values: np.ndarray) -> tuple[np.ndarray, int]:
    """A prefilter for membership in the sorted `values`: one flag per block of 2**shift
    consecutive uint32 values, about 16 blocks per value, so that it stays in cache (64 KB for a
    few thousand boilerplate shingles) and few lookups need the binary search."""
    blocks = 1 << int(min(24, max(16, np.ceil(np.log2(max(len(values), 1) * 16)))))
    shift = 32 - int(np.log2(blocks))
    table = np.zeros(blocks, np.bool_)
    table[values >> np.uint32(shift)] = True
    return table, shift


@nb.njit(cache=True, nogil=True)
def _in_values(v, values, table, shift):
    if not table[v >> shift]:
        return False
    i = np.searchsorted(values, v)
    return i < len(values) and values[i] == v


@nb.njit(cache=True, nogil=True)
def _boilerplate_runs(hashes, starts, ends, ngram, seed, values, table, shift, min_shingles):
    """[start, end) character spans of the runs of >= min_shingles consecutive shingles whose
    values are in `values`, merged where they touch or overlap; (k, 2) int64."""
    n = len(hashes)
    sh = np.empty(max(n, 1), np.uint64)
    count = shingle_hashes_into(hashes, n, ngram, seed_mix(seed), sh)
    width = min(ngram, n)
    out = np.empty((count, 2), np.int64)
    m = 0
    i = 0
    while i < count:
        if not _in_values(np.uint32(sh[i] >> S32), values, table, shift):
            i += 1
            continue
        j = i
        while j + 1 < count and _in_values(np.uint32(sh[j + 1] >> S32), values, table, shift):
            j += 1
        if j - i + 1 >= min_shingles:
            s = starts[i]
            e = ends[j + width - 1]
            if m > 0 and s <= out[m - 1, 1]:
                out[m - 1, 1] = max(out[m - 1, 1], e)
            else:
                out[m, 0] = s
                out[m, 1] = e
                m += 1
        i = j + 1
    return out[:m].copy()


def _composed_tokens(text: str) -> Tokens | None:
    """Tokens of a non-NFC text as the shingle sets saw them (hashed after NFC composition), with
    offsets mapped back into `text`; None in the rare case composition crosses a starter (the
    text is then not marked)."""
    # compose each starter with the combining marks after it, and keep where each piece began
    pieces: list[str] = []
    origins: list[int] = []
    begin = 0
    for k in range(1, len(text) + 1):
        if k == len(text) or unicodedata.combining(text[k]) == 0:
            pieces.append(unicodedata.normalize("NFC", text[begin:k]))
            origins.append(begin)
            begin = k
    composed = "".join(pieces)
    if composed != unicodedata.normalize("NFC", text):
        return None
    to_original = np.empty(len(composed) + 1, np.int64)
    to_original[:-1] = np.repeat(np.asarray(origins, np.int64), [len(p) for p in pieces])
    to_original[-1] = len(text)
    toks = tokenize(composed)
    # an end offset is the start of the next composed character, i.e. of its piece
    return Tokens(toks.hashes, to_original[toks.starts], to_original[toks.ends])


@nb.njit(cache=True, nogil=True)
def _count_excluded(values, offsets, docs, exclude, bits):
    out = np.zeros(len(docs), np.int64)
    for k in range(len(docs)):
        c = 0
        for t in range(offsets[docs[k]], offsets[docs[k] + 1]):
            if is_excluded(values[t], exclude, bits):
                c += 1
        out[k] = c
    return out


def count_boilerplate_shingles(
    values: np.ndarray, offsets: np.ndarray, docs: np.ndarray, boilerplate: Boilerplate
) -> np.ndarray:
    """How many boilerplate values the shingle set of each of `docs` holds (sets as in
    `neardup.verify.ShingleStore`). A document with none has no boilerplate span, so the
    alignment stage need not look for any in its text."""
    docs = np.asarray(docs, np.int64)
    if len(boilerplate) == 0 or len(docs) == 0:
        return np.zeros(len(docs), np.int64)
    return _count_excluded(
        values,
        np.asarray(offsets, np.int64),
        docs,
        boilerplate.values,
        excluded_bitmap(boilerplate.values),
    )


def _is_attached(ch: str) -> bool:
    # punctuation and symbols stick to the word next to them; spaces and letters do not
    return unicodedata.category(ch)[0] in "PS"


def _widen(text: str, spans: np.ndarray) -> np.ndarray:
    """Spans widened over the punctuation attached to their first and last word (a closing full
    stop, an opening quote), as the alignment cuts its spans; merged where they then meet."""
    if len(spans) == 0:
        return spans
    out: list[list[int]] = []
    n = len(text)
    for s, e in spans.tolist():
        while s > 0 and _is_attached(text[s - 1]):
            s -= 1
        while e < n and _is_attached(text[e]):
            e += 1
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return np.asarray(out, np.int64)


_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_HEAD_CHARS = 200
# where a part of an alignment lies in text a, in text b, or in its one text (Span)
_A_SIDE = attrgetter("a_start", "a_end")
_B_SIDE = attrgetter("b_start", "b_end")
_ONE_SIDE = attrgetter("start", "end")


@dataclass(frozen=True)
class TextSpans:
    """The boilerplate spans of one text, ready for lookups: sorted disjoint [start, end) pairs,
    and the number of boilerplate characters before each span."""

    text: str
    starts: list[int]
    ends: list[int]
    before: list[int]
    total: int

    @staticmethod
    def none(text: str) -> TextSpans:
        return TextSpans(text, [], [], [], 0)

    @staticmethod
    def of(text: str, spans: np.ndarray) -> TextSpans:
        if len(spans) == 0:
            return TextSpans.none(text)
        starts, ends = spans[:, 0].tolist(), spans[:, 1].tolist()
        before = [0] * len(starts)
        total = 0
        for k, (s, e) in enumerate(zip(starts, ends, strict=True)):
            before[k] = total
            total += e - s
        return TextSpans(text, starts, ends, before, total)

    def _up_to(self, x: int) -> int:
        k = bisect_right(self.starts, x) - 1
        return 0 if k < 0 else self.before[k] + min(x, self.ends[k]) - self.starts[k]

    def covered(self, start: int, end: int) -> int:
        """Boilerplate characters of text[start:end]."""
        if self.total == 0 or end <= start:
            return 0
        return self._up_to(end) - self._up_to(start)

    def words_outside(self, start: int, end: int, limit: int) -> int:
        """Words of text[start:end] outside the spans, counted up to `limit`."""
        words = 0
        k = bisect_right(self.ends, start)  # the first span that ends after start
        pos = start
        while pos < end and words < limit:
            if k < len(self.starts) and self.starts[k] <= pos:
                pos = max(pos, self.ends[k])
                k += 1
                continue
            stop = min(end, self.starts[k]) if k < len(self.starts) else end
            piece = self.text[pos:stop]
            if piece.isascii():  # a regular expression is much cheaper than a call to tokenize
                words += sum(1 for _ in islice(_ASCII_WORD.finditer(piece), limit - words))
            else:
                # the words of a head of the piece are a lower bound (a word cut at its end is
                # a word too): often enough, without tokenizing a long piece
                found = len(tokenize(piece[:_HEAD_CHARS]))
                if found < limit - words and len(piece) > _HEAD_CHARS:
                    found = len(tokenize(piece))
                words += found
            pos = stop
        return words

    def check(
        self, parts: Sequence[Any], bounds: Callable[[Any], tuple[int, int]], ngram: int
    ) -> tuple[list[bool], list[int]]:
        """For parts of an alignment, whose [start, end) in this text is `bounds(part)`: whether
        each is boilerplate (some of it, and fewer than `ngram` words outside it) and its
        boilerplate characters."""
        n = len(parts)
        flags, chars = [False] * n, [0] * n
        if self.total == 0:
            return flags, chars
        first, last = self.starts[0], self.ends[-1]
        for i, (start, end) in enumerate(map(bounds, parts)):
            if end <= first or start >= last or end <= start:
                continue  # no span there (most parts of most texts)
            covered = self._up_to(end) - self._up_to(start)
            if covered:
                chars[i] = covered
                flags[i] = covered == end - start or self.words_outside(start, end, ngram) < ngram
        return flags, chars


# the spans of a text without boilerplate (any text: it is not looked at)
NO_SPANS = TextSpans.none("")


@dataclass(frozen=True)
class AlignmentMarks:
    """Which parts of an alignment are boilerplate (one flag per part, in the alignment's order),
    and how many characters of boilerplate each side has in all and inside shared passages."""

    passages: list[bool]
    passage_chars: list[tuple[int, int]]  # boilerplate characters of each passage, a and b
    insertions: list[bool]
    removals: list[bool]
    substitutions: list[bool]
    chars: tuple[int, int]
    shared_chars: tuple[int, int]

    def swapped(self) -> AlignmentMarks:
        """The marks of `Alignment.swapped()` (texts a and b exchanged)."""
        return AlignmentMarks(
            self.passages,
            [(b, a) for a, b in self.passage_chars],
            self.removals,
            self.insertions,
            self.substitutions,
            (self.chars[1], self.chars[0]),
            (self.shared_chars[1], self.shared_chars[0]),
        )


@dataclass(frozen=True)
class BoilerplateMarker:
    """Marks boilerplate in texts and alignments: the boilerplate values and the shingling
    settings, small enough to send to worker processes (4 bytes per boilerplate shingle).

    `spans(text)`: the character spans covered by runs of at least `min_shingles` consecutive
    boilerplate shingles, widened over attached punctuation. `mark(...)`: a part of an alignment
    is boilerplate when it has some boilerplate and fewer than `ngram` words outside it on each
    of its sides (see the comment at the top of this section).
    """

    values: np.ndarray  # sorted unique uint32, as Boilerplate.values
    ngram: int = 5
    seed: int = 1
    min_shingles: int = 3

    @staticmethod
    def of(boilerplate: Boilerplate | np.ndarray, settings: Settings) -> BoilerplateMarker:
        values = boilerplate.values if isinstance(boilerplate, Boilerplate) else boilerplate
        return BoilerplateMarker(np.asarray(values, np.uint32), settings.ngram, settings.seed)

    def __len__(self) -> int:
        return len(self.values)

    @cached_property
    def _table(self) -> tuple[np.ndarray, int]:
        return _lookup_table(self.values)

    def __getstate__(self) -> dict[str, Any]:
        # workers rebuild the prefilter table rather than receive it with every batch
        state = dict(self.__dict__)
        state.pop("_table", None)
        return state

    def spans(self, text: str, tokens: Tokens | None = None) -> np.ndarray:
        """Boilerplate character spans of `text`, sorted and disjoint: (k, 2) int64.

        `tokens`: the text's tokens with offsets into `text` (`neardup.align.prepare` has them),
        to save tokenizing it again; used only when the text is in NFC, where they are the same
        tokens the shingle sets were made of.
        """
        if len(self.values) == 0 or not text:
            return np.zeros((0, 2), np.int64)
        if text.isascii() or unicodedata.is_normalized("NFC", text):
            toks = tokens if tokens is not None else tokenize(text)
        else:
            toks = _composed_tokens(text)
            if toks is None:
                return np.zeros((0, 2), np.int64)
        runs = _boilerplate_runs(
            toks.hashes,
            toks.starts,
            toks.ends,
            self.ngram,
            self.seed,  # mixed inside: a uint64 from Python would defeat numba's fast dispatch
            self.values,
            *self._table,
            self.min_shingles,
        )
        return _widen(text, runs)

    def text_spans(self, text: str, tokens: Tokens | None = None) -> TextSpans:
        """`spans(text, tokens)` ready for `mark`: compute it once per text, for all its pairs."""
        return TextSpans.of(text, self.spans(text, tokens))

    def mark(
        self, alignment: Any, a: TextSpans, b: TextSpans, substitutions: bool = True
    ) -> AlignmentMarks:
        """The marks of an alignment of text b against text a (with substitutions=False, those
        of the substitutions are all False: they are not looked up)."""
        passages, ins, rem, subs = (
            alignment.passages,
            alignment.insertions,
            alignment.removals,
            alignment.substitutions,
        )
        if a.total == 0 and b.total == 0:  # most pairs of a corpus with little chrome
            return AlignmentMarks(
                [False] * len(passages),
                [(0, 0)] * len(passages),
                [False] * len(ins),
                [False] * len(rem),
                [False] * len(subs),
                (0, 0),
                (0, 0),
            )
        k = self.ngram
        pa, pa_chars = a.check(passages, _A_SIDE, k)
        pb, pb_chars = b.check(passages, _B_SIDE, k)
        # substitutions lie inside passages: only those of passages with boilerplate can be
        with_bp = {i for i, (x, y) in enumerate(zip(pa_chars, pb_chars, strict=True)) if x or y}
        sub_flags = [False] * len(subs)
        if with_bp and substitutions:
            which = [i for i, s in enumerate(subs) if s.passage in with_bp]
            inside = [subs[i] for i in which]
            sa, _ = a.check(inside, _A_SIDE, k)
            sb, _ = b.check(inside, _B_SIDE, k)
            for i, s, x, y in zip(which, inside, sa, sb, strict=True):
                # a side with nothing on it does not object
                sub_flags[i] = (
                    (x or s.a_end == s.a_start) and (y or s.b_end == s.b_start) and (x or y)
                )
        return AlignmentMarks(
            passages=[x and y for x, y in zip(pa, pb, strict=True)],
            passage_chars=list(zip(pa_chars, pb_chars, strict=True)),
            insertions=b.check(ins, _ONE_SIDE, k)[0],
            removals=a.check(rem, _ONE_SIDE, k)[0],
            substitutions=sub_flags,
            chars=(a.total, b.total),
            shared_chars=(sum(pa_chars), sum(pb_chars)),
        )


def shingle_spans(text: str, settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each shingle of `text` in order: (uint32 value as in the shingle sets, char start, end)."""
    toks = tokenize(text)
    n = len(toks)
    hashes = np.empty(max(n, 1), np.uint64)
    count = shingle_hashes_into(toks.hashes, n, settings.ngram, seed_mix(settings.seed), hashes)
    vals = (hashes[:count] >> S32).astype(np.uint32)
    width = min(settings.ngram, n)
    starts = toks.starts[:count]
    ends = toks.ends[width - 1 : width - 1 + count] if count else toks.ends[:0]
    return vals, starts, ends


def boilerplate_spans(
    text: str, boilerplate: Boilerplate | np.ndarray, settings: Settings, min_shingles: int = 3
) -> list[tuple[int, int]]:
    """Character spans [start, end) of `text` covered by runs of at least `min_shingles`
    consecutive boilerplate shingles (a lone recurring 5-word phrase is not marked), widened over
    the punctuation attached to their first and last words."""
    marker = BoilerplateMarker.of(boilerplate, settings)
    if min_shingles != marker.min_shingles:
        marker = BoilerplateMarker(marker.values, marker.ngram, marker.seed, min_shingles)
    return [(int(s), int(e)) for s, e in marker.spans(text).tolist()]


def mark_alignment(
    alignment: Any,
    text_a: str,
    text_b: str,
    boilerplate: Boilerplate | np.ndarray,
    settings: Settings,
) -> dict[str, list[bool]]:
    """Which parts of a `neardup.align.Alignment` of text_b against text_a are boilerplate (see
    `BoilerplateMarker`): {"passages", "insertions", "removals", "substitutions"}, one flag per
    part in the alignment's order. `BoilerplateMarker` does the same with each text's spans
    computed once, for many pairs."""
    marker = BoilerplateMarker.of(boilerplate, settings)
    marks = marker.mark(alignment, marker.text_spans(text_a), marker.text_spans(text_b))
    return {
        "passages": marks.passages,
        "insertions": marks.insertions,
        "removals": marks.removals,
        "substitutions": marks.substitutions,
    }
