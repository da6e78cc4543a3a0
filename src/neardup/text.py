"""Normalization and tokenization: text -> tokens, each with its character offsets and a hash.

Normalization (what makes "U.S." match "US", and a curly quote a straight one):

1. Unicode NFKC and case folding, applied per code point through a precomputed table
   (`fold_table`), so the tokenizer can run on raw code points in a compiled loop and still
   report offsets into the ORIGINAL text. Texts that are not in NFC (decomposed accents) are
   composed first; that is the only step that may shift offsets, and it is rare in news text.
2. Quotes, apostrophes and dashes are folded to their ASCII forms; Arabic-script letter variants
   (Arabic yeh/kaf to the Urdu/Persian forms) are unified and short vowel marks and tatweel are
   dropped, since newspapers and agencies type them inconsistently.
3. Dots inside abbreviations are dropped: a dot that follows a one-character segment and is
   followed by a letter or digit joins the two ("U.S." -> "us", "e.g." -> "eg"). An apostrophe
   between two letters is dropped ("don't" -> "dont", "China's" -> "chinas").
4. Every other punctuation mark, symbol and space separates tokens; format characters (zero-width
   joiners, soft hyphens, bidi marks) are ignored.
5. Scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) give one
   token per character, so word n-grams over them are character n-grams and mixed-language
   corpora work with one setting.

A token's hash is FNV-1a over its folded code points, finished with the splitmix64 mixer: pure
integer arithmetic, identical on every machine and process.
"""

from __future__ import annotations

import contextlib
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.cpython.unicode import _get_code_point
from numba.extending import intrinsic, overload

SEP, WORD, CHAR, APOS, DOT, IGNORE = 0, 1, 2, 3, 4, 5

U64 = np.uint64
FNV_OFFSET = U64(0xCBF29CE484222325)
FNV_PRIME = U64(0x100000001B3)
M1 = U64(0xBF58476D1CE4E5B9)
M2 = U64(0x94D049BB133111EB)
S30, S27, S31 = U64(30), U64(27), U64(31)

# Ranges of scripts written without spaces: one token per character.
_CHAR_TOKEN_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
)

_EXTRA_FOLD = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u0060\u00b4", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
    "\u064a": "\u06cc",  # Arabic yeh -> Farsi/Urdu yeh
    "\u0649": "\u06cc",  # alef maksura -> Farsi/Urdu yeh
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
}
# Arabic short vowels, shadda, sukun, superscript alef, tatweel: typed inconsistently.
_ARABIC_IGNORED = {*range(0x064B, 0x0660), 0x0670, 0x0640}


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LMN"


@lru_cache(maxsize=1)
def fold_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`build_fold_table()`, kept next to the compiled kernels (building it asks unicodedata
    about each of 65,536 code points: about 0.2 s that every run would spend at start-up)."""
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    path = Path(cache_dir) / f"fold-table-{unicodedata.unidata_version}.npz" if cache_dir else None
    names = ("klass", "fold_start", "fold_len", "chars")
    if path is not None and path.exists():
        try:
            with np.load(path) as saved:
                return tuple(saved[name] for name in names)  # type: ignore[return-value]
        except Exception:  # a damaged cache file: built again below
            pass
    tables = build_fold_table()
    if path is not None:
        with contextlib.suppress(OSError):
            tmp = path.with_name(f".{path.name}.{os.getpid()}.npz")
            np.savez(tmp, **dict(zip(names, tables, strict=True)))
            os.replace(tmp, path)  # whole or not at all, whoever writes it first
    return tables


def build_fold_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-code-point tables for the Basic Multilingual Plane.

    Returns (klass, fold_start, fold_len, fold_chars): code point c belongs to class klass[c] and
    folds to fold_chars[fold_start[c] : fold_start[c] + fold_len[c]]. Code points above the BMP are
    classified by range in the kernel (CJK extensions are characters, emoji separate, the rest
    are letters kept as they are). A code point that folds to a single one (nearly all) has
    fold_len 1 and fold_start holding the folded code point itself, saving a lookup.
    """
    size = 0x10000
    klass = np.zeros(size, np.uint8)
    fold_start = np.zeros(size, np.int32)
    fold_len = np.zeros(size, np.uint8)
    chars: list[int] = []
    char_ranges = _CHAR_TOKEN_RANGES
    for c in range(size):
        ch = chr(c)
        if 0xD800 <= c <= 0xDFFF:
            continue  # surrogates: separators
        if c in _ARABIC_IGNORED or unicodedata.category(ch) == "Cf":
            klass[c] = IGNORE
            continue
        folded = unicodedata.normalize("NFKC", ch).casefold()
        folded = "".join(_EXTRA_FOLD.get(x, x) for x in folded)
        if folded == "'":
            klass[c] = APOS
        elif folded == ".":
            klass[c] = DOT
        elif folded and all(_is_word_char(x) for x in folded):
            first = ord(folded[0])
            is_char_token = any(lo <= first <= hi for lo, hi in char_ranges)
            klass[c] = CHAR if is_char_token else WORD
            fold_len[c] = len(folded)
            if len(folded) == 1:
                fold_start[c] = first  # the common case: the folded code point itself
            else:
                fold_start[c] = len(chars)
                chars.extend(ord(x) for x in folded)
        # everything else stays SEP
    return klass, fold_start, fold_len, np.array(chars, dtype=np.uint32)


