"""Passage alignment: what two texts share, what one of them added or dropped, and the word-level
edits inside the shared passages, at character offsets into the ORIGINAL texts.

Method (seed, chain, select, merge, refine; near-linear in the length of the texts):

1. Tokenize both texts with `neardup.text` (tokens carry [start, end) offsets into the original
   text and the hash of their normalized form, so "U.S." and "US", "Justice" and "justice",
   "China's" and "China’s" are the same token).
2. Seeds: every k-gram of tokens (k = `ngram`, 5 by default) of B is looked up among the k-grams
   of A through a hash table, so the work is O(n + m), never n * m. A
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
   between them (at most `max_gap` tokens a side) are aligned, by a unit-cost edit distance over
   the token hashes: "replace" gives a word substitution, "insert"/"delete" an
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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np

from neardup.shingle import seed_mix, shingle_hashes_into
from neardup.text import Tokens, kernel_tables, tokenize_into

DEFAULT_NGRAM = 5
DEFAULT_MAX_GAP = 8
DEFAULT_MAX_INDEL = 2
DEFAULT_MIN_PASSAGE_TOKENS = 8
DEFAULT_MAX_OCCURRENCES = 32


@dataclass(slots=True)
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


@dataclass(slots=True)
class Span:
    """Text found on one side only: text[start:end]; `passage` is the index of the passage it
    sits in (a small insertion or removal inside shared text), or None."""

    start: int
    end: int
    text: str
    passage: int | None = None

    def to_dict(self, side: str) -> dict[str, Any]:
        return {side: [self.start, self.end], "text": self.text, "passage": self.passage}


@dataclass(slots=True)
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


class Substitutions(Sequence[Substitution]):
    """The substitutions of an alignment, made into `Substitution` objects only when looked at.

    A run writes most alignments straight to JSON, and a lightly edited copy has dozens of
    substitutions a pair: building an object for each was a tenth of the cost of aligning.
    Rows are (a_start, a_end, b_start, b_end, style, passage), style 1 for "style", 0 "word".
    """

    __slots__ = ("_items", "_rows", "_text_a", "_text_b")

    def __init__(self, rows: list[list[int]], text_a: str, text_b: str):
        self._rows = rows
        self._text_a = text_a
        self._text_b = text_b
        self._items: list[Substitution] | None = None

    def _all(self) -> list[Substitution]:
        if self._items is None:
            ta, tb = self._text_a, self._text_b
            self._items = [
                Substitution(a_s, a_e, b_s, b_e, ta[a_s:a_e], tb[b_s:b_e], _KINDS[style], p)
                for a_s, a_e, b_s, b_e, style, p in self._rows
            ]
        return self._items

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):  # type: ignore[override]
        return self._all()[i]

    def __iter__(self) -> Iterator[Substitution]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return repr(self._all())

    def dicts(self) -> list[dict[str, Any]]:
        """`Substitution.to_dict` of each, without the objects."""
        ta, tb = self._text_a, self._text_b
        return [
            {
                "a": [a_s, a_e],
                "b": [b_s, b_e],
                "a_text": ta[a_s:a_e],
                "b_text": tb[b_s:b_e],
                "kind": _KINDS[style],
                "passage": p,
            }
            for a_s, a_e, b_s, b_e, style, p in self._rows
        ]

    def compact(self) -> list[list[int]]:
        """[a_start, a_end, b_start, b_end, 0 for style or 1 for word] each (the report's form)."""
        return [[a_s, a_e, b_s, b_e, 1 - style] for a_s, a_e, b_s, b_e, style, _ in self._rows]

    def swapped(self) -> Substitutions:
        rows = [[b_s, b_e, a_s, a_e, style, p] for a_s, a_e, b_s, b_e, style, p in self._rows]
        return Substitutions(rows, self._text_b, self._text_a)


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
    substitutions: Sequence[Substitution] = field(default_factory=list)
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
            "substitutions": self.substitutions.dicts()
            if isinstance(self.substitutions, Substitutions)
            else [s.to_dict() for s in self.substitutions],
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
            self.substitutions.swapped()
            if isinstance(self.substitutions, Substitutions)
            else [
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
    # (an NFC text is what `tokenize` would compose it to: the same code points either way)
    n = len(cps)
    hashes = np.empty(n, np.uint64)
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    count = tokenize_into(cps, 0, n, *kernel_tables(), hashes, starts, ends)
    return Tokens(hashes[:count].copy(), starts[:count].copy(), ends[:count].copy()), cps


# --- seeds and runs -------------------------------------------------------------------------------


@nb.njit(cache=True)
def _grown(a, b, c, n):
    """Three int64 arrays of twice the room (at least 2), holding their first n values."""
    size = 2 * n + 2
    a2, b2, c2 = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.int64)
    a2[:n], b2[:n], c2[:n] = a[:n], b[:n], c[:n]
    return a2, b2, c2


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
    # A's k-grams in an open-addressing table: slot -> first position, positions chained in
    # increasing order through `following`, and the k-gram's count
    size = 1
    while size < 2 * nka:
        size <<= 1
    mask = np.uint64(size - 1)
    slot_key = np.empty(size, np.uint64)
    slot_first = np.full(size, -1, np.int64)
    slot_count = np.zeros(size, np.int64)
    following = np.empty(nka, np.int64)
    for i in range(nka - 1, -1, -1):
        h = ka[i]
        s = np.int64(h & mask)
        while slot_first[s] >= 0 and slot_key[s] != h:
            s = (s + 1) & (size - 1)
        slot_key[s] = h
        following[i] = slot_first[s]
        slot_first[s] = i
        slot_count[s] += 1
    # seeds (i, j) in order of j, chained into runs along their diagonal j - i as they come;
    # k-grams too frequent in A are skipped
    ra = np.empty(nkb + 16, np.int64)
    rb = np.empty(nkb + 16, np.int64)
    rl = np.empty(nkb + 16, np.int64)
    n_runs = 0
    diag_last = np.full(na + nb_ + 1, -2, np.int64)  # last j seen on each diagonal
    diag_run = np.empty(na + nb_ + 1, np.int64)
    for j in range(nkb):
        h = kb[j]
        s = np.int64(h & mask)
        while slot_first[s] >= 0 and slot_key[s] != h:
            s = (s + 1) & (size - 1)
        if slot_first[s] < 0 or slot_count[s] > max_occurrences:
            continue
        i = slot_first[s]
        while i >= 0:
            d = j - i + na
            if diag_last[d] == j - 1:
                rl[diag_run[d]] += 1
            else:
                if n_runs == len(ra):
                    ra, rb, rl = _grown(ra, rb, rl, n_runs)
                ra[n_runs] = i
                rb[n_runs] = j
                rl[n_runs] = k
                diag_run[d] = n_runs
                n_runs += 1
            diag_last[d] = j
            i = following[i]
    if n_runs == 0:
        return empty, empty, empty
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
                    out_a, out_b, out_len = _grown(out_a, out_b, out_len, n)
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


# --- gap edits, edges, passages (compiled) ----------------------------------------------------------

EQUAL, REPLACE, INSERT, DELETE = 0, 1, 2, 3
EDGE_WINDOW = 4


@nb.njit(cache=True)
def _gap_blocks(ha, a0, a1, hb, b0, b1):
    """Token alignment of a small gap, ha[a0:a1] against hb[b0:b1], by unit-cost edit distance:
    rows (kind, x0, x1, y0, y1) of alternating EQUAL stretches and changes, neighbouring edits
    joined into one change ("He said" -> "According to Vane" is one replacement, not an
    insertion and a replacement). Among alignments with the fewest edits, one with the most
    matched tokens wins."""
    n, m = a1 - a0, b1 - b0
    # score = edits * w - matches: fewest edits first, then most matched tokens
    w = n + m + 1
    score = np.empty((n + 1, m + 1), np.int64)
    for i in range(n + 1):
        score[i, 0] = i * w
    for j in range(m + 1):
        score[0, j] = j * w
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = ha[a0 + i - 1] == hb[b0 + j - 1]
            best = score[i - 1, j - 1] + (-1 if same else w)
            best = min(best, score[i - 1, j] + w)
            score[i, j] = min(best, score[i, j - 1] + w)
    # matched positions, from the end
    size = min(n, m)
    mi = np.empty(size, np.int64)
    mj = np.empty(size, np.int64)
    k = 0
    i, j = n, m
    while i > 0 and j > 0:
        same = ha[a0 + i - 1] == hb[b0 + j - 1]
        if same and score[i, j] == score[i - 1, j - 1] - 1:
            mi[k] = i - 1
            mj[k] = j - 1
            k += 1
            i -= 1
            j -= 1
        elif not same and score[i, j] == score[i - 1, j - 1] + w:
            i -= 1
            j -= 1
        elif score[i, j] == score[i - 1, j] + w:
            i -= 1
        else:
            j -= 1
    out = np.empty((2 * k + 1, 5), np.int64)
    rows = 0
    x, y = 0, 0  # end of what is written so far
    t = k - 1
    while t >= 0:
        s = t
        while t > 0 and mi[t - 1] == mi[t] + 1 and mj[t - 1] == mj[t] + 1:
            t -= 1
        ex, ey = mi[s], mj[s]  # an equal stretch [ex, ex + s - t + 1)
        if ex > x or ey > y:
            kind = REPLACE if ex > x and ey > y else (INSERT if ey > y else DELETE)
            out[rows] = (kind, a0 + x, a0 + ex, b0 + y, b0 + ey)
            rows += 1
        length = s - t + 1
        out[rows] = (EQUAL, a0 + ex, a0 + ex + length, b0 + ey, b0 + ey + length)
        rows += 1
        x, y = ex + length, ey + length
        t -= 1
    if n > x or m > y:
        kind = REPLACE if n > x and m > y else (INSERT if m > y else DELETE)
        out[rows] = (kind, a0 + x, a0 + n, b0 + y, b0 + m)
        rows += 1
    return out[:rows]


@nb.njit(cache=True)
def _edge_window(first, step, taken, newline_before):
    """How many words next to `first` (step -1: before it, +1: after it) are free and on its
    line, up to EDGE_WINDOW."""
    n, t = 0, first
    while n < EDGE_WINDOW:
        nxt = t + step
        if nxt < 0 or nxt >= len(taken) or taken[nxt]:
            break
        if newline_before[t if step < 0 else nxt]:
            break
        n += 1
        t = nxt
    return n


@nb.njit(cache=True)
def _equal_tokens(blocks):
    total, first, last = 0, -1, -1
    for r in range(len(blocks)):
        if blocks[r, 0] == EQUAL:
            total += blocks[r, 2] - blocks[r, 1]
            if first < 0:
                first = r
            last = r
    return total, first, last


@nb.njit(cache=True)
def _line_runs_into(covered, newline_before, ws, we, owner, out, n):
    """Append one row (start, end, owner) per line of consecutive tokens not covered."""
    t, size = 0, len(covered)
    while t < size:
        if covered[t]:
            t += 1
            continue
        first = t
        t += 1
        while t < size and not covered[t] and not newline_before[t]:
            t += 1
        out[n] = (ws[first], we[t - 1], owner)
        n += 1
    return n


@nb.njit(cache=True)
def _align_core(
    ha, sa, ea, cps_a, wsa, wea, nla,
    hb, sb, eb, cps_b, wsb, web, nlb,
    k, max_occurrences, max_gap, max_indel, min_tokens,
):  # fmt: skip
    """Steps 2-7 of the module docstring in one compiled pass, at character offsets.

    Returns passages (a_start, a_end, b_start, b_end, a_tokens, b_tokens, matched),
    substitutions (a_start, a_end, b_start, b_end, is_style, passage) sorted by b then a,
    insertions and removals (start, end, passage or -1) sorted by start, and the aligned token
    counts of A and B.
    """
    na, nb_ = len(ha), len(hb)
    ka, kb, kl = _seed_runs(ha, hb, k, max_occurrences, k)
    by_b = np.argsort(kb, kind="mergesort")
    ka, kb, kl = ka[by_b], kb[by_b], kl[by_b]
    n_runs = len(ka)
    # merge runs into passages (groups of consecutive runs)
    group_first = np.empty(n_runs + 1, np.int64)
    n_groups = 0
    for r in range(n_runs):
        if r > 0:
            gap_a = ka[r] - (ka[r - 1] + kl[r - 1])
            gap_b = kb[r] - (kb[r - 1] + kl[r - 1])
            if 0 <= gap_a <= max_gap and 0 <= gap_b <= max_gap and abs(gap_a - gap_b) <= max_indel:
                continue
        group_first[n_groups] = r
        n_groups += 1
    group_first[n_groups] = n_runs
    # edges: a passage takes in up to EDGE_WINDOW free words on its line at each end
    taken_a = np.zeros(na, np.bool_)
    taken_b = np.zeros(nb_, np.bool_)
    for r in range(n_runs):
        taken_a[ka[r] : ka[r] + kl[r]] = True
        taken_b[kb[r] : kb[r] + kl[r]] = True
    pre = np.full((n_groups, 2), -1, np.int64)
    post = np.full((n_groups, 2), -1, np.int64)
    for g in range(n_groups):
        a0, b0 = ka[group_first[g]], kb[group_first[g]]
        wa = _edge_window(a0, -1, taken_a, nla)
        wb = _edge_window(b0, -1, taken_b, nlb)
        if wa > 0 and wb > 0:
            blocks = _gap_blocks(ha, a0 - wa, a0, hb, b0 - wb, b0)
            eq, first, _ = _equal_tokens(blocks)
            if first >= 0 and max(wa - eq, wb - eq) <= max_indel:
                x, y = blocks[first, 1], blocks[first, 3]
                taken_a[x:a0] = True
                taken_b[y:b0] = True
                pre[g, 0], pre[g, 1] = x, y
        r = group_first[g + 1] - 1
        last_a, last_b = ka[r] + kl[r] - 1, kb[r] + kl[r] - 1
        wa = _edge_window(last_a, 1, taken_a, nla)
        wb = _edge_window(last_b, 1, taken_b, nlb)
        if wa > 0 and wb > 0:
            blocks = _gap_blocks(ha, last_a + 1, last_a + 1 + wa, hb, last_b + 1, last_b + 1 + wb)
            eq, _, last = _equal_tokens(blocks)
            if last >= 0 and max(wa - eq, wb - eq) <= max_indel:
                x, y = blocks[last, 2], blocks[last, 4]
                taken_a[last_a + 1 : x] = True
                taken_b[last_b + 1 : y] = True
                post[g, 0], post[g, 1] = x, y
    # refine each passage: matched stretches (segments) and the edits in the gaps between runs
    passages = np.empty((n_groups, 7), np.int64)
    segs = np.empty((nb_ + 1, 4), np.int64)  # a, b, length, passage
    edits = np.empty((na + nb_ + 2 * n_groups + 1, 6), np.int64)  # kind, x0, x1, y0, y1, passage
    n_pass, n_segs, n_edits = 0, 0, 0
    covered_a = np.zeros(na, np.bool_)
    covered_b = np.zeros(nb_, np.bool_)
    for g in range(n_groups):
        lo, hi = group_first[g], group_first[g + 1]
        size = hi - lo + 2
        ra = np.empty(size, np.int64)
        rb = np.empty(size, np.int64)
        rn = np.empty(size, np.int64)
        m = 0
        if pre[g, 0] >= 0:
            ra[m], rb[m], rn[m] = pre[g, 0], pre[g, 1], 0
            m += 1
        for r in range(lo, hi):
            ra[m], rb[m], rn[m] = ka[r], kb[r], kl[r]
            m += 1
        if post[g, 0] >= 0:
            ra[m], rb[m], rn[m] = post[g, 0], post[g, 1], 0
            m += 1
        seg0, edit0, matched = n_segs, n_edits, 0
        for r in range(m):
            a, b = ra[r], rb[r]
            if r > 0:
                ga0, gb0 = ra[r - 1] + rn[r - 1], rb[r - 1] + rn[r - 1]
                if a > ga0 or b > gb0:
                    blocks = _gap_blocks(ha, ga0, a, hb, gb0, b)
                    for t in range(len(blocks)):
                        if blocks[t, 0] == EQUAL:
                            length = blocks[t, 2] - blocks[t, 1]
                            segs[n_segs] = (blocks[t, 1], blocks[t, 3], length, n_pass)
                            n_segs += 1
                            matched += length
                        else:
                            edits[n_edits, :5] = blocks[t]
                            edits[n_edits, 5] = n_pass
                            n_edits += 1
            if rn[r] > 0:
                segs[n_segs] = (a, b, rn[r], n_pass)
                n_segs += 1
                matched += rn[r]
        if matched < min_tokens:
            n_segs, n_edits = seg0, edit0
            continue
        a_first, b_first = ra[0], rb[0]
        a_last, b_last = ra[m - 1] + rn[m - 1] - 1, rb[m - 1] + rn[m - 1] - 1
        covered_a[a_first : a_last + 1] = True
        covered_b[b_first : b_last + 1] = True
        passages[n_pass] = (
            wsa[a_first], wea[a_last], wsb[b_first], web[b_last],
            a_last - a_first + 1, b_last - b_first + 1, matched,
        )  # fmt: skip
        n_pass += 1
    # substitutions: word edits, then style differences between matched tokens
    n_matched_tokens = 0
    for s in range(n_segs):
        n_matched_tokens += segs[s, 2]
    subs = np.empty((n_edits + n_matched_tokens + 1, 6), np.int64)
    ins = np.empty((n_edits + nb_ + 1, 3), np.int64)
    rem = np.empty((n_edits + na + 1, 3), np.int64)
    n_subs, n_ins, n_rem = 0, 0, 0
    for e in range(n_edits):
        kind, x0, x1, y0, y1, owner = (
            edits[e, 0],
            edits[e, 1],
            edits[e, 2],
            edits[e, 3],
            edits[e, 4],
            edits[e, 5],
        )
        if kind == REPLACE:
            subs[n_subs] = (sa[x0], ea[x1 - 1], sb[y0], eb[y1 - 1], 0, owner)
            n_subs += 1
        elif kind == INSERT:
            ins[n_ins] = (sb[y0], eb[y1 - 1], owner)
            n_ins += 1
        else:
            rem[n_rem] = (sa[x0], ea[x1 - 1], owner)
            n_rem += 1
    ia = np.empty(n_matched_tokens, np.int64)
    ib = np.empty(n_matched_tokens, np.int64)
    owner = np.empty(n_matched_tokens, np.int64)
    t = 0
    for s in range(n_segs):
        for x in range(segs[s, 2]):
            ia[t], ib[t], owner[t] = segs[s, 0] + x, segs[s, 1] + x, segs[s, 3]
            t += 1
    tok_diff, sep_diff = _style_flags(cps_a, wsa, wea, cps_b, wsb, web, ia, ib)
    flagged = tok_diff.copy()
    for t in range(n_matched_tokens):
        if sep_diff[t] and (t + 1 == n_matched_tokens or owner[t + 1] != owner[t]):
            sep_diff[t] = False
        if sep_diff[t]:
            flagged[t] = True
            flagged[t + 1] = True
    # a group of flagged pairs continues while the next one is the next token on both sides
    t = 0
    while t < n_matched_tokens:
        if not flagged[t]:
            t += 1
            continue
        f = t
        while (
            t + 1 < n_matched_tokens
            and flagged[t + 1]
            and ia[t + 1] == ia[t] + 1
            and ib[t + 1] == ib[t] + 1
            and owner[t + 1] == owner[t]
        ):
            t += 1
        subs[n_subs] = (wsa[ia[f]], wea[ia[t]], wsb[ib[f]], web[ib[t]], 1, owner[f])
        n_subs += 1
        t += 1
    subs = subs[:n_subs]
    subs = subs[np.argsort(subs[:, 2] * (len(cps_a) + 1) + subs[:, 0], kind="mergesort")]
    # what is left outside every passage, one span per line
    n_ins = _line_runs_into(covered_b, nlb, wsb, web, -1, ins, n_ins)
    n_rem = _line_runs_into(covered_a, nla, wsa, wea, -1, rem, n_rem)
    ins = ins[:n_ins]
    rem = rem[:n_rem]
    ins = ins[np.argsort(ins[:, 0], kind="mergesort")]
    rem = rem[np.argsort(rem[:, 0], kind="mergesort")]
    return passages[:n_pass], subs, ins, rem, covered_a.sum(), covered_b.sum()


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
    text_a, tok_a = prep_a.text, prep_a.tokens
    text_b, tok_b = prep_b.text, prep_b.tokens
    na, nb_ = len(tok_a.hashes), len(tok_b.hashes)
    result = Alignment(len(text_a), len(text_b), na, nb_)
    k = max(1, min(ngram, na, nb_))
    min_tokens = max(1, min(min_passage_tokens, na, nb_))
    passages, subs, ins, rem, aligned_a, aligned_b = _align_core(
        tok_a.hashes, tok_a.starts, tok_a.ends, prep_a.cps,
        prep_a.word_starts, prep_a.word_ends, prep_a.newline_before,
        tok_b.hashes, tok_b.starts, tok_b.ends, prep_b.cps,
        prep_b.word_starts, prep_b.word_ends, prep_b.newline_before,
        k, max_occurrences, max_gap, max_indel, min_tokens,
    )  # fmt: skip
    result.aligned_a, result.aligned_b = int(aligned_a), int(aligned_b)
    for a_s, a_e, b_s, b_e, n_a, n_b, matched in passages.tolist():
        result.passages.append(
            Passage(a_s, a_e, b_s, b_e, n_a, n_b, matched, 2 * matched / (n_a + n_b))
        )
        result.matched += matched
    result.substitutions = Substitutions(subs.tolist(), text_a, text_b)
    result.insertions = [Span(s, e, text_b[s:e], None if p < 0 else p) for s, e, p in ins.tolist()]
    result.removals = [Span(s, e, text_a[s:e], None if p < 0 else p) for s, e, p in rem.tolist()]
    return result


_KINDS = ("word", "style")
