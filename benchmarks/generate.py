"""Generate a large synthetic news-like corpus with labelled near duplicates.

The corpus is used to choose neardup's defaults (precision / recall against known truth) and to
benchmark its speed. Only numpy and the standard library are needed (orjson is used when it is
importable; it writes the same bytes as the json fallback).

Usage::

    python benchmarks/generate.py --docs 100000 --dup-rate 0.3 --seed 7 \\
        --out benchmarks/data/news-100k.jsonl [--truth benchmarks/data/news-100k.truth.jsonl]
        [--workers 2]

or from Python: ``generate(n_docs, dup_rate=0.3, seed=7)`` yields the records,
``iter_corpus(...)`` yields ``(record, truth_or_None)`` pairs and ``write_corpus(path, n_docs,
...)`` writes both files and returns statistics (also printed to stderr by the CLI).

Output
------
The corpus (JSONL, one record a line, keys in this order)::

    {"id": "doc-0000001", "source": "<outlet>", "published": "2025-03-04T05:06:07Z",
     "title": "...", "text": "..."}

The truth file (default: OUT with ``.truth.jsonl`` for ``.jsonl``) has one line per copy;
documents not in it are originals, singletons or hard negatives::

    {"id": copy id, "original": id of the cluster's root original,
     "parent": id it was copied from, "edits": [edit names, in the order they were applied]}

Determinism: the same arguments give byte-identical files, whatever ``--workers`` is. Three
random streams are used: ``Generator(PCG64(seed))`` for copy edits and per-document draws,
one derived from (seed, "plan") for kinds, parents and entities, and one derived from
(seed, chunk number) for rendering each chunk's fresh documents. The words, names and outlets
come from a fixed VOCAB_SEED, so every corpus shares one "language".

Language model
--------------
* Vocabulary: ~200 real English function words ("the", "of", "said", "it's", ...) at the top
  ranks, then 50,000 pronounceable synthetic lowercase words built from syllables (shorter
  words tend to get the more frequent ranks). Words are drawn with Zipf-Mandelbrot weights
  ``(rank + 2) ** -1.1`` ("the" ~4%, function words ~57% of word draws) through a 2M-entry
  lookup table, so a draw is one vectorised gather.
* Every document has a story: 2-4 named entities (rare "First Last" people from a space of
  40M name pairs, 400 famous people, or 6,000 places; famous people and places are Zipf
  distributed) and 4 rarer topic words. Names are ~2.5% of the tokens (plus the speaker of
  every quote), topic words ~1.5%.
* Other tokens: numbers ("12", "1,250", "3.5%", "$4.2", years) ~1.2%, dotted abbreviations
  ("U.S.", "U.K.", "U.N.", "E.U.") ~0.3%, a standalone dash " - " ~0.2%, a capitalised content
  word ~1%.
* Sentences have 9-30 words (uniform), a capitalised first word and a final period; ~5% of
  words carry a comma; 7% of sentences are quotes: ``"Word ... word," said First Last.``
* Paragraphs have 2-8 sentences, documents 3-10 paragraphs joined by a blank line ("\\n\\n").
  On average a document has ~615 words and ~4.1 KB of text (originals ~645 words, 4.3 KB;
  copies are shorter because some are abridged). Titles have 6-12 title-cased words including
  the main entity and a topic word. 15% of originals open with a header: the title, then
  "By First Last, Outlet".
* Sources: 48 invented outlets ("The Harbor Ledger"), Zipf weights (s=0.7). Originals are
  spread over 2025-01-01 .. 2025-11-27 in id order; a copy is published 1 minute .. 5 days
  after its parent (log-normal, median 3 hours), so originals precede their copies.

Duplicates
----------
Each document slot is a copy with probability ``dup_rate``, a hard negative with probability
``hard_negative_rate`` (default 0.05), otherwise a fresh original.

* A copy's parent is drawn uniformly from a pool of 4,096 recent documents (once the pool is
  full a new document replaces a random member, so most copies follow their original within a
  few thousand documents and a few come much later). Parents may be copies (about a quarter
  of the copies are copies of copies). A cluster with k copies accepts another with probability
  CLUSTER_ACCEPT[k] = (1, 0.9, 0.8, 0.7, 0.5) and never more than 5, giving clusters of
  1/2/3/4/5 copies in about 59/22/10/5/3% of cases. A slot that finds no parent becomes an
  original (so dup_rate above ~0.6 is not reached in full). Copies name another outlet.
* A share ``exact_share`` (default 0.03) of copies are exact duplicates (same title and text;
  ~0.9% of all documents at dup_rate 0.3), edits ``["exact"]``.
* Every other copy gets each of these edits independently with the probability shown, applied
  in this order. An edit that cannot apply (truncating a 1-paragraph body) or changes nothing
  is not listed; if no edit changed anything, "substitute" is applied.

  ==================  ====  ==========================================================
  retitle             0.10  a fresh title on the same entities and topic words
  truncate            0.15  abridged: keep only the first 30-60% of the body paragraphs
  drop_paragraphs     0.20  drop 1-2 body paragraphs other than the first (body >= 4)
  substitute          0.60  replace 1-5% of the words with other content words, keeping
                            their capitalisation
  case                0.15  one of: title upper-cased (0.3), title in sentence case
                            (0.2), one body paragraph upper-cased (0.3), body lower-cased
                            (0.2)
  punctuation         0.35  each with p=0.5 (at least one; others tried if nothing
                            changed): straight <-> curly quotes and apostrophes; " - " <->
                            " \u2014 " / " \u2013 " / " -- "; "U.S." <-> "US" (and U.K., U.N., E.U.);
                            commas dropped from about half of the paragraphs
  ads                 0.30  1-3 invented promo lines ("Sponsored Links You May Like",
                            "ADVERTISEMENT", "Read more: ...") inserted as paragraphs
                            after the first
  add_header /        0.20  toggle the header: add "title / By Name, Outlet" when the
  remove_header             parent has none, else remove it
  ==================  ====  ==========================================================

* Hard negatives ("same topic, different story"): a new document with the entities and topic
  words of an existing pool document and ~60% of its title words, but freshly generated
  sentences (5-word-shingle Jaccard with its template ~0). They are not in the truth file.

Speed
-----
Fresh documents are rendered a chunk (2,000 slots) at a time: one array of word ids for all
tokens, sparse overrides for names, numbers, commas, sentence and paragraph ends, quotes, and
then the text bytes are gathered with numpy from a precomputed table of every word in each of
its 8 spellings ("w ", "W ", "w, ", "w. ", "w.\\n\\n", document end, '"W ', 'w," '). Copies are
edited with plain string operations. Cost: ~110 us of CPU per document (~9k documents/s on
one core); 1M documents (4.3 GB) take ~110 s of CPU and ~340 MB of memory. ``--workers N``
renders in N forked processes while the main process edits copies and writes, which helps
when cores are free.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing as mp
import re
import sys
import time
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

try:  # orjson is faster; both produce the same bytes with the settings below
    import orjson

    def _dumps(obj: dict[str, Any]) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - depends on the environment

    def _dumps(obj: dict[str, Any]) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Parameters of the model
# --------------------------------------------------------------------------------------------

VOCAB_SEED = 20250101  # the "language" (words, names, outlets) is the same for every corpus
N_CONTENT_WORDS = 50_000
ZIPF_S = 1.1
ZIPF_Q = 2.0  # Zipf-Mandelbrot offset: weight (rank + q) ** -s, so "the" is ~5% of words
LUT_SIZE = 1 << 21  # Zipf lookup table entries (uint16, 4 MB: small enough to stay in cache)
CLUT_SIZE = 1 << 20  # content-words-only lookup table

PARAGRAPHS = (3, 10)  # per document, inclusive
SENTENCES = (2, 8)  # per paragraph, inclusive
SENTENCE_WORDS = (9, 30)  # per sentence, inclusive (mean 19.5)
TITLE_WORDS = (6, 12)

P_ENTITY = 0.025  # token kinds (per token)
P_TOPIC = 0.015
P_NUMBER = 0.012
P_ABBREV = 0.003
P_DASH = 0.002
P_COMMA = 0.05  # token variants
P_CAPWORD = 0.01
P_QUOTE = 0.07  # per sentence
P_HEADER = 0.15  # originals that open with "title / By Name, Outlet"

POOL_SIZE = 4096
# A copy slot picks a random pool document as parent; its cluster, holding k copies so far,
# accepts with probability CLUSTER_ACCEPT[k] (else another pick, up to 4). Big clusters have
# more members in the pool, so this damps rich-get-richer growth; no cluster gets more than 5
# copies. Measured at dup_rate 0.3: clusters of 1-5 copies are 59/22/10/5/3%.
CLUSTER_ACCEPT = (1.0, 0.9, 0.8, 0.7, 0.5)
CHUNK = 2000

START_TS = 1735689600  # 2025-01-01T00:00:00Z
SPAN_S = 330 * 86400
DELAY_MEDIAN_S = 3 * 3600.0
DELAY_SIGMA = 1.2
DELAY_MAX_S = 5 * 86400.0

EDIT_PROBABILITIES: dict[str, float] = {
    "retitle": 0.10,
    "truncate": 0.15,
    "drop_paragraphs": 0.20,
    "substitute": 0.60,
    "case": 0.15,
    "punctuation": 0.35,
    "ads": 0.30,
    "header": 0.20,  # add_header or remove_header
}
TRUNCATE_KEEP = (0.30, 0.60)
SUBSTITUTE_RATE = (0.01, 0.05)

# Token variants: index into the string table as variant * n_base + base id.
PLAIN, CAP, COMMA, PERIOD, PARA, DOC, QOPEN, QCLOSE = range(8)
N_VARIANTS = 8
DOC_SEP = "\x1e"


def _split(s: str) -> list[str]:
    return s.split()


FUNCTION_WORDS = _split("""
the of and to a in that said is for on was with he it as at by his from be have has are
an not but they this who were will had its their been would which after about more than
also or one new when we there two she her over last year up into some out what could other
people first all our years them him no can so only before because government three while
states most may percent told time such any just do between being against during like
officials if should under now back since police million week country many these where both
how city those then through did including still four month even well according president
made state public next local former national group company report added minister since
however own without day today yesterday early later high major late second security years
around another same might each does several billion says official leaders members plan
support system health money program court house market news part family world life work
school water power team city economic political military election party office policy
chief deal home help law meeting nearly already among across least almost often never much
very too off down per five six ten hundred it's don't didn't isn't won't can't we're they're
""")

SYLLABLE_ONSETS = _split(
    "b c d f g h j k l m n p r s t v w z b d g k l m n p r s t br cr dr fr gr pr tr bl cl fl "
    "gl pl sl st sp sk sh ch th qu sn sm sw"
)
SYLLABLE_VOWELS = _split("a e i o u a e i o a e o u ai ea ee ou io oa ay")
SYLLABLE_CODAS = _split("n r s t l m nd st rt ck ng ns x n r s t l")

ABBREVIATIONS = ("U.S.", "U.K.", "U.N.", "E.U.")
ABBREVIATION_WEIGHTS = (0.6, 0.15, 0.15, 0.1)
UNDOTTED = {a: a.replace(".", "") for a in ABBREVIATIONS}

OUTLET_PARTS_A = _split(
    "Daily Morning Evening Northern Southern Coastal Valley Metro Capital Harbor Union Central "
    "Western Eastern Pacific Lakeside"
)
OUTLET_PARTS_B = _split("Herald Chronicle Courier Gazette Ledger Sentinel Tribune Observer Post")

AD_TEMPLATES = (
    "Sponsored Links You May Like",
    "Sponsored Links You May Like: {W} {W} Deals Everyone In {P} Is Talking About",
    "ADVERTISEMENT",
    "Advertisement - Scroll to continue reading",
    "Recommended For You: {W} {W} And The {W} Nobody Expected",
    "Read more: {W} {W} {W} Reveals {W} Plans",
    "Subscribe to our newsletter for the day's top stories from {O}.",
    "Download our app to get breaking news alerts from {O}.",
    "Trending Now: {W} {W} Stuns Fans With {W} Announcement",
    "Paid Content by {W} {W} Partners",
    "You May Also Like: {W} Tips From {W} Experts",
    "Follow {O} on social media for more updates.",
)


# --------------------------------------------------------------------------------------------
# Static tables (built once per process, from VOCAB_SEED)
# --------------------------------------------------------------------------------------------


def _variants(words: list[str]) -> list[list[str]]:
    """The eight spellings of each word, in variant order (see PLAIN ... QCLOSE), each with the
    separator that follows it, so that a text is the plain concatenation of its tokens."""
    cap = [w[:1].upper() + w[1:] for w in words]
    per = [w if w.endswith(".") else w + "." for w in words]
    return [
        [w + " " for w in words],
        [c + " " for c in cap],
        [w + ", " for w in words],
        [p + " " for p in per],
        [p + "\n\n" for p in per],
        [p + DOC_SEP for p in per],
        ['"' + c + " " for c in cap],
        [w + '," ' for w in words],
    ]


def _syllable_words(rng: np.random.Generator, n_syl: np.ndarray) -> list[str]:
    """One random word per entry of n_syl, made of that many syllables.

    A syllable is onset + vowel + coda; only a word's first syllable may lack an onset and
    inner syllables take at most a single-consonant coda, which keeps words pronounceable.
    """
    total = int(n_syl.sum())
    end = np.cumsum(n_syl)
    first = np.zeros(total, dtype=bool)
    first[end - n_syl] = True
    last = np.zeros(total, dtype=bool)
    last[end - 1] = True

    def pick(options: list[str]) -> np.ndarray:
        return np.asarray(options, dtype=object)[rng.integers(0, len(options), total)]

    onset = np.where(first, pick(SYLLABLE_ONSETS + [""] * 8), pick(SYLLABLE_ONSETS))
    coda = np.where(last, pick(SYLLABLE_CODAS + [""] * 10), pick(["n", "r", "l", "s"] + [""] * 8))
    syl = (onset + pick(SYLLABLE_VOWELS) + coda).tolist()
    return ["".join(syl[a:b]) for a, b in zip((end - n_syl).tolist(), end.tolist(), strict=True)]


def _unique_words(
    rng: np.random.Generator,
    n: int,
    syl: tuple[int, ...],
    p: tuple[float, ...],
    exclude: set[str],
    min_len: int = 3,
) -> list[str]:
    seen = set(exclude)
    out: list[str] = []
    while len(out) < n:
        need = n - len(out)
        words = _syllable_words(rng, rng.choice(np.asarray(syl), size=need + 64, p=p))
        for w in words:
            if len(w) >= min_len and w not in seen:
                seen.add(w)
                out.append(w)
    return out[:n]


def _zipf_lut(n: int, size: int, s: float, q: float) -> np.ndarray:
    """A table whose uniform sampling draws rank k (0-based) with probability ~ (k + 1 + q)**-s
    (to within one table entry: largest-remainder rounding, every rank gets at least one)."""
    assert n <= 1 << 16 and size > n
    w = (np.arange(1, n + 1, dtype=np.float64) + q) ** -s
    exact = w / w.sum() * (size - n)
    counts = np.floor(exact).astype(np.int64) + 1
    short = size - int(counts.sum())
    counts[np.argsort(counts - 1 - exact, kind="stable")[:short]] += 1
    return np.repeat(np.arange(n, dtype=np.uint16), counts)


def _zipf_cdf(n: int, s: float) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=np.float64) ** -s
    c = np.cumsum(w)
    return c / c[-1]


@dataclass(frozen=True)
class _Tables:
    base: list[str]  # base strings: function words, content words, numbers, abbreviations, dash
    flat: np.ndarray  # object array: flat[variant * nb + base_id]
    flat_bytes: np.ndarray  # uint8: all of flat's strings (ASCII) concatenated
    flat_len: np.ndarray  # int64: their lengths
    flat_off: np.ndarray  # int64: their offsets in flat_bytes
    nb: int
    n_func: int
    n_content: int
    num_off: int
    num_n: int
    abbr_ids: np.ndarray
    abbr_cdf: np.ndarray
    dash_id: int
    said_id: int
    lut: np.ndarray  # uniform index -> base id (uint16), Zipf over function + content words
    clut: np.ndarray  # uniform index -> base id (int32), Zipf over content words only
    first: list[str]
    last: list[str]
    places: list[str]
    place_cdf: np.ndarray
    famous: np.ndarray  # entity ids of famous people
    famous_cdf: np.ndarray
    outlets: list[str]
    outlet_cdf: np.ndarray

    @property
    def person_space(self) -> int:
        return len(self.first) * len(self.last)

    def entity(self, e: int) -> str:
        """Entity id -> name: 'First Last' for people, a place name otherwise."""
        ps = len(self.first) * len(self.last)
        if e < ps:
            f, la = divmod(e, len(self.last))
            return f"{self.first[f]} {self.last[la]}"
        return self.places[e - ps]


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    rng = np.random.Generator(np.random.PCG64(VOCAB_SEED))
    func = list(dict.fromkeys(FUNCTION_WORDS))
    content = _unique_words(rng, N_CONTENT_WORDS, (1, 2, 3, 4), (0.02, 0.38, 0.44, 0.16), set(func))
    # Frequent words are shorter (with noise): sort by length + noise, keep that as rank order.
    key = np.array([len(w) for w in content], dtype=np.float64) + rng.normal(0, 10.0, len(content))
    content = [content[k] for k in np.argsort(key, kind="stable").tolist()]

    nums: list[str] = [str(k) for k in range(1, 101)]
    nums += [str(y) for y in range(1990, 2026)]
    nums += [f"{k:,}" for k in rng.integers(1000, 250_000, 500).tolist()]
    nums += [f"{x:.1f}" for x in rng.uniform(0.1, 99.9, 300).tolist()]
    nums += [f"{x:.1f}%" for x in rng.uniform(0.1, 60, 200).tolist()]
    nums += [f"{k}%" for k in range(1, 100)]
    nums += [f"${x:.1f}" for x in rng.uniform(1, 900, 300).tolist()]
    nums = list(dict.fromkeys(nums))

    base = func + content + nums + list(ABBREVIATIONS) + ["-"]
    n_func, n_content = len(func), len(content)
    num_off = n_func + n_content
    abbr_off = num_off + len(nums)
    dash_id = abbr_off + len(ABBREVIATIONS)
    nb = len(base)
    flat = np.array(_variants(base), dtype=object)
    flat[:, dash_id] = "- "
    flat = flat.ravel()
    flat_len = np.array([len(w) for w in flat.tolist()], dtype=np.int64)

    lut = _zipf_lut(n_func + n_content, LUT_SIZE, ZIPF_S, ZIPF_Q)
    clut = _zipf_lut(n_content, CLUT_SIZE, ZIPF_S, ZIPF_Q).astype(np.int32) + n_func
    abbr_cdf = np.cumsum(ABBREVIATION_WEIGHTS)
    abbr_cdf /= abbr_cdf[-1]

    syl = (2, 3)
    first = [w.capitalize() for w in _unique_words(rng, 2000, syl, (0.7, 0.3), set(), 4)]
    last = [
        w.capitalize() for w in _unique_words(rng, 20000, (2, 3, 4), (0.4, 0.45, 0.15), set(), 5)
    ]
    suffixes = ("ville", "burg", "ton", "ford", "ia", "stad", " City", " Falls", "mouth", "")
    sfx = rng.integers(0, len(suffixes), 6000).tolist()
    stems = _unique_words(rng, 6000, (1, 2, 3), (0.3, 0.5, 0.2), set(), 3)
    places = [w.capitalize() + suffixes[k] for w, k in zip(stems, sfx, strict=True)]
    famous = rng.choice(len(first) * len(last), 400, replace=False).astype(np.int64)
    names_a = rng.permutation(len(OUTLET_PARTS_A)).tolist()
    outlets = [
        f"The {OUTLET_PARTS_A[names_a[k % len(names_a)]]} {OUTLET_PARTS_B[k % len(OUTLET_PARTS_B)]}"
        for k in range(48)
    ]
    return _Tables(
        base=base,
        flat=flat,
        flat_bytes=np.frombuffer("".join(flat.tolist()).encode("ascii"), dtype=np.uint8),
        flat_len=flat_len,
        flat_off=np.cumsum(flat_len) - flat_len,
        nb=nb,
        n_func=n_func,
        n_content=n_content,
        num_off=num_off,
        num_n=len(nums),
        abbr_ids=np.arange(abbr_off, abbr_off + len(ABBREVIATIONS), dtype=np.int32),
        abbr_cdf=abbr_cdf,
        dash_id=dash_id,
        said_id=func.index("said"),
        lut=lut,
        clut=clut,
        first=first,
        last=last,
        places=places,
        place_cdf=_zipf_cdf(len(places), 1.0),
        famous=famous,
        famous_cdf=_zipf_cdf(len(famous), 1.0),
        outlets=outlets,
        outlet_cdf=_zipf_cdf(len(outlets), 0.7),
    )


# --------------------------------------------------------------------------------------------
# Rendering fresh documents (vectorised; in worker processes when workers > 1)
# --------------------------------------------------------------------------------------------


def _derived_rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *tags])))


def _name_table(t: _Tables, ents: np.ndarray) -> list[list[str]]:
    """The spellings of every entity slot: [variant][document * 4 + slot]."""
    return _variants([t.entity(e) for e in ents.ravel().tolist()])


_SCRATCH: dict[str, np.ndarray] = {}


def _scratch(name: str, size: int, dtype: type) -> np.ndarray:
    """A reusable array of at least `size` elements (fresh large arrays cost page faults)."""
    arr = _SCRATCH.get(name)
    if arr is None or arr.size < size:
        arr = _SCRATCH[name] = np.empty(max(size, 1) * 5 // 4, dtype=dtype)
    return arr[:size]


def _concat(
    t: _Tables, gid: np.ndarray, ep: np.ndarray, slot: np.ndarray, names: list[list[str]]
) -> str:
    """The concatenation of the strings flat[gid], except that token ep[k] is the entity
    spelling names[variant][slot[k]] (with the variant that gid[ep[k]] names).

    Done on bytes with numpy (all strings are ASCII): a gather of the token lengths, then
    of every output byte. About twice as fast as joining a list of Python strings.
    """
    dyn = [w for variant in names for w in variant]
    dyn_len = np.array([len(w) for w in dyn], dtype=np.int64)
    dyn_off = t.flat_bytes.size + np.cumsum(dyn_len) - dyn_len
    buf = np.concatenate([t.flat_bytes, np.frombuffer("".join(dyn).encode("ascii"), np.uint8)])
    tok_len = t.flat_len[gid]
    tok_off = t.flat_off[gid]
    dyn_idx = (gid[ep] // t.nb) * len(names[0]) + slot
    tok_len[ep] = dyn_len[dyn_idx]
    tok_off[ep] = dyn_off[dyn_idx]
    ends = np.cumsum(tok_len)
    size = int(ends[-1])
    # src = the byte of buf that each output byte copies: +1 inside a token, a jump at the
    # start of each token; built as the running sum of these steps.
    src = _scratch("src", size, np.int64)
    src.fill(1)
    src[ends[:-1]] = tok_off[1:] - (tok_off[:-1] + tok_len[:-1] - 1)
    src[0] = tok_off[0]
    np.cumsum(src, out=src)
    out = np.take(buf, src, out=_scratch("out", size, np.uint8))
    return str(out.data, "ascii")


def _render_titles(
    rng: np.random.Generator, t: _Tables, topics: np.ndarray, names: list[list[str]]
) -> list[str]:
    """One title per document: title-cased words, a topic word and the main entity."""
    n = topics.shape[0]
    tl = rng.integers(TITLE_WORDS[0], TITLE_WORDS[1] + 1, n)
    total = int(tl.sum())
    end = np.cumsum(tl)
    start = end - tl
    base = np.where(
        rng.random(total) < 0.7,
        t.clut[rng.integers(0, t.clut.size, total, dtype=np.uint32)],
        t.lut[rng.integers(0, t.lut.size, total, dtype=np.uint32)],
    )
    base[start + rng.integers(0, tl)] = topics[np.arange(n), rng.integers(0, 4, n)]
    var = np.where(base >= t.n_func, CAP, PLAIN)
    var[start] = CAP
    strs = t.flat.take(var * t.nb + base)
    strs[start + rng.integers(0, tl)] = names[PLAIN][::4]
    words = strs.tolist()
    return ["".join(words[a:b])[:-1] for a, b in zip(start.tolist(), end.tolist(), strict=True)]


def _render(job: tuple[int, int, np.ndarray, np.ndarray]) -> tuple[list[str], list[str]]:
    """Titles and texts of fresh documents with the given (n, 4) entities and topic words.

    job = (seed, chunk number, entities, topics); the chunk's own random stream makes the
    result independent of which process renders it.
    """
    seed, chunk, ents, topics = job
    n = ents.shape[0]
    if n == 0:
        return [], []
    rng = _derived_rng(seed, 0xB0D1E5, chunk)
    t = _tables()
    names = _name_table(t, ents)
    titles = _render_titles(rng, t, topics, names)

    n_par = rng.integers(PARAGRAPHS[0], PARAGRAPHS[1] + 1, n)
    n_sent = rng.integers(SENTENCES[0], SENTENCES[1] + 1, int(n_par.sum()))
    slen = rng.integers(SENTENCE_WORDS[0], SENTENCE_WORDS[1] + 1, int(n_sent.sum()))
    n_tok = int(slen.sum())
    send = np.cumsum(slen) - 1  # last token of each sentence
    sstart = send - slen + 1
    sent_doc = np.repeat(np.repeat(np.arange(n), n_par), n_sent)
    doc_end = np.cumsum(np.bincount(sent_doc, weights=slen, minlength=n)).astype(np.int64)

    def sample(p: float) -> np.ndarray:
        """About p * n_tok token positions (collisions are harmless)."""
        return rng.integers(0, n_tok, rng.binomial(n_tok, p))

    def place(m: np.ndarray, before: int, after: int) -> np.ndarray:
        """Positions with at least `before` / `after` other tokens around them in the sentence."""
        s = np.searchsorted(send, m)
        return m[(m - sstart[s] >= before) & (send[s] - m >= after)]

    def doc_of(m: np.ndarray) -> np.ndarray:
        return np.searchsorted(doc_end, m, side="right")

    # gid = variant * nb + base id; every token starts as a PLAIN common word.
    nb = t.nb
    gid = t.lut[rng.integers(0, t.lut.size, n_tok, dtype=np.uint32)].astype(np.int32)
    m = sample(P_TOPIC)
    gid[m] = topics[doc_of(m), rng.integers(0, 4, m.size)]
    m = sample(P_NUMBER)
    gid[m] = t.num_off + rng.integers(0, t.num_n, m.size)
    m = sample(P_ABBREV)
    gid[m] = t.abbr_ids[np.searchsorted(t.abbr_cdf, rng.random(m.size))]
    gid[place(sample(P_DASH), 2, 4)] = t.dash_id
    gid[place(sample(P_COMMA), 1, 2)] += COMMA * nb
    m = sample(P_CAPWORD)
    m = m[gid[m] % nb >= t.n_func]  # a capitalised content word: an organisation, a product
    gid[m] = gid[m] % nb + CAP * nb
    gid[sstart] = gid[sstart] % nb + CAP * nb
    gid[send] = gid[send] % nb + PERIOD * nb
    par_last = np.cumsum(n_sent) - 1
    gid[send[par_last]] += (PARA - PERIOD) * nb
    gid[send[par_last[np.cumsum(n_par) - 1]]] += (DOC - PARA) * nb
    q = rng.random(slen.size) < P_QUOTE  # "Quoted words ... word," said Name.
    qs, qe = sstart[q], send[q]
    gid[qs] += (QOPEN - CAP) * nb
    gid[qe - 2] = gid[qe - 2] % nb + QCLOSE * nb
    gid[qe - 1] = t.said_id
    ep = sample(P_ENTITY)
    ep = np.concatenate([ep[~np.isin(ep, qe - 1)], qe])

    slot = doc_of(ep) * 4 + rng.integers(0, 4, ep.size)
    texts = _concat(t, gid, ep, slot, names).split(DOC_SEP)
    texts.pop()  # the joined text ends with DOC_SEP
    return titles, texts


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------

ORIGINAL, COPY, HARD_NEGATIVE = 0, 1, 2
_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z]{2,}")
_UNDOTTED_RE = re.compile(r"\b(?:" + "|".join(UNDOTTED.values()) + r")\b")
_DOTTED = {b: a for a, b in UNDOTTED.items()}


@dataclass(slots=True)
class _Doc:
    title: str
    text: str
    header: int  # number of header paragraphs at the start of text (0 or 2)
    published: int  # unix seconds
    source: int


@dataclass(slots=True)
class _Plan:
    chunk: int
    lo: int
    kinds: list[int]
    links: list[int]  # parent (copies) or template (hard negatives), else -1
    job: tuple[int, int, np.ndarray, np.ndarray]  # for _render: the chunk's fresh documents


def _doc_id(i: int) -> str:
    return f"doc-{i + 1:07d}"


class _Generator:
    """Plans each chunk (kinds, parents, pool) with one random stream, renders fresh documents
    with a stream per chunk and edits copies with a third, so the output does not depend on
    how many worker processes render."""

    def __init__(
        self,
        n_docs: int,
        dup_rate: float,
        seed: int,
        hard_negative_rate: float,
        exact_share: float,
        workers: int = 1,
    ) -> None:
        if n_docs < 0:
            raise ValueError("n_docs must be >= 0")
        if not 0.0 <= dup_rate < 1.0:
            raise ValueError("dup_rate must be in [0, 1)")
        if not 0.0 <= hard_negative_rate <= 1.0 - dup_rate:
            raise ValueError("hard_negative_rate must be in [0, 1 - dup_rate]")
        if not 0.0 <= exact_share <= 1.0:
            raise ValueError("exact_share must be in [0, 1]")
        self.n = n_docs
        self.seed = seed
        self.dup_rate = dup_rate
        self.hn_rate = hard_negative_rate
        self.exact_share = exact_share
        self.workers = workers
        self.rng = np.random.Generator(np.random.PCG64(seed))  # edits and per-document draws
        self.plan_rng = _derived_rng(seed, 0x91A2)
        self.t = _tables()
        self.dt = SPAN_S / max(n_docs, 1)
        self.ents = np.zeros((n_docs, 4), dtype=np.int64)
        self.topics = np.zeros((n_docs, 4), dtype=np.int32)
        self.root = array("q", bytes(8 * n_docs))
        self.ncopies = bytearray(n_docs)  # per root: copies so far
        self.pool: list[int] = []
        self.last_use: dict[int, int] = {}  # doc -> last planned chunk that copies it
        self.store: dict[int, _Doc] = {}
        self.stats = {"copies": 0, "exact": 0, "copies_of_copies": 0, "hard_negatives": 0}

    # ---- planning -----------------------------------------------------------------------------

    def _draw_entities(self, n: int) -> np.ndarray:
        """(n, 4) entity ids: 2-4 distinct entities per document, repeated to fill 4 slots."""
        rng, t = self.plan_rng, self.t
        u = rng.random((n, 4))
        rare = rng.integers(0, len(t.first), (n, 4)) * len(t.last)
        rare += rng.integers(0, len(t.last), (n, 4))
        famous = t.famous[np.searchsorted(t.famous_cdf, rng.random((n, 4)))]
        place = t.person_space + np.searchsorted(t.place_cdf, rng.random((n, 4)))
        e = np.where(u < 0.5, rare, np.where(u < 0.75, famous, place))
        k = rng.integers(2, 5, n)
        for s in (2, 3):
            short = k <= s
            e[short, s] = e[short, s - k[short]]
        return e

    def _plan(self, chunk: int) -> _Plan:
        """Kinds and parents / templates of one chunk; updates the pool and cluster sizes."""
        rng, t = self.plan_rng, self.t
        lo = chunk * CHUNK
        hi = min(self.n, lo + CHUNK)
        n = hi - lo
        uk = rng.random(n).tolist()
        up = rng.random((n, 4)).tolist()
        ur = rng.random(n).tolist()
        ua = rng.random((n, 4)).tolist()
        accept = (*CLUSTER_ACCEPT, 0.0)
        ents, topics = self.ents, self.topics
        ents[lo:hi] = self._draw_entities(n)
        topics[lo:hi] = rng.integers(t.n_func + 800, t.n_func + t.n_content, (n, 4))
        kinds: list[int] = []
        links: list[int] = []
        pool, root, ncopies = self.pool, self.root, self.ncopies
        last_use = self.last_use
        for j in range(n):
            i = lo + j
            kind, link = ORIGINAL, -1
            if pool:
                if uk[j] < self.dup_rate:
                    for a in range(4):
                        cand = pool[int(up[j][a] * len(pool))]
                        if ua[j][a] < accept[ncopies[root[cand]]]:
                            kind, link = COPY, cand
                            break
                elif uk[j] < self.dup_rate + self.hn_rate:
                    kind, link = HARD_NEGATIVE, pool[int(up[j][0] * len(pool))]
            if kind == COPY:
                root[i] = root[link]
                ncopies[root[link]] += 1
            else:
                root[i] = i
            if link >= 0:
                ents[i] = ents[link]
                topics[i] = topics[link]
                last_use[link] = chunk
            if len(pool) < POOL_SIZE:
                pool.append(i)
            else:
                pool[int(ur[j] * POOL_SIZE)] = i
            kinds.append(kind)
            links.append(link)
        fresh = lo + np.array([j for j, k in enumerate(kinds) if k != COPY], dtype=np.int64)
        return _Plan(chunk, lo, kinds, links, (self.seed, chunk, ents[fresh], topics[fresh]))

    # ---- small random helpers (edit stream) ---------------------------------------------------

    def _content_words(self, k: int) -> list[str]:
        t = self.t
        ids = t.clut[(self.rng.random(k) * t.clut.size).astype(np.intp)]
        return [t.base[j] for j in ids.tolist()]

    def _person(self) -> str:
        t = self.t
        u = self.rng.random(2).tolist()
        return f"{t.first[int(u[0] * len(t.first))]} {t.last[int(u[1] * len(t.last))]}"

    def _title(self, i: int) -> str:
        """A fresh title for document i: content words, a topic word and the main entity."""
        t = self.t
        u = self.rng.random(4).tolist()
        n = TITLE_WORDS[0] + int(u[0] * (TITLE_WORDS[1] - TITLE_WORDS[0] + 1))
        words = [w.capitalize() for w in self._content_words(n)]
        words[int(u[1] * n)] = t.base[int(self.topics[i, int(u[2] * 4)])].capitalize()
        words[int(u[3] * n)] = t.entity(int(self.ents[i, 0]))
        return " ".join(words)

    def _ad(self, source: int) -> str:
        t = self.t
        u = self.rng.random(2).tolist()
        tpl = AD_TEMPLATES[int(u[0] * len(AD_TEMPLATES))]
        words = [w.capitalize() for w in self._content_words(tpl.count("{W}"))]
        place = t.places[int(np.searchsorted(t.place_cdf, u[1]))]
        out = tpl.replace("{P}", place).replace("{O}", t.outlets[source])
        for w in words:
            out = out.replace("{W}", w, 1)
        return out

    # ---- edits --------------------------------------------------------------------------------

    def _substitute(self, text: str, rate: float) -> str:
        """Replace about rate * (number of words) words, keeping their capitalisation."""
        k = max(1, round(len(text) / 6.7 * rate))  # ~6.7 characters a word (str.count is slow)
        offsets = sorted(set((self.rng.random(k) * len(text)).astype(np.intp).tolist()))
        out: list[str] = []
        last = 0
        for off, rep in zip(offsets, self._content_words(len(offsets)), strict=True):
            mt = _WORD.search(text, max(off, last))
            if mt is None and not out:  # the offset fell after the last word
                mt = _WORD.search(text)
            if mt is None:
                break
            a, b = mt.span()
            core = mt.group()
            if core.isupper():
                rep = rep.upper()
            elif core[0].isupper():
                rep = rep.capitalize()
            out.append(text[last:a])
            out.append(rep)
            last = b
        out.append(text[last:])
        return "".join(out)

    def _punctuate(self, text: str, u: list[float]) -> str:
        """Apply each punctuation change with p=0.5 (at least one); if the drawn ones change
        nothing (no quotes, dashes or abbreviations in the text), try the others in turn."""
        chosen = [k for k in range(4) if u[k] < 0.5] or [int(u[4] * 4)]
        original = text
        for k in chosen + [k for k in range(4) if k not in chosen]:
            if k not in chosen and text != original:
                break
            if k == 0:  # quotes and apostrophes
                if "\u201c" in text or "\u2019" in text:
                    text = text.replace("\u201c", '"').replace("\u201d", '"')
                    text = text.replace("\u2019", "'")
                else:
                    text = text.replace(',"', ",\u201d").replace('"', "\u201c")
                    text = text.replace("'", "\u2019")
            elif k == 1:  # dashes
                if " - " in text:
                    text = text.replace(" - ", (" \u2014 ", " \u2013 ", " -- ")[int(u[5] * 3)])
                else:
                    for d in (" \u2014 ", " \u2013 ", " -- "):
                        text = text.replace(d, " - ")
            elif k == 2:  # abbreviations
                if any(a in text for a in ABBREVIATIONS):
                    for a, b in UNDOTTED.items():
                        text = text.replace(a, b)
                else:
                    text = _UNDOTTED_RE.sub(lambda mt: _DOTTED[mt.group()], text)
            else:  # commas: drop them from about half of the paragraphs (at least one)
                body = text.split("\n\n")
                drop = self.rng.random(len(body))
                drop[int(u[5] * len(body))] = 0.0
                body = [
                    p.replace(", ", " ") if d < 0.5 else p for p, d in zip(body, drop, strict=True)
                ]
                text = "\n\n".join(body)
        return text

    def _copy(self, i: int, parent: _Doc, source: int) -> tuple[_Doc, list[str]]:
        rng = self.rng
        u = rng.random(24).tolist()
        delay = DELAY_MEDIAN_S * float(np.exp(DELAY_SIGMA * rng.standard_normal()))
        published = parent.published + int(min(DELAY_MAX_S, max(60.0, delay)))
        if u[0] < self.exact_share:
            return _Doc(parent.title, parent.text, parent.header, published, source), ["exact"]

        want = {name: u[k + 1] < p for k, (name, p) in enumerate(EDIT_PROBABILITIES.items())}
        title = parent.title
        paras = parent.text.split("\n\n")
        header, body = paras[: parent.header], paras[parent.header :]
        keep = int(len(body) * (TRUNCATE_KEEP[0] + u[9] * (TRUNCATE_KEEP[1] - TRUNCATE_KEEP[0])))
        keep = max(1, keep)
        do_truncate = want["truncate"] and keep < len(body)
        do_drop = want["drop_paragraphs"] and (keep if do_truncate else len(body)) >= 4
        others = ("retitle", "substitute", "case", "punctuation", "ads", "header")
        if not (do_truncate or do_drop or any(want[k] for k in others)):
            want["substitute"] = True
        edits: list[str] = []

        if want["retitle"]:
            title = self._title(i)
            edits.append("retitle")
        if do_truncate:
            body = body[:keep]
            edits.append("truncate")
        if do_drop:
            gone = set((1 + rng.permutation(len(body) - 1)[: 1 + int(u[10] * 2)]).tolist())
            body = [b for j, b in enumerate(body) if j not in gone]
            edits.append("drop_paragraphs")
        text = "\n\n".join(body)
        if want["substitute"]:
            rate = SUBSTITUTE_RATE[0] + u[11] * (SUBSTITUTE_RATE[1] - SUBSTITUTE_RATE[0])
            text = self._substitute(text, rate)
            edits.append("substitute")
        if want["case"]:
            before = (title, text)
            r = u[12]
            if r < 0.3:
                title = title.upper()
            elif r < 0.5:
                title = title.capitalize()
            elif r < 0.8:
                body = text.split("\n\n")
                j = int(u[13] * len(body))
                body[j] = body[j].upper()
                text = "\n\n".join(body)
            else:
                text = text.lower()
            if (title, text) != before:
                edits.append("case")
        if want["punctuation"]:
            before_text = text
            text = self._punctuate(text, u[14:20])
            if text != before_text:  # there may be nothing to change
                edits.append("punctuation")
        if want["ads"]:
            body = text.split("\n\n")
            for where in rng.random(1 + int(u[20] * 3)).tolist():
                body.insert(1 + int(where * len(body)), self._ad(source))
            text = "\n\n".join(body)
            edits.append("ads")
        h = parent.header
        if want["header"]:
            if h:
                header, h = [], 0
                edits.append("remove_header")
            else:
                header, h = [title, f"By {self._person()}, {self.t.outlets[source]}"], 2
                edits.append("add_header")
        if header:
            text = "\n\n".join([*header, text])
        if text == parent.text and title == parent.title:  # every drawn edit was a no-op
            text = self._substitute(text, SUBSTITUTE_RATE[0])
            if "substitute" not in edits:
                edits.append("substitute")
        return _Doc(title, text, h, published, source), edits

    # ---- output -------------------------------------------------------------------------------

    def _emit(
        self, plan: _Plan, rendered: tuple[list[str], list[str]]
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        rng, t, store, stats = self.rng, self.t, self.store, self.stats
        titles, texts = rendered
        n = len(plan.kinds)
        usrc = np.searchsorted(t.outlet_cdf, rng.random(n)).tolist()
        uhead = rng.random(n).tolist()
        jitter = rng.random(n).tolist()
        f = 0
        made: list[tuple[_Doc, dict[str, Any] | None]] = []
        for j, (kind, link) in enumerate(zip(plan.kinds, plan.links, strict=True)):
            i = plan.lo + j
            source = usrc[j]
            truth: dict[str, Any] | None = None
            if kind == COPY:
                parent = store[link]
                if source == parent.source:
                    source = (source + 1) % len(t.outlets)
                doc, edits = self._copy(i, parent, source)
                root = self.root[i]
                truth = {
                    "id": _doc_id(i),
                    "original": _doc_id(root),
                    "parent": _doc_id(link),
                    "edits": edits,
                }
                stats["copies"] += 1
                stats["exact"] += edits == ["exact"]
                stats["copies_of_copies"] += link != root
            else:
                title, text = titles[f], texts[f]
                f += 1
                if kind == HARD_NEGATIVE:  # keep ~60% of the template's title words
                    old = store[link].title.split(" ")
                    new = title.split(" ")
                    keep = rng.random(len(old)).tolist()
                    title = " ".join(
                        w if k < 0.6 else new[x % len(new)]
                        for x, (w, k) in enumerate(zip(old, keep, strict=True))
                    )
                    stats["hard_negatives"] += 1
                h = 0
                if uhead[j] < P_HEADER:
                    h = 2
                    text = f"{title}\n\nBy {self._person()}, {t.outlets[source]}\n\n{text}"
                published = START_TS + int((i + 0.9 * jitter[j]) * self.dt)
                doc = _Doc(title, text, h, published, source)
            store[i] = doc
            made.append((doc, truth))
        stamps = np.datetime_as_string(
            np.array([doc.published for doc, _ in made], dtype="datetime64[s]"), unit="s"
        ).tolist()
        for j, ((doc, truth), stamp) in enumerate(zip(made, stamps, strict=True)):
            record = {
                "id": _doc_id(plan.lo + j),
                "source": t.outlets[doc.source],
                "published": stamp + "Z",
                "title": doc.title,
                "text": doc.text,
            }
            yield record, truth
        # Forget documents that no planned chunk will copy and that left the pool.
        alive = set(self.pool)
        last_use = self.last_use
        for d in [d for d in store if d not in alive and last_use.get(d, -1) <= plan.chunk]:
            del store[d]
            last_use.pop(d, None)

    def __iter__(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        plans = (self._plan(c) for c in range(-(-self.n // CHUNK)))
        if self.workers <= 1:
            for plan in plans:
                yield from self._emit(plan, _render(plan.job))
            return
        ctx = mp.get_context("fork")
        with ctx.Pool(self.workers) as procs:
            pending: deque[tuple[_Plan, Any]] = deque()
            for plan in plans:
                pending.append((plan, procs.apply_async(_render, (plan.job,))))
                if len(pending) > 2 * self.workers:
                    done, result = pending.popleft()
                    yield from self._emit(done, result.get())
            while pending:
                done, result = pending.popleft()
                yield from self._emit(done, result.get())


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def iter_corpus(
    n_docs: int,
    dup_rate: float = 0.3,
    seed: int = 7,
    *,
    hard_negative_rate: float = 0.05,
    exact_share: float = 0.03,
    workers: int = 1,
) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Yield (record, truth) pairs in id order; truth is None for documents that are not copies.

    workers > 1 renders fresh documents in that many forked processes; the output is the same.
    """
    yield from _Generator(n_docs, dup_rate, seed, hard_negative_rate, exact_share, workers)


