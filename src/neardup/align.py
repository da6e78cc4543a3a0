"""Passage alignment: what two texts share, what one of them added or dropped, and the word-level
edits inside the shared passages, at character offsets into the ORIGINAL texts.

Method (seed, chain, select, merge, refine; near-linear in the length of the texts):

1. Tokenize both texts with `neardup.text` (tokens carry [start, end) offsets into the original
   text and the hash of their normalized form, so "U.S." and "US", "Justice" and "justice",
   "China's" and "China’s" are the same token).
2. Seeds: every k-gram of tokens (k = `ngram`, 5 by default) of B is looked up among the k-grams
   of A through a sorted array (binary search), so the work is O((n + m) log n), never n * m. A
   k-gram that occurs more than `max_occurrences` times in A (boilerplate repeated all over a
   long text) is too ambiguous to seed on and is skipped, which keeps the number of seeds linear.
3. Runs: seeds on the same diagonal (j - i) at consecutive positions are chained into maximal
   runs of identical token hashes.
4. Selection, longest run first: a run keeps only the stretches of B it is the first to claim
   (each token of B is aligned at most once; a token of A may be aligned more than once, so a
   passage that the copy repeats twice is shared twice, and one that the original repeats but
   the copy has once leaves the second occurrence as a removal).
5. Passages: the kept runs, in the order of B, are merged into one passage when they follow each
   other on both sides with a small gap: at most `max_gap` tokens on each side and sizes that
   differ by at most `max_indel` tokens. A replaced word or phrase stays inside its passage; an
   inserted or dropped stretch longer than that (an ad widget, a dropped paragraph) splits it.
   A passage also takes in up to 4 free words at each edge, on the same line, when they match
   with at most `max_indel` words unmatched ("BEIJING (Reuters) - The" vs "BEIJING: The": the
   dateline is shared and "Reuters" removed). Passages with fewer than `min_passage_tokens`
   shared tokens are dropped as chance matches.
6. Fine alignment inside passages: the runs are identical token for token, so only the small gaps
   between them are aligned, with rapidfuzz's Levenshtein opcodes (a bit-parallel edit distance
   in C++) over the token hashes: "replace" gives a word substitution, "insert"/"delete" an
   insertion/removal inside the passage. Every aligned token pair whose characters differ, and
   every changed punctuation between two aligned tokens, becomes a "style" substitution (case,
   abbreviation dots, curly vs straight quotes, en dash vs hyphen); adjacent ones are merged
   ("U.S. Justice Department" -> "US justice department" is one). These comparisons run in a
   compiled loop over code points.
7. What is left outside every passage is an insertion (in B) or a removal (from A), one per line
   of text, so a dropped headline, byline and credit come out as separate removals and an ad
   scraped into a paragraph as one insertion.

Spans start at a token and end at a token, widened over punctuation attached to them (an opening
quote, a closing parenthesis) up to the neighbouring whitespace, so `text[start:end]` is the
passage, insertion or removal as a reader would cut it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np
from rapidfuzz.distance import Levenshtein

from neardup.shingle import seed_mix, shingle_hashes_into
from neardup.text import Tokens, kernel_tables, tokenize, tokenize_into

DEFAULT_NGRAM = 5
DEFAULT_MAX_GAP = 8
DEFAULT_MAX_INDEL = 2
DEFAULT_MIN_PASSAGE_TOKENS = 8
DEFAULT_MAX_OCCURRENCES = 32


@dataclass(frozen=True)
class Passage:
    """A shared passage: text_a[a_start:a_end] was copied as text_b[b_start:b_end]."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a_tokens: int
    b_tokens: int
    matched: int  # aligned token pairs with the same normalized word
    similarity: float  # 2 * matched / (a_tokens + b_tokens)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": [self.a_start, self.a_end],
            "b": [self.b_start, self.b_end],
            "tokens": [self.a_tokens, self.b_tokens],
            "similarity": round(self.similarity, 4),
        }


@dataclass(frozen=True)
class Span:
    """Text found on one side only: text[start:end]; `passage` is the index of the passage it
    sits in (a small insertion or removal inside shared text), or None."""

    start: int
    end: int
    text: str
    passage: int | None = None

    def to_dict(self, side: str) -> dict[str, Any]:
        return {side: [self.start, self.end], "text": self.text, "passage": self.passage}


