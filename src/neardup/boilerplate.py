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
candidate.

Limits. Matching works on sets: the few shingles that straddle two boilerplate blocks (the end of
one rotating "related" headline and the start of the next, in a page-specific order) are rare, so
they are not boilerplate and remain as noise in each page's set. A site needs k pages with
different stories before its chrome is recognised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numba as nb
import numpy as np

from neardup.config import Settings
from neardup.shingle import S32, seed_mix, shingle_hashes_into
from neardup.text import mix64, tokenize

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
    numbers: dict[str, int] = {}
    for i, meta in enumerate(metas):
        site = site_of(meta)
        if site is not None:
            out[i] = numbers.setdefault(site, len(numbers))
    return out


def _table_bits(n: int) -> int:
    """log2 of the counter table size: about four slots per shingle, 1 MB to 64 MB."""
    return int(min(26, max(20, np.ceil(np.log2(max(n, 1) * 4)))))


@nb.njit(cache=True, nogil=True)
def _count_pass(values, offsets, docs, site, k, bits):
    """Saturating counters of (site, shingle) keys, indexed by a hash of the key, and the keys
    whose counter reaches k: a superset of the keys in k or more documents (a rare key is kept
    only when it shares its slot), so the exact count sorts only a few percent of the keys."""
    counts = np.zeros(1 << bits, np.uint8)
    shift = U64(64 - bits)
    for d in range(len(docs)):
        sk = U64(site[d]) << U64(32)
        for t in range(offsets[docs[d]], offsets[docs[d] + 1]):
            slot = mix64(sk | U64(values[t])) >> shift
            if counts[slot] < 255:
                counts[slot] += 1
    total = 0
    for d in range(len(docs)):
        total += offsets[docs[d] + 1] - offsets[docs[d]]
    maybe = np.empty(total, np.uint64)
    m = 0
    for d in range(len(docs)):
        sk = U64(site[d]) << U64(32)
        for t in range(offsets[docs[d]], offsets[docs[d] + 1]):
            key = sk | U64(values[t])
            if counts[mix64(key) >> shift] >= k:
                maybe[m] = key
                m += 1
    return counts, maybe[:m].copy()


@nb.njit(cache=True, nogil=True)
def _candidate_index(key, counts, shift, k, candidates):
    """Position of key in `candidates`, or -1."""
    if counts[mix64(key) >> shift] < k:
        return -1
    i = np.searchsorted(candidates, key)
    if i < len(candidates) and candidates[i] == key:
        return i
    return -1


@nb.njit(cache=True, nogil=True)
def _context_pass(values, offsets, docs, site, counts, bits, k, candidates, min_own, capacity):
    """Each document's context id (smallest own shingle, -1 when it has fewer than min_own) and
    the codes (candidate position << 32 | context id) of the candidates in documents that have
    one. `capacity` bounds the number of candidate occurrences."""
    shift = U64(64 - bits)
    codes = np.empty(capacity, np.uint64)
    longest = 0
    for d in range(len(docs)):
        longest = max(longest, offsets[docs[d] + 1] - offsets[docs[d]])
    found = np.empty(longest, np.int64)
    c = 0
    for d in range(len(docs)):
        sk = U64(site[d]) << U64(32)
        own = 0
        first = np.int64(-1)
        n_cand = 0
        for t in range(offsets[docs[d]], offsets[docs[d] + 1]):
            i = _candidate_index(sk | U64(values[t]), counts, shift, k, candidates)
            if i >= 0:
                found[n_cand] = i
                n_cand += 1
            else:
                own += 1
                if first < 0:
                    first = np.int64(values[t])  # sets are sorted: the first is the smallest
        if own >= min_own:
            for j in range(n_cand):
                codes[c] = (U64(found[j]) << U64(32)) | U64(first)
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
    counts, maybe = _count_pass(values, offsets, docs, site, min_contexts, bits)
    # exact document frequency of the keys that may be frequent
    maybe.sort()
    starts = np.flatnonzero(np.r_[True, maybe[1:] != maybe[:-1]])
    df = np.diff(np.r_[starts, len(maybe)])
    candidates = maybe[starts[df >= min_contexts]]
    if len(candidates) == 0:
        return np.zeros(0, np.uint32)
    codes = _context_pass(
        values, offsets, docs, site, counts, bits, min_contexts, candidates,
        min_context_shingles, len(maybe),
    )  # fmt: skip
    contexts = np.bincount(
        (np.unique(codes) >> U64(32)).astype(np.int64), minlength=len(candidates)
    )
    found = candidates[contexts >= min_contexts]
    return np.unique((found & U64(0xFFFFFFFF)).astype(np.uint32))


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
) -> Boilerplate:
    """Boilerplate of a corpus (see the module docstring).

    `metas`: each document's metadata (for its site), or an array of site numbers (-1: none).
    Sites are processed a few at a time, each chunk holding about `chunk_values` shingles.
    """
    if settings.boilerplate == "off":
        return Boilerplate.empty()
    if isinstance(metas, np.ndarray):
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
    sizes = np.diff(offsets)[order]
    size_before = np.zeros(len(order) + 1, np.int64)
    np.cumsum(sizes, out=size_before[1:])
    k = settings.boilerplate_min_contexts
    found: list[np.ndarray] = []
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
            docs = order[lo:hi]
            local = np.repeat(np.arange(h - g), site_sizes)
            found.append(
                _detect_chunk(
                    values, offsets, docs, local, k, settings.boilerplate_min_context_shingles
                )
            )
        g = h
    merged = np.unique(np.concatenate(found)) if found else np.zeros(0, np.uint32)
    return Boilerplate(merged.astype(np.uint32), n_sites, len(order))