def generate(
    n_docs: int,
    dup_rate: float = 0.3,
    seed: int = 7,
    *,
    hard_negative_rate: float = 0.05,
    exact_share: float = 0.03,
    workers: int = 1,
) -> Iterator[dict[str, Any]]:
    """Yield the corpus records (dicts with id, source, published, title, text) in id order."""
    for record, _ in iter_corpus(
        n_docs,
        dup_rate,
        seed,
        hard_negative_rate=hard_negative_rate,
        exact_share=exact_share,
        workers=workers,
    ):
        yield record


def default_truth_path(out: str | Path) -> Path:
    """OUT.jsonl -> OUT.truth.jsonl (any other name gets .truth.jsonl appended)."""
    out = Path(out)
    name = out.name.removesuffix(".jsonl")
    return out.with_name(name + ".truth.jsonl")


def write_corpus(
    path: str | Path,
    n_docs: int,
    dup_rate: float = 0.3,
    seed: int = 7,
    *,
    truth_path: str | Path | None = None,
    hard_negative_rate: float = 0.05,
    exact_share: float = 0.03,
    workers: int = 1,
) -> dict[str, Any]:
    """Write the corpus to path and the truth to truth_path (default: see default_truth_path).

    Returns statistics: counts, average text size (characters and words), speed.
    """
    path = Path(path)
    truth_path = default_truth_path(path) if truth_path is None else Path(truth_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    gen = _Generator(n_docs, dup_rate, seed, hard_negative_rate, exact_share, workers)
    chars = words = 0
    with path.open("wb") as out, truth_path.open("wb") as tout:
        lines: list[bytes] = []
        tlines: list[bytes] = []
        texts: list[str] = []

        def flush() -> None:
            nonlocal chars, words
            out.write(b"\n".join(lines) + b"\n")
            if tlines:
                tout.write(b"\n".join(tlines) + b"\n")
            # Words are separated by one space or by a paragraph break ("\n\n"); counted on
            # bytes with numpy, as str.count costs ~2 us per KB.
            blob = np.frombuffer("".join(texts).encode("utf-8"), dtype=np.uint8)
            chars += sum(map(len, texts))
            words += int(np.count_nonzero(blob == 32)) + int(np.count_nonzero(blob == 10)) // 2
            words += len(texts)
            lines.clear()
            tlines.clear()
            texts.clear()

        for record, truth in gen:
            texts.append(record["text"])
            lines.append(_dumps(record))
            if truth is not None:
                tlines.append(_dumps(truth))
            if len(lines) >= CHUNK:
                flush()
        if lines:
            flush()
        size = out.tell()
    elapsed = time.perf_counter() - started
    n = max(n_docs, 1)
    return {
        "docs": n_docs,
        **gen.stats,
        "avg_text_chars": chars / n,
        "avg_words": words / n,
        "avg_line_bytes": size / n,
        "bytes": size,
        "seconds": elapsed,
        "docs_per_second": n_docs / elapsed if elapsed else float("inf"),
        "out": str(path),
        "truth": str(truth_path),
    }


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it to the OS after every chunk:
    the per-chunk arrays and strings then reuse pages instead of faulting in fresh ones
    (about 60% fewer page faults). Process-wide, so only the CLI does it; no-op elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        libc.mallopt(-2, 64 << 20)  # M_TOP_PAD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD (glibc's maximum)
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Generate a synthetic news corpus with labelled near duplicates."
    )
    ap.add_argument("--docs", type=int, default=100_000, help="number of documents")
    ap.add_argument("--dup-rate", type=float, default=0.3, help="share of slots that are copies")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True, help="corpus JSONL to write")
    ap.add_argument("--truth", help="truth JSONL (default: OUT with .truth.jsonl)")
    ap.add_argument("--hard-negative-rate", type=float, default=0.05)
    ap.add_argument("--exact-share", type=float, default=0.03, help="share of exact copies")
    ap.add_argument(
        "--workers", type=int, default=1, help="render processes (the output is the same)"
    )
    args = ap.parse_args(argv)
    _keep_freed_memory()
    stats = write_corpus(
        args.out,
        args.docs,
        args.dup_rate,
        args.seed,
        truth_path=args.truth,
        hard_negative_rate=args.hard_negative_rate,
        exact_share=args.exact_share,
        workers=args.workers,
    )
    print(
        f"{stats['docs']:,} docs ({stats['copies']:,} copies, {stats['exact']:,} exact, "
        f"{stats['copies_of_copies']:,} copies of copies, {stats['hard_negatives']:,} hard "
        f"negatives) in {stats['seconds']:.1f} s = {stats['docs_per_second']:,.0f} docs/s; "
        f"average text {stats['avg_text_chars']:,.0f} chars, {stats['avg_words']:.0f} words, "
        f"{stats['avg_line_bytes']:,.0f} bytes a line; {stats['bytes'] / 1e6:,.1f} MB -> "
        f"{stats['out']}, truth -> {stats['truth']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