@nb.njit
def mix64(z):
    """splitmix64 finalizer: a bijection on 64-bit integers with good avalanche."""
    z = (z ^ (z >> S30)) * M1
    z = (z ^ (z >> S27)) * M2
    return z ^ (z >> S31)


@lru_cache(maxsize=1)
def kernel_tables() -> tuple[np.ndarray, np.ndarray]:
    """The fold table packed for the tokenizer: one uint32 per BMP code point, so each character
    costs one lookup. Bits 0-20: the folded code point (or, for a multi-character folding, its
    start in fold_chars); bits 21-25: the folding's length; bits 26-28: the class."""
    klass, fold_start, fold_len, fold_chars = fold_table()
    packed = (
        (klass.astype(np.uint32) << np.uint32(26))
        | (np.minimum(fold_len, 31).astype(np.uint32) << np.uint32(21))
        | fold_start.astype(np.uint32)
    )
    return packed, fold_chars


def code_point_at(seq, i):  # pragma: no cover - replaced by the overload in compiled code
    """Code point i of a str or of an array of code points."""
    return ord(seq[i]) if isinstance(seq, str) else seq[i]


@overload(code_point_at)
def _code_point_at(seq, i):
    if isinstance(seq, types.UnicodeType):
        # read the str's own buffer (1, 2 or 4 bytes a character): no copy, no encoding
        return lambda seq, i: _get_code_point(seq, i)
    return lambda seq, i: seq[i]


@nb.njit
def _entry(c, packed):
    """Packed table entry of code point c (computed by range above the BMP)."""
    if c < 0x10000:
        return packed[c]
    if 0x20000 <= c <= 0x3FFFF:
        k = CHAR
    elif 0x1F000 <= c <= 0x1FAFF or c >= 0xE0000:
        k = SEP
    else:
        k = WORD
    return np.uint32((k << 26) | (1 << 21) | c)


@nb.njit
def _feed(h, e, fold_chars):
    """FNV-1a step over the folded form of a character, given its packed table entry."""
    n = (e >> np.uint32(21)) & np.uint32(31)
    v = e & np.uint32(0x1FFFFF)
    if n == 1:
        return (h ^ U64(v)) * FNV_PRIME
    for k in range(n):
        h = (h ^ U64(fold_chars[v + k])) * FNV_PRIME
    return h