# --- verification without boilerplate -------------------------------------------------------------
def _bitmap(exclude: np.ndarray) -> np.ndarray:
    bits = np.zeros(1 << (32 - _BITMAP_SHIFT), np.bool_)
    bits[exclude >> np.uint32(_BITMAP_SHIFT)] = True
    return bits


@nb.njit(cache=True, nogil=True)
def _is_excluded(v, exclude, bits):
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
                if not _is_excluded(values[i], exclude, bits):
                    na += 1
                i += 1
            elif i >= i_end or values[j] < values[i]:
                if not _is_excluded(values[j], exclude, bits):
                    nb_ += 1
                j += 1
            else:
                if not _is_excluded(values[i], exclude, bits):
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
        _bitmap(exclude),
    )


# --- marking boilerplate in a text ---------------------------------------------------------------
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
    consecutive boilerplate shingles (a lone recurring 5-word phrase is not marked)."""
    bp = (
        boilerplate
        if isinstance(boilerplate, Boilerplate)
        else Boilerplate(np.asarray(boilerplate, np.uint32))
    )
    if len(bp) == 0:
        return []
    vals, starts, ends = shingle_spans(text, settings)
    mask = bp.contains(vals)
    spans: list[tuple[int, int]] = []
    i, n = 0, len(mask)
    while i < n:
        if not mask[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and mask[j + 1]:
            j += 1
        if j - i + 1 >= min_shingles:
            s, e = int(starts[i]), int(ends[j])
            if spans and s <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], e))
            else:
                spans.append((s, e))
        i = j + 1
    return spans


def boilerplate_share(start: int, end: int, spans: Sequence[tuple[int, int]]) -> float:
    """Share of the characters text[start:end] that lie inside the boilerplate `spans`."""
    if end <= start:
        return 0.0
    covered = sum(max(0, min(end, e) - max(start, s)) for s, e in spans)
    return covered / (end - start)


def mark_alignment(
    alignment: Any,
    text_a: str,
    text_b: str,
    boilerplate: Boilerplate | np.ndarray,
    settings: Settings,
    min_share: float = 0.5,
) -> dict[str, list[bool]]:
    """Which parts of a `neardup.align.Alignment` are boilerplate (at least `min_share` of their
    characters in `boilerplate_spans`): {"passages": [...], "insertions": [...], "removals":
    [...]}, one flag per item in the alignment's order, for the report to mark them."""
    spans_a = boilerplate_spans(text_a, boilerplate, settings)
    spans_b = boilerplate_spans(text_b, boilerplate, settings)
    return {
        "passages": [
            boilerplate_share(p.a_start, p.a_end, spans_a) >= min_share
            and boilerplate_share(p.b_start, p.b_end, spans_b) >= min_share
            for p in alignment.passages
        ],
        "insertions": [
            boilerplate_share(s.start, s.end, spans_b) >= min_share for s in alignment.insertions
        ],
        "removals": [
            boilerplate_share(s.start, s.end, spans_a) >= min_share for s in alignment.removals
        ],
    }