@dataclass(frozen=True)
class Substitution:
    """Inside passage `passage`, text_a[a_start:a_end] became text_b[b_start:b_end].

    kind "style": the same words written differently (case, quotes, dashes, abbreviation dots,
    punctuation); kind "word": different words.
    """

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a_text: str
    b_text: str
    kind: str
    passage: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": [self.a_start, self.a_end],
            "b": [self.b_start, self.b_end],
            "a_text": self.a_text,
            "b_text": self.b_text,
            "kind": self.kind,
            "passage": self.passage,
        }


@dataclass
class Alignment:
    """The alignment of text B against text A (see the module docstring)."""

    a_chars: int
    b_chars: int
    a_tokens: int
    b_tokens: int
    passages: list[Passage] = field(default_factory=list)
    insertions: list[Span] = field(default_factory=list)  # in B, not in A
    removals: list[Span] = field(default_factory=list)  # in A, not in B
    substitutions: list[Substitution] = field(default_factory=list)
    aligned_a: int = 0  # tokens of A inside passages
    aligned_b: int = 0
    matched: int = 0

    def scores(self) -> dict[str, float]:
        """Shares of each text inside shared passages, and the similarity within them."""
        inside = sum(p.a_tokens + p.b_tokens for p in self.passages)
        return {
            "aligned_a": round(self.aligned_a / self.a_tokens, 4) if self.a_tokens else 0.0,
            "aligned_b": round(self.aligned_b / self.b_tokens, 4) if self.b_tokens else 0.0,
            "passage_similarity": round(2 * self.matched / inside, 4) if inside else 0.0,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "chars": [self.a_chars, self.b_chars],
            "tokens": [self.a_tokens, self.b_tokens],
            "scores": self.scores(),
            "passages": [p.to_dict() for p in self.passages],
            "insertions": [s.to_dict("b") for s in self.insertions],
            "removals": [s.to_dict("a") for s in self.removals],
            "substitutions": [s.to_dict() for s in self.substitutions],
        }

    def swapped(self) -> Alignment:
        """The same alignment seen from the other side (A and B exchanged)."""
        return Alignment(
            self.b_chars,
            self.a_chars,
            self.b_tokens,
            self.a_tokens,
            [
                Passage(
                    p.b_start,
                    p.b_end,
                    p.a_start,
                    p.a_end,
                    p.b_tokens,
                    p.a_tokens,
                    p.matched,
                    p.similarity,
                )
                for p in self.passages
            ],
            list(self.removals),
            list(self.insertions),
            [
                Substitution(
                    s.b_start, s.b_end, s.a_start, s.a_end, s.b_text, s.a_text, s.kind, s.passage
                )
                for s in self.substitutions
            ],
            self.aligned_b,
            self.aligned_a,
            self.matched,
        )


# --- tokens ---------------------------------------------------------------------------------------


def tokens_of(text: str) -> tuple[Tokens, np.ndarray]:
    """Tokens of `text` with offsets into `text` itself, and its code points.

    `neardup.text.tokenize` composes a non-NFC text first, which can shift offsets; here such a
    text is tokenized as it is, so offsets always index the original string (its decomposed
    accents then hash differently from composed ones, which only matters when one text of a pair
    is NFC and the other is not).
    """
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return tokenize(text), cps
    n = len(cps)
    hashes = np.empty(n, np.uint64)
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    count = tokenize_into(cps, 0, n, *kernel_tables(), hashes, starts, ends)
    return Tokens(hashes[:count].copy(), starts[:count].copy(), ends[:count].copy()), cps


# --- seeds and runs -------------------------------------------------------------------------------


