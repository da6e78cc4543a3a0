"""Normalization and tokenization: what users expect to match, matches."""

import pytest

from neardup.text import normalize, tokenize


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The U.S. Justice Department", "The US justice department"),
        ("China’s “position”", 'China\'s "position"'),
        ("talks – until the summit", "talks - until the summit"),
        ("ＦＵＬＬＷＩＤＴＨ text", "fullwidth TEXT"),
        ("ﬁnancial", "financial"),
        ("e.g. at 9 a.m.", "eg at 9 am"),
        ("Sino-U.S. ties", "Sino-US ties"),
        ("  lots\n\n of\t space  ", "lots of space"),
        ("STRASSE", "straße"),
        ("cafe\u0301", "café"),  # decomposed accent composes
    ],
)
def test_variants_normalize_alike(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("The U.S. and U.K.", "the us and uk"),
        ("don't stop", "dont stop"),
        ("Mr. Smith went to St. Louis.", "mr smith went to st louis"),
        ("12:23 AM, $50 million", "12 23 am 50 million"),
        ("北京欢迎你", "北 京 欢 迎 你"),
        ("ภาษาไทย", "ภ า ษ า ไ ท ย"),
        ("Tokyo 東京 mixed", "tokyo 東 京 mixed"),
        ("", ""),
        ("... --- !!!", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_arabic_script_variants_fold() -> None:
    # Arabic yeh/kaf vs the Urdu forms, diacritics and zero-width non-joiner are typed inconsistently
    assert normalize("كتاب") == normalize("کتاب")
    assert normalize("علي") == normalize("علی")
    assert normalize("مُحَمَّد") == normalize("محمد")
    assert normalize("می\u200cرود") == normalize("میرود")
    assert normalize("پاکستان۔ ہے") == "پاکستان ہے"


def test_offsets_point_into_the_original_text() -> None:
    text = "  The U.S. “Justice” Department’s 北京 probe "
    toks = tokenize(text)
    pieces = [text[s:e] for s, e in zip(toks.starts, toks.ends, strict=True)]
    assert pieces == ["The", "U.S", "Justice", "Department’s", "北", "京", "probe"]
    assert normalize(text).split() == ["the", "us", "justice", "departments", "北", "京", "probe"]


def test_token_hashes_equal_for_equivalent_words() -> None:
    a = tokenize("U.S. officials")
    b = tokenize("us OFFICIALS")
    assert list(a.hashes) == list(b.hashes)


def test_astral_characters() -> None:
    # emoji separate words; CJK extension B characters are one token each
    assert normalize("good😀news") == "good news"
    assert normalize("\U00020000\U00020001") == "\U00020000 \U00020001"


def test_fold_table_cached_on_disk_is_the_table_built(tmp_path, monkeypatch):
    import numpy as np

    from neardup import text

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    built = text.build_fold_table()
    for attempt in range(3):  # written, read back, then read again after damage
        text.fold_table.cache_clear()
        tables = text.fold_table()
        assert all(
            np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(tables, built, strict=True)
        )
        (cached,) = tmp_path.glob("fold-table-*.npz")
        if attempt == 1:
            cached.write_bytes(b"not a table")
    text.fold_table.cache_clear()