@nb.njit(cache=True, nogil=True)
def tokenize_into(cps, lo, hi, packed, fold_chars, out_hash, out_start, out_end):
    """Tokenize cps[lo:hi] into the output arrays (offsets relative to lo); returns the count.

    `cps` is a str or an array of code points.
    `packed, fold_chars` are `kernel_tables()`. The output arrays must hold at least hi - lo
    tokens (every token has one character or more).
    """
    n = 0
    i = lo
    while i < hi:
        e = _entry(code_point_at(cps, i), packed)
        k = e >> np.uint32(26)
        if k == CHAR:
            out_hash[n] = mix64(_feed(FNV_OFFSET, e, fold_chars))
            out_start[n] = i - lo
            out_end[n] = i - lo + 1
            n += 1
            i += 1
            continue
        if k != WORD:
            i += 1
            continue
        # a word: letters and digits, joined across abbreviation dots, inner apostrophes and
        # ignorable format characters
        start = i
        h = FNV_OFFSET
        seg = 0  # length of the current segment since the word start or the last joined dot
        last_word = i
        while i < hi:
            e = _entry(code_point_at(cps, i), packed)
            k = e >> np.uint32(26)
            if k == WORD:
                h = _feed(h, e, fold_chars)
                seg += 1
                last_word = i
                i += 1
            elif k == IGNORE:
                i += 1
            elif (k == DOT and seg == 1) or k == APOS:
                if (
                    i + 1 < hi
                    and (_entry(code_point_at(cps, i + 1), packed) >> np.uint32(26)) == WORD
                ):
                    seg = 0
                    i += 1
                else:
                    break
            else:
                break
        out_hash[n] = mix64(h)
        out_start[n] = start - lo
        out_end[n] = last_word + 1 - lo
        n += 1
    return n


# ---------------------------------------------------------------------------------------------
# The ASCII fast path: the same tokens and hashes as `tokenize_into`, for texts of ASCII only,
# found with bit masks over 64 characters at a time instead of a branch per character.
# In ASCII: word characters are the letters and digits (folded: c | 0x20, a no-op on digits),
# "'" and "`" are apostrophes, "." is a dot, everything else separates; no character is
# ignored or a token by itself, and every folding is one character.
# ---------------------------------------------------------------------------------------------

L20 = U64(0x2020202020202020)


@intrinsic
def _cttz(typingctx, x):
    """Count of trailing zero bits of a uint64 (64 for 0)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@intrinsic
def _popcount(typingctx, x):
    """Number of set bits of a uint64."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def _load_u64(typingctx, arr, i):
    """The 8 bytes arr[i : i + 8] of a uint8 array as a little-endian uint64 (any alignment;
    no bounds check: the caller pads the array)."""
    sig = types.uint64(arr, types.intp)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        ptr = builder.bitcast(ptr, ir.IntType(64).as_pointer())
        return builder.load(ptr, align=1)

    return sig, codegen


@intrinsic
def _as_u8_ptr(typingctx, p):
    """A str's data pointer (`s._data`) as a uint8 pointer."""
    sig = types.CPointer(types.uint8)(types.voidptr)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(8).as_pointer())

    return sig, codegen


@nb.njit
def ascii_bytes(s):
    """The bytes of a str of kind 1 (ASCII or latin-1: one byte a character) without a copy;
    valid while the str lives."""
    assert s._kind == 1
    return nb.carray(_as_u8_ptr(s._data), len(s))


@nb.njit
def ascii_masks(buf, wmask, jmask):
    """Bit masks of buf[: 64 * (len(buf) // 64)] (ASCII), bit k of word b for character 64 b + k:
    wmask the word characters, jmask the dots and apostrophes that join two word characters
    into one token (an apostrophe between two of them; a dot after a one-character segment,
    i.e. a word character not preceded by another, and before a word character)."""
    nblk = len(buf) >> 6  # (known not negative, so are the indexes: the loops vectorize)
    for b in range(nblk):
        p = b << 6
        w = U64(0)
        for k in range(64):
            c = buf[p + k]
            lc = c | np.uint8(0x20)
            is_word = (np.uint8(lc - np.uint8(97)) < np.uint8(26)) | (
                np.uint8(c - np.uint8(48)) < np.uint8(10)
            )
            w |= U64(is_word) << U64(k)
        wmask[b] = w
    prev = U64(0)
    for b in range(nblk):
        p = b << 6
        a = U64(0)
        d = U64(0)
        for k in range(64):
            c = buf[p + k]
            a |= U64((c == np.uint8(39)) | (c == np.uint8(96))) << U64(k)
            d |= U64(c == np.uint8(46)) << U64(k)
        w = wmask[b]
        nxt = wmask[b + 1] if b + 1 < nblk else U64(0)
        wp1 = (w << U64(1)) | (prev >> U64(63))  # bit p: character p - 1 is a word character
        wp2 = (w << U64(2)) | (prev >> U64(62))
        wn1 = (w >> U64(1)) | (nxt << U64(63))  # bit p: character p + 1 is
        jmask[b] = (a | (d & ~wp2)) & wp1 & wn1
        prev = w