@nb.njit(cache=True)
def _seed_runs(ha, hb, k, max_occurrences, min_len):
    """Seeds, runs and selection in one compiled pass (steps 2-4 of the module docstring).

    Returns the kept runs as (a_start, b_start, length) in tokens, in no particular order.
    """
    na, nb_ = len(ha), len(hb)
    nka, nkb = na - k + 1, nb_ - k + 1
    empty = np.zeros(0, np.int64)
    if nka <= 0 or nkb <= 0:
        return empty, empty, empty
    seedmix = seed_mix(0)
    ka = np.empty(nka, np.uint64)
    kb = np.empty(nkb, np.uint64)
    shingle_hashes_into(ha, na, k, seedmix, ka)
    shingle_hashes_into(hb, nb_, k, seedmix, kb)
    order_a = np.argsort(ka, kind="mergesort")
    sorted_a = ka[order_a]
    # seeds: every (i, j) with the same k-gram, skipping k-grams too frequent in A
    cap = nkb + 16
    mi = np.empty(cap, np.int64)
    mj = np.empty(cap, np.int64)
    m = 0
    for j in range(nkb):
        lo = np.searchsorted(sorted_a, kb[j])
        if lo == nka or sorted_a[lo] != kb[j]:
            continue
        hi = lo + 1
        while hi < nka and sorted_a[hi] == kb[j] and hi - lo <= max_occurrences:
            hi += 1
        if hi - lo > max_occurrences:
            continue
        for t in range(lo, hi):
            if m == cap:
                cap *= 2
                mi2 = np.empty(cap, np.int64)
                mj2 = np.empty(cap, np.int64)
                mi2[:m] = mi[:m]
                mj2[:m] = mj[:m]
                mi, mj = mi2, mj2
            mi[m] = order_a[t]
            mj[m] = j
            m += 1
    if m == 0:
        return empty, empty, empty
    # runs: seeds on one diagonal at consecutive positions
    key = np.empty(m, np.int64)
    for t in range(m):
        key[t] = (mj[t] - mi[t] + na) * (na + 1) + mi[t]
    order = np.argsort(key)
    ra = np.empty(m, np.int64)
    rb = np.empty(m, np.int64)
    rl = np.empty(m, np.int64)
    n_runs = 0
    prev_i, prev_d = -2, 0
    for t in order:
        i, d = mi[t], mj[t] - mi[t]
        if n_runs > 0 and d == prev_d and i == prev_i + 1:
            rl[n_runs - 1] += 1
        else:
            ra[n_runs] = i
            rb[n_runs] = i + d
            rl[n_runs] = k
            n_runs += 1
        prev_i, prev_d = i, d
    # selection, longest run first (ties: earlier in B, then in A)
    by_place = np.argsort(rb[:n_runs] * (na + 1) + ra[:n_runs])
    by_length = by_place[np.argsort(-rl[:n_runs][by_place], kind="mergesort")]
    covered = np.zeros(nb_, np.bool_)
    out_a = np.empty(2 * n_runs, np.int64)
    out_b = np.empty(2 * n_runs, np.int64)
    out_len = np.empty(2 * n_runs, np.int64)
    n = 0
    for r in by_length:
        a0, b0, length = ra[r], rb[r], rl[r]
        t = 0
        while t < length:
            if covered[b0 + t]:
                t += 1
                continue
            s = t
            while t < length and not covered[b0 + t]:
                t += 1
            if t - s >= min_len:
                for x in range(s, t):
                    covered[b0 + x] = True
                if n == len(out_a):
                    grown = 2 * n + 2
                    oa = np.empty(grown, np.int64)
                    ob = np.empty(grown, np.int64)
                    ol = np.empty(grown, np.int64)
                    oa[:n] = out_a[:n]
                    ob[:n] = out_b[:n]
                    ol[:n] = out_len[:n]
                    out_a, out_b, out_len = oa, ob, ol
                out_a[n] = a0 + s
                out_b[n] = b0 + s
                out_len[n] = t - s
                n += 1
    return out_a[:n], out_b[:n], out_len[:n]


# --- style differences -----------------------------------------------------------------------------


@nb.njit(cache=True)
def _is_space(c):
    return (
        c == 32
        or (9 <= c <= 13)
        or c == 0xA0
        or c == 0x1680
        or (0x2000 <= c <= 0x200B)
        or c
        in (
            0x2028,
            0x2029,
            0x202F,
            0x205F,
            0x3000,
            0xFEFF,
        )
    )


@nb.njit(cache=True)
def _same_chars(cps_a, s_a, e_a, cps_b, s_b, e_b):
    if e_a - s_a != e_b - s_b:
        return False
    for t in range(e_a - s_a):  # noqa: SIM110 - a compiled loop, no generators in numba
        if cps_a[s_a + t] != cps_b[s_b + t]:
            return False
    return True


