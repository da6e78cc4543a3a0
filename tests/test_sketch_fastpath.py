"""The ASCII fast path of `sketch_texts` gives exactly the arrays of the general tokenizer, and
both the arrays of a plain reference (tokenize, Python shingle hashes, `oph_signature`,
np.unique)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neardup.config import Settings
from neardup.shingle import seed_mix, shingle_hashes_into
from neardup.sketch import SketchBatch, _sketch, oph_signature, sketch_texts
from neardup.text import tokenize

M64 = (1 << 64) - 1


def mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def reference_shingles(tokens: list[int], ngram: int, seedmix: int) -> list[int]:
    width = min(ngram, len(tokens))
    out = []
    for i in range(len(tokens) - width + 1 if tokens else 0):
        h = seedmix
        for t in tokens[i : i + width]:
            h = ((((h << 27) | (h >> 37)) & M64) ^ t) * 0x100000001B3 & M64
        out.append(mix64(h))
    return out


def reference_sketch(texts: list[str], s: Settings) -> SketchBatch:
    seedmix = int(seed_mix(s.seed))
    sigs, n_tokens, content, sets, anchors = [], [], [], [], []
    for text in texts:
        tokens = [int(h) for h in tokenize(text).hashes]
        ch = seedmix ^ len(tokens)
        for t in tokens:
            ch = mix64(ch ^ t)
        sh = np.array(reference_shingles(tokens, s.ngram, seedmix), np.uint64)
        sig = np.empty(s.num_perm, np.uint32)
        oph_signature(sh, len(sh), s.num_perm, np.uint64(seedmix), sig)
        values = np.unique((sh >> np.uint64(32)).astype(np.uint32))
        sigs.append(sig)
        n_tokens.append(len(tokens))
        content.append(ch)
        sets.append(values)
        anchors.append(values[values & np.uint32(s.anchor_rate - 1) == 0])

    def offsets(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)

    def flat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts).astype(np.uint32) if parts else np.empty(0, np.uint32)

    return SketchBatch(
        signatures=np.array(sigs, np.uint32).reshape(len(texts), s.num_perm),
        n_tokens=np.array(n_tokens, np.int64),
        content_hash=np.array(content, np.uint64),
        set_values=flat(sets),
        set_offsets=offsets(sets),
        anchor_values=flat(anchors),
        anchor_offsets=offsets(anchors),
    )


FIELDS = (
    "signatures",
    "n_tokens",
    "content_hash",
    "set_values",
    "set_offsets",
    "anchor_values",
    "anchor_offsets",
)

ADVERSARIAL = [
    "",
    " ",
    "\0",
    "word",
    "a",
    "two words",
    "U.S. officials said the U.N. and e.g. N.A.T.O. met in Washington, D.C. on Jan. 5.",
    "Don't say China's can't won't 'quoted' rock'n'roll o'clock ''' a'b' 'x `tick`",
    "A.B.C. a.b a. .a ..a a.. 1.5 3.14159 v1.2.3 x.y.z. i.e., ab.c a.bc ab'c a'.b a.'b",
    ".a.b.c. 'a'b'c' a.b'c.d e'f.g",
    "lots   of\t\tspace\n\nand\r\nlines\0nul\x01ctl",
    "averyveryverylongwordofmorethansixteencharacters and 1234567890123456789012345 x",
    "exactly8 exactly16charsxxx 7chars7 9charsnine 15charsfifteen 17charsseventeenx",
    "a " * 300,
    "abc" * 200,
    "ALL CAPS TEXT With Mixed Case and digits 0123 456",
    "~!@#$%^&*()_+{}|:<>?[]\\;,/ =-",
    # non-ASCII texts take the general tokenizer: batches mix both
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 Stra\u00dfe \u0130stanbul \ufb01ne",
    "Cafe\u0301 nai\u0308ve re\u0301sume\u0301",
    "\u4e2d\u6587\u6587\u672c\u6d4b\u8bd5\uff0c\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22 \u0e02\u0e2d\u0e07",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0643\u062a\u0627\u0628 \u0645\u064f\u062d\u064e\u0645\u0651\u064e\u062f",
    "Emoji \U0001f600 party \U0001f389 family \U0001f468\u200d\U0001f469\u200d\U0001f467 ok",
    "Astral \U00020000\U00020001 \U0001d400\U0001d401 math tag \U000e0041 end",
    "soft\u00adhyphen zero\u200bwidth \u201cCurly\u201d \u2018single\u2019 \u2014 dash",
    "China\u2019s U.S.\u2019 \u201cquote\u201d don\u2019t",
]


def assert_same(a: SketchBatch, b: SketchBatch) -> None:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape, f
        assert np.array_equal(x, y), f


def check(texts: list[str], s: Settings, reference: bool = True) -> None:
    fast = _sketch(texts, s, fast=True)
    assert_same(fast, _sketch(texts, s, fast=False))
    if reference:
        assert_same(fast, reference_sketch(texts, s))
    # and each text alone, so no batch neighbour decides anything
    alone = SketchBatch.concat([sketch_texts([t], s) for t in texts]) if texts else fast
    assert_same(fast, alone)


SETTINGS = [
    Settings(),
    Settings(ngram=1, num_perm=8, anchor_rate=1, seed=99),
    Settings(ngram=3, num_perm=64, anchor_rate=4, seed=7),
    Settings(ngram=9, num_perm=1000, anchor_rate=64, seed=2**32 - 1),
]


def test_adversarial_texts_fast_equals_general() -> None:
    for s in SETTINGS:
        check(ADVERSARIAL, s)
        check(ADVERSARIAL[::-1], s)
        check([t for t in ADVERSARIAL if t.isascii()], s)


def test_empty_batch_and_empty_texts() -> None:
    s = Settings()
    check([], s)
    check(["", "", ""], s)
    sk = sketch_texts(["", "x"], s)
    assert list(sk.n_tokens) == [0, 1] and len(sk.shingle_set(0)) == 0


def test_long_and_many_documents() -> None:
    rng = np.random.default_rng(5)
    words = ["the", "U.S.", "don't", "a", "e.g.", "internationalization", "x1", "9.5", "it's"]
    texts = [
        " ".join(rng.choice(words, size=int(rng.integers(0, 3000)))) + rng.choice(["", ".", " "])
        for _ in range(40)
    ]
    check(texts, Settings(), reference=False)
    check([*texts, "\u00e9t\u00e9 " * 50], Settings(ngram=2), reference=False)
    check(texts[:3], Settings())


ASCII = st.text(alphabet=st.sampled_from(list("abcXYZ019 .'`,-\n\t\0")), max_size=300)
ANY = st.text(max_size=200)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(texts=st.lists(st.one_of(ASCII, ASCII, ANY), max_size=12), k=st.integers(0, 3))
def test_random_texts_fast_equals_general(texts: list[str], k: int) -> None:
    check(texts, SETTINGS[k])


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    tokens=st.lists(st.integers(0, M64), max_size=40),
    ngram=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_shingle_hashes_match_the_reference(tokens: list[int], ngram: int, seed: int) -> None:
    seedmix = np.uint64(seed_mix(seed))
    arr = np.array(tokens, np.uint64)
    out = np.zeros(len(tokens) + 1, np.uint64)
    count = shingle_hashes_into(arr, len(tokens), ngram, seedmix, out)
    assert out[:count].tolist() == reference_shingles(tokens, ngram, int(seedmix))


def test_sets_larger_than_guessed() -> None:
    # one token a character: more shingles than the kernel guesses for non-ASCII texts
    cjk = "".join(chr(0x4E00 + i) for i in range(3000))
    for s in (Settings(ngram=1), Settings(ngram=2, anchor_rate=1)):
        check([cjk, "a b c", cjk[::-1], "\u00e9 " * 400], s, reference=False)
        check([cjk[:50], "x y"], s)