@nb.njit
def _bit(mask, p):
    return (mask[p >> 6] >> U64(p & 63)) & U64(1)


@nb.njit
def _fnv8(x8, length, hashes, count):
    """FNV-1a steps over up to 8 folded characters per value: hashes[i] advanced by the first
    min(length[i], 8) bytes of x8[i]. Branch-free over arrays, so the compiler runs it on
    several values at once (vector multiplies)."""
    for i in range(count):
        x = x8[i]
        n = length[i]
        h = hashes[i]
        for k in range(8):
            hk = (h ^ ((x >> U64(8 * k)) & U64(0xFF))) * FNV_PRIME
            h = hk if k < n else h
        hashes[i] = h


@nb.njit
def _bit_positions(bits, base, out, n):
    """Write base + the position of each set bit of `bits` to out[n:], in order; return the new
    n. out needs 16 values of room past the end."""
    count = np.int64(_popcount(bits))
    for k in range(12):  # unconditional stores: no branch per bit
        out[n + k] = base + np.int64(_cttz(bits))
        bits &= bits - U64(1)
    k = 12
    while bits:
        out[n + k] = base + np.int64(_cttz(bits))
        bits &= bits - U64(1)
        k += 1
    return n + count


@nb.njit(cache=True, nogil=True)
def ascii_token_count(lo, hi, wmask, jmask):
    """How many tokens `ascii_token_hashes` finds in [lo, hi): runs of word characters less
    the joiners between them."""
    b0 = lo >> 6
    b1 = hi >> 6
    lo_keep = ~U64(0) << U64(lo & 63)
    hi_keep = (U64(2) << U64(hi & 63)) - U64(1)
    prev = wmask[b0 - 1] if b0 > 0 else U64(0)
    n = U64(0)
    for b in range(b0, b1 + 1):
        w = wmask[b]
        keep = (lo_keep if b == b0 else ~U64(0)) & (hi_keep if b == b1 else ~U64(0))
        n += _popcount(w & ~((w << U64(1)) | (prev >> U64(63))) & keep)
        n -= _popcount(jmask[b] & keep)
        prev = w
    return np.int64(n)