@nb.njit(cache=True)
def _same_punctuation(cps_a, s_a, e_a, cps_b, s_b, e_b):
    """Whether two separators have the same non-space characters in the same order."""
    i, j = s_a, s_b
    while True:
        while i < e_a and _is_space(cps_a[i]):
            i += 1
        while j < e_b and _is_space(cps_b[j]):
            j += 1
        if i == e_a or j == e_b:
            return i == e_a and j == e_b
        if cps_a[i] != cps_b[j]:
            return False
        i += 1
        j += 1


@nb.njit(cache=True)
def _word_spans(cps, starts, ends):
    """Each token widened over the punctuation attached to it: up to the nearest whitespace, and
    not at all into a separator without whitespace (which belongs to neither neighbour). Also
    whether a line break stands between each token and the one before it."""
    n = len(starts)
    ws = starts.copy()
    we = ends.copy()
    newline_before = np.zeros(n, np.bool_)
    for t in range(n):
        lo = ends[t - 1] if t > 0 else 0
        for x in range(lo, starts[t]):
            c = cps[x]
            if c == 10 or c == 13 or c == 0x2028 or c == 0x2029:
                newline_before[t] = t > 0
                break
        s = starts[t]
        while s > lo and not _is_space(cps[s - 1]):
            s -= 1
        if s > lo or (t == 0 and s == 0):
            ws[t] = s
        hi = starts[t + 1] if t + 1 < n else len(cps)
        e = ends[t]
        while e < hi and not _is_space(cps[e]):
            e += 1
        if e < hi or (t + 1 == n and e == len(cps)):
            we[t] = e
    return ws, we, newline_before


@nb.njit(cache=True)
def _style_flags(cps_a, wsa, wea, cps_b, wsb, web, ia, ib):
    """For matched token pairs (ia[m], ib[m]): does the word (token with its attached
    punctuation) differ in its characters, and does the punctuation standing between pair m and
    m + 1 differ (when both sides are adjacent tokens)?"""
    n = len(ia)
    tok = np.zeros(n, np.bool_)
    sep = np.zeros(n, np.bool_)
    for m in range(n):
        i, j = ia[m], ib[m]
        tok[m] = not _same_chars(cps_a, wsa[i], wea[i], cps_b, wsb[j], web[j])
        if m + 1 < n and ia[m + 1] == i + 1 and ib[m + 1] == j + 1:
            sep[m] = not _same_punctuation(cps_a, wea[i], wsa[i + 1], cps_b, web[j], wsb[j + 1])
    return tok, sep


# --- spans ------------------------------------------------------------------------------------------


def _line_runs(uncovered: np.ndarray, newline_before: np.ndarray) -> list[tuple[int, int]]:
    """Group sorted uncovered token indices into runs of consecutive tokens on one line."""
    if len(uncovered) == 0:
        return []
    brk = np.ones(len(uncovered), bool)
    brk[1:] = (uncovered[1:] != uncovered[:-1] + 1) | newline_before[uncovered[1:]]
    first = np.flatnonzero(brk)
    last = np.append(first[1:], len(uncovered)) - 1
    return list(zip(uncovered[first].tolist(), uncovered[last].tolist(), strict=True))


def _gap_edits(
    gap_a: np.ndarray, gap_b: np.ndarray, off_a: int, off_b: int
) -> list[tuple[str, int, int, int, int]]:
    """Token alignment of a small gap inside a passage: Levenshtein opcodes, with neighbouring
    edits joined ("He said" -> "According to Vane" is one replacement, not an insertion and a
    replacement)."""
    out: list[tuple[str, int, int, int, int]] = []
    for op in Levenshtein.opcodes(gap_a.tolist(), gap_b.tolist()):
        x0, x1 = off_a + op.src_start, off_a + op.src_end
        y0, y1 = off_b + op.dest_start, off_b + op.dest_end
        if op.tag != "equal" and out and out[-1][0] != "equal":
            x0, y0 = out[-1][1], out[-1][3]
            out.pop()
        if op.tag == "equal":
            out.append(("equal", x0, x1, y0, y1))
        else:
            tag = "replace" if x1 > x0 and y1 > y0 else ("insert" if y1 > y0 else "delete")
            out.append((tag, x0, x1, y0, y1))
    return out


EDGE_WINDOW = 4


def _extend_edges(
    groups: list[list[tuple[int, int, int]]],
    ha: np.ndarray,
    hb: np.ndarray,
    newline_a: np.ndarray,
    newline_b: np.ndarray,
    max_indel: int,
) -> None:
    """Let a passage take in the few words before and after it on the same line when they match
    with small edits ("BEIJING (Reuters) - The" vs "BEIJING: The": "BEIJING" is shared and
    "Reuters" removed, instead of a removed and an inserted dateline). Adds zero-length runs at
    the new edges; the gap alignment of the refinement does the rest."""
    taken_a = np.zeros(len(ha), bool)
    taken_b = np.zeros(len(hb), bool)
    for runs in groups:
        for a, b, n in runs:
            taken_a[a : a + n] = True
            taken_b[b : b + n] = True

    def window(first: int, step: int, taken: np.ndarray, newline_before: np.ndarray) -> int:
        """How many words next to `first` (step -1: before it, +1: after it) are free and on its line."""
        n, t = 0, first
        while n < EDGE_WINDOW:
            nxt = t + step
            if nxt < 0 or nxt >= len(taken) or taken[nxt]:
                break
            if newline_before[t if step < 0 else nxt]:
                break
            n, t = n + 1, nxt
        return n

    for runs in groups:
        a0, b0 = runs[0][0], runs[0][1]
        wa, wb = window(a0, -1, taken_a, newline_a), window(b0, -1, taken_b, newline_b)
        if wa and wb:
            ops = [op for op in _gap_edits(ha[a0 - wa : a0], hb[b0 - wb : b0], a0 - wa, b0 - wb)]
            equal = [op for op in ops if op[0] == "equal"]
            if (
                equal
                and max(
                    wa - sum(op[2] - op[1] for op in equal), wb - sum(op[4] - op[3] for op in equal)
                )
                <= max_indel
            ):
                x, y = equal[0][1], equal[0][3]
                taken_a[x:a0] = True
                taken_b[y:b0] = True
                runs.insert(0, (x, y, 0))
        a1, b1, n1 = runs[-1]
        last_a, last_b = a1 + n1 - 1, b1 + n1 - 1
        wa, wb = window(last_a, 1, taken_a, newline_a), window(last_b, 1, taken_b, newline_b)
        if wa and wb and n1:
            ops = _gap_edits(
                ha[last_a + 1 : last_a + 1 + wa],
                hb[last_b + 1 : last_b + 1 + wb],
                last_a + 1,
                last_b + 1,
            )
            equal = [op for op in ops if op[0] == "equal"]
            if (
                equal
                and max(
                    wa - sum(op[2] - op[1] for op in equal), wb - sum(op[4] - op[3] for op in equal)
                )
                <= max_indel
            ):
                x, y = equal[-1][2], equal[-1][4]
                taken_a[last_a + 1 : x] = True
                taken_b[last_b + 1 : y] = True
                runs.append((x, y, 0))


# --- the alignment ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A text with what the alignment needs of it; prepare a text once to align it with many."""

    text: str
    tokens: Tokens
    cps: np.ndarray
    word_starts: np.ndarray  # token spans widened over attached punctuation
    word_ends: np.ndarray
    newline_before: np.ndarray


def prepare(text: str) -> Prepared:
    """Tokens, code points and word spans of `text` (see `align_prepared`)."""
    tokens, cps = tokens_of(text)
    return Prepared(text, tokens, cps, *_word_spans(cps, tokens.starts, tokens.ends))


def align(
    text_a: str,
    text_b: str,
    *,
    ngram: int = DEFAULT_NGRAM,
    max_gap: int = DEFAULT_MAX_GAP,
    max_indel: int = DEFAULT_MAX_INDEL,
    min_passage_tokens: int = DEFAULT_MIN_PASSAGE_TOKENS,
    max_occurrences: int = DEFAULT_MAX_OCCURRENCES,
) -> Alignment:
    """Align text B (typically the copy) against text A (the original); see the module docstring."""
    return align_prepared(
        prepare(text_a),
        prepare(text_b),
        ngram=ngram,
        max_gap=max_gap,
        max_indel=max_indel,
        min_passage_tokens=min_passage_tokens,
        max_occurrences=max_occurrences,
    )