@nb.njit(cache=True, nogil=True)
def ascii_token_hashes(buf, lo, hi, wmask, jmask, out_hash, run_start, run_end, x8, length, idx):
    """Token hashes of buf[lo:hi] (ASCII) into out_hash, the same as `tokenize_into` gives;
    returns their count. wmask, jmask: `ascii_masks` of buf; buf[lo - 1] and buf[hi] must
    separate and 8 bytes after hi must be readable. The other arrays are scratch, of at least
    (hi - lo) // 2 + 32 values.

    A token is one run of word characters, or several joined by jmask characters. Each run is
    hashed 8 characters at a time over all runs together (`_fnv8`), longer runs in further
    rounds; the few runs continuing a token then carry on from the hash of the previous one.
    """
    nr = 0
    ne = 0
    nj = 0
    b0 = lo >> 6
    b1 = hi >> 6
    lo_keep = ~U64(0) << U64(lo & 63)
    hi_keep = (U64(2) << U64(hi & 63)) - U64(1)  # positions <= hi
    prev = wmask[b0 - 1] if b0 > 0 else U64(0)
    for b in range(b0, b1 + 1):
        w = wmask[b]
        wp1 = (w << U64(1)) | (prev >> U64(63))
        prev = w
        s = w & ~wp1  # a run starts here
        e = ~w & wp1  # a run ended just before
        keep = (lo_keep if b == b0 else ~U64(0)) & (hi_keep if b == b1 else ~U64(0))
        nj += np.int64(_popcount(jmask[b] & keep))
        nr = _bit_positions(s & keep, b << 6, run_start, nr)
        ne = _bit_positions(e & keep, b << 6, run_end, ne)
    # first 8 characters of every run
    for r in range(nr):
        st = run_start[r]
        length[r] = run_end[r] - st
        x8[r] = _load_u64(buf, st) | L20
        out_hash[r] = FNV_OFFSET
    _fnv8(x8, length, out_hash, nr)
    # the next 8 of the runs longer than that, and so on
    m = 0
    for r in range(nr):
        idx[m] = r
        m += length[r] > 8
    done = 8
    while m > 0:
        for q in range(m):
            r = idx[q]
            x8[nr + q] = _load_u64(buf, run_start[r] + done) | L20
            length[nr + q] = length[r] - done
            out_hash[nr + q] = out_hash[r]
        _fnv8(x8[nr:], length[nr:], out_hash[nr:], m)
        m2 = 0
        for q in range(m):
            r = idx[q]
            out_hash[r] = out_hash[nr + q]
            idx[m2] = r
            m2 += length[nr + q] > 8
        m = m2
        done += 8
    if nj > 0:
        # runs joined to the next one by an apostrophe or a dot: find each by its end (the
        # joiner's position), hash the next run on from it, then drop it from the tokens
        nc = 0
        lo_r = 0
        for b in range(b0, b1 + 1):
            keep = (lo_keep if b == b0 else ~U64(0)) & (hi_keep if b == b1 else ~U64(0))
            jb = jmask[b] & keep
            while jb:
                p = (b << 6) + np.int64(_cttz(jb))
                jb &= jb - U64(1)
                # the run ending at p: binary search in run_end[lo_r:nr]
                a = lo_r
                z = nr - 1
                while a < z:
                    mid = (a + z) >> 1
                    if run_end[mid] < p:
                        a = mid + 1
                    else:
                        z = mid
                h = out_hash[a]
                for k in range(run_start[a + 1], run_end[a + 1]):
                    h = (h ^ U64(buf[k] | np.uint8(0x20))) * FNV_PRIME
                out_hash[a + 1] = h
                idx[nc] = a
                nc += 1
                lo_r = a + 1
        # drop the continued runs
        n = idx[0]
        for c in range(nc):
            stop = idx[c + 1] if c + 1 < nc else nr
            for r in range(idx[c] + 1, stop):
                out_hash[n] = out_hash[r]
                n += 1
        nr = n
    for r in range(nr):
        out_hash[r] = mix64(out_hash[r])
    return nr


def compose(text: str) -> str:
    """The text in Unicode NFC (decomposed accents composed); unchanged if it already is."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def to_code_points(text: str) -> np.ndarray:
    """The text's code points as uint32 (composed to NFC first when it is not already)."""
    return np.frombuffer(compose(text).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@dataclass(frozen=True)
class Tokens:
    """Tokens of one text: hash, and [start, end) character offsets into the text."""

    hashes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)


def tokenize(text: str) -> Tokens:
    """Tokens of `text` with their offsets into `text` (see the module docstring)."""
    cps = to_code_points(text)
    n = len(cps)
    hashes = np.empty(n, np.uint64)
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    count = tokenize_into(cps, 0, n, *kernel_tables(), hashes, starts, ends)
    return Tokens(hashes[:count].copy(), starts[:count].copy(), ends[:count].copy())


def normalize(text: str) -> str:
    """The normalized text: folded tokens joined by single spaces (a readable reference of what
    the tokenizer hashes; `tokenize` is what the pipeline uses)."""
    klass, fold_start, fold_len, fold_chars = fold_table()
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    toks = tokenize(text)
    words = []
    for s, e in zip(toks.starts.tolist(), toks.ends.tolist(), strict=True):
        out = []
        for ch in text[s:e]:
            c = ord(ch)
            if c >= 0x10000:
                out.append(ch)
            elif klass[c] in (WORD, CHAR):
                st = int(fold_start[c])
                if fold_len[c] == 1:
                    out.append(chr(st))
                else:
                    out.extend(chr(x) for x in fold_chars[st : st + int(fold_len[c])])
        words.append("".join(out))
    return " ".join(words)