def align_prepared(
    prep_a: Prepared,
    prep_b: Prepared,
    *,
    ngram: int = DEFAULT_NGRAM,
    max_gap: int = DEFAULT_MAX_GAP,
    max_indel: int = DEFAULT_MAX_INDEL,
    min_passage_tokens: int = DEFAULT_MIN_PASSAGE_TOKENS,
    max_occurrences: int = DEFAULT_MAX_OCCURRENCES,
) -> Alignment:
    """`align` on prepared texts (a text aligned with several others is prepared once)."""
    text_a, tok_a, cps_a = prep_a.text, prep_a.tokens, prep_a.cps
    text_b, tok_b, cps_b = prep_b.text, prep_b.tokens, prep_b.cps
    ha, sa, ea = tok_a.hashes, tok_a.starts, tok_a.ends
    hb, sb, eb = tok_b.hashes, tok_b.starts, tok_b.ends
    na, nb_ = len(ha), len(hb)
    result = Alignment(len(text_a), len(text_b), na, nb_)
    wsa, wea, nla = prep_a.word_starts, prep_a.word_ends, prep_a.newline_before
    wsb, web, nlb = prep_b.word_starts, prep_b.word_ends, prep_b.newline_before
    covered_a = np.zeros(na, bool)
    covered_b = np.zeros(nb_, bool)
    if na == 0 or nb_ == 0:
        _unaligned(result.removals, text_a, covered_a, wsa, wea, nla)
        _unaligned(result.insertions, text_b, covered_b, wsb, web, nlb)
        return result
    k = max(1, min(ngram, na, nb_))
    min_tokens = max(1, min(min_passage_tokens, na, nb_))
    ka, kb, kl = _seed_runs(ha, hb, k, max_occurrences, k)
    by_b = np.argsort(kb, kind="stable")
    ka, kb, kl = ka[by_b].tolist(), kb[by_b].tolist(), kl[by_b].tolist()

    # merge runs into passages: lists of runs (a, b, len)
    groups: list[list[tuple[int, int, int]]] = []
    for a, b, n in zip(ka, kb, kl, strict=True):
        if groups:
            pa, pb, pn = groups[-1][-1]
            gap_a, gap_b = a - (pa + pn), b - (pb + pn)
            if 0 <= gap_a <= max_gap and 0 <= gap_b <= max_gap and abs(gap_a - gap_b) <= max_indel:
                groups[-1].append((a, b, n))
                continue
        groups.append([(a, b, n)])
    _extend_edges(groups, ha, hb, nla, nlb, max_indel)

    # refine each passage: matched token pairs, and edits in the gaps between its runs
    word_edits: list[tuple[int, str, int, int, int, int]] = []  # (passage, op, a0, a1, b0, b1)
    seg_a: list[int] = []  # matched stretches: a start, b start, length, passage
    seg_b: list[int] = []
    seg_len: list[int] = []
    seg_owner: list[int] = []
    spans: list[tuple[int, int, int, int, int]] = []  # token ranges per kept passage + matched
    for runs in groups:
        segments: list[tuple[int, int, int]] = []
        edits: list[tuple[str, int, int, int, int]] = []
        for r, (a, b, n) in enumerate(runs):
            if r:
                pa, pb, pn = runs[r - 1]
                ga0, gb0 = pa + pn, pb + pn
                if a > ga0 or b > gb0:
                    for tag, x0, x1, y0, y1 in _gap_edits(ha[ga0:a], hb[gb0:b], ga0, gb0):
                        if tag == "equal":
                            segments.append((x0, y0, x1 - x0))
                        else:
                            edits.append((tag, x0, x1, y0, y1))
            if n:
                segments.append((a, b, n))
        matched = sum(n for _, _, n in segments)
        if matched < min_tokens:
            continue
        index = len(spans)
        a_first, b_first = runs[0][0], runs[0][1]
        a_last, b_last = runs[-1][0] + runs[-1][2] - 1, runs[-1][1] + runs[-1][2] - 1
        spans.append((a_first, a_last, b_first, b_last, matched))
        for a, b, n in segments:
            seg_a.append(a)
            seg_b.append(b)
            seg_len.append(n)
            seg_owner.append(index)
        word_edits.extend((index, *e) for e in edits)

    for a_first, a_last, b_first, b_last, matched in spans:
        covered_a[a_first : a_last + 1] = True
        covered_b[b_first : b_last + 1] = True
        a_start, a_end = int(wsa[a_first]), int(wea[a_last])
        b_start, b_end = int(wsb[b_first]), int(web[b_last])
        n_a, n_b = a_last - a_first + 1, b_last - b_first + 1
        result.passages.append(
            Passage(a_start, a_end, b_start, b_end, n_a, n_b, matched, 2 * matched / (n_a + n_b))
        )
        result.matched += matched
    result.aligned_a = int(covered_a.sum())
    result.aligned_b = int(covered_b.sum())

    # word edits inside passages
    for index, op, x0, x1, y0, y1 in word_edits:
        if op == "replace":
            a_s, a_e, b_s, b_e = int(sa[x0]), int(ea[x1 - 1]), int(sb[y0]), int(eb[y1 - 1])
            result.substitutions.append(
                Substitution(a_s, a_e, b_s, b_e, text_a[a_s:a_e], text_b[b_s:b_e], "word", index)
            )
        elif op == "insert":
            b_s, b_e = int(sb[y0]), int(eb[y1 - 1])
            result.insertions.append(Span(b_s, b_e, text_b[b_s:b_e], index))
        else:
            a_s, a_e = int(sa[x0]), int(ea[x1 - 1])
            result.removals.append(Span(a_s, a_e, text_a[a_s:a_e], index))

    # style differences between aligned tokens
    if seg_len:
        lengths = np.array(seg_len, np.int64)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ia = np.repeat(np.array(seg_a, np.int64), lengths) + within
        ib = np.repeat(np.array(seg_b, np.int64), lengths) + within
        owner = np.repeat(np.array(seg_owner, np.int64), lengths)
        tok_diff, sep_diff = _style_flags(cps_a, wsa, wea, cps_b, wsb, web, ia, ib)
        sep_diff &= np.append(owner[1:] == owner[:-1], False)
        flagged = tok_diff.copy()
        flagged |= sep_diff
        flagged[1:] |= sep_diff[:-1]
        marks = np.flatnonzero(flagged)
        if len(marks):
            # a group continues while the next flagged pair is the next token on both sides and
            # either token changed or the punctuation between them changed
            joins = (
                (marks[1:] == marks[:-1] + 1)
                & (ia[marks[1:]] == ia[marks[:-1]] + 1)
                & (ib[marks[1:]] == ib[marks[:-1]] + 1)
                & (owner[marks[1:]] == owner[marks[:-1]])
            )
            first = np.append(0, np.flatnonzero(~joins) + 1)
            last = np.append(first[1:], len(marks)) - 1
            for f, g in zip(marks[first].tolist(), marks[last].tolist(), strict=True):
                a_s, a_e = int(wsa[ia[f]]), int(wea[ia[g]])
                b_s, b_e = int(wsb[ib[f]]), int(web[ib[g]])
                result.substitutions.append(
                    Substitution(
                        a_s, a_e, b_s, b_e, text_a[a_s:a_e], text_b[b_s:b_e], "style", int(owner[f])
                    )
                )
    result.substitutions.sort(key=lambda s: (s.b_start, s.a_start))

    _unaligned(result.removals, text_a, covered_a, wsa, wea, nla)
    _unaligned(result.insertions, text_b, covered_b, wsb, web, nlb)
    return result


def _unaligned(
    out: list[Span],
    text: str,
    covered: np.ndarray,
    ws: np.ndarray,
    we: np.ndarray,
    newline_before: np.ndarray,
) -> None:
    """Insertions (or removals) outside every passage: one span per line of uncovered tokens."""
    for first, last in _line_runs(np.flatnonzero(~covered), newline_before):
        start, end = int(ws[first]), int(we[last])
        out.append(Span(start, end, text[start:end], None))
    out.sort(key=lambda s: s.start)
