"""Passage alignment on fictional stories: what was copied, inserted, removed and restyled."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neardup.align import Alignment, align, tokens_of

WIRE = """Harbor towns to share ferry costs under new U.S. plan

By Wren Tallis

Reporting by Wren Tallis

LUMEN BAY (Northwind Wire) – The U.S. Transport Department said on Tuesday it would cover half of the cost of three new ferries for the island towns of Lumen Bay, a plan that local officials had sought for nearly a decade.

The Justice Department separately opened a review of fares charged by the current operator, Gullwing Ferries, after complaints that prices doubled in two years.

“We have waited a long time for this,” said Mayor Ottilie Brand, who has pressed the federal government since 2016. “Families here depend on the boats for school, work and hospital visits.”

The new vessels, each able to carry 300 passengers and 40 cars, are expected to enter service in the spring of 2027, according to the department’s statement.

Gullwing Ferries did not respond to a request for comment. The company has said that fuel and insurance costs explain most of the increase in fares.

(Reporting by Wren Tallis; Editing by Jory Penhale)"""

AD = "Sponsored Stories You May Like Top Island Getaways Book Now And Save Big"

COPY = """LUMEN BAY: The US transport department said on Tuesday it would cover half of the cost of three new ferries for the island towns of Lumen Bay, a plan that local officials had sought for nearly a decade.
  The justice department separately opened a review of fares charged by the current operator, Gullwing Ferries, after complaints that prices doubled in two years.
  "We have waited a long time for this," said Mayor Ottilie Brand, who has pressed the federal government since 2016. "Families here depend on the boats for school, work and hospital visits."
  The new vessels, each able to carry 300 passengers and 40 cars, are expected to enter service in the spring of 2027, {AD} according to the department's statement.
  Gullwing Ferries did not respond to a request for comment. The company has said that fuel and insurance costs explain most of the increase in fares.""".replace(
    "{AD}", AD
)

PARAGRAPHS = [
    "The orchard cooperative of Fenwick Hollow reported its largest apple harvest in twenty years, with growers picking more than four thousand tonnes before the first frost arrived.",
    "Members credited a wet spring and the new irrigation ponds dug last year with funds from the county, which let the trees through a dry and hot August without losing fruit.",
    "Prices paid to growers fell slightly because of the glut, said the cooperative's treasurer, Bram Oakhurst, but the volume more than made up for the lower price per crate.",
    "The cooperative plans to open a cider press in the old grain store on Mill Lane next autumn and to hire six seasonal workers to run it through the winter months.",
    "Neighbouring valleys had a poorer year: hail in late May damaged blossom across the Tarrow uplands, and several farms there expect to sell less than half of a normal crop.",
]


def test_ad_injected_in_a_paragraph_is_one_insertion_at_its_exact_offsets() -> None:
    aln = align(WIRE, COPY)
    outside = [s for s in aln.insertions if s.passage is None]
    ads = [s for s in outside if "Sponsored" in s.text]
    assert len(ads) == 1
    ad = ads[0]
    assert COPY[ad.start : ad.end] == AD
    assert ad.text == AD
    # nothing else of the copy is outside the shared passages
    assert [s.text for s in outside if s is not ad] == []


def test_a_restyled_dateline_is_shared_with_the_agency_name_removed() -> None:
    aln = align(WIRE, COPY)
    first = aln.passages[0]
    assert COPY[first.b_start :].startswith("LUMEN BAY: The US transport")
    assert WIRE[first.a_start :].startswith("LUMEN BAY (Northwind Wire) – The U.S.")
    assert [(s.text, s.passage) for s in aln.removals if s.passage is not None] == [
        ("Northwind Wire", 0)
    ]


def test_headline_byline_and_credit_of_the_original_are_removals() -> None:
    aln = align(WIRE, COPY)
    removed = [WIRE[s.start : s.end] for s in aln.removals if s.passage is None]
    assert "Harbor towns to share ferry costs under new U.S. plan" in removed
    assert "By Wren Tallis" in removed
    assert "Reporting by Wren Tallis" in removed
    assert "(Reporting by Wren Tallis; Editing by Jory Penhale)" in removed
    for s in aln.removals:
        assert WIRE[s.start : s.end] == s.text


def test_house_style_edits_are_substitutions_that_do_not_break_passages() -> None:
    aln = align(WIRE, COPY)
    # the body is shared in two passages: before the ad and after it
    assert len(aln.passages) == 2
    assert aln.passages[1].similarity == 1.0
    assert aln.passages[0].similarity > 0.99  # the agency name of the dateline was dropped
    pairs = {(s.a_text, s.b_text) for s in aln.substitutions}
    assert ("U.S. Transport Department", "US transport department") in pairs
    assert ("Justice Department", "justice department") in pairs
    assert ("“We", '"We') in pairs
    assert ("department’s", "department's") in pairs
    assert all(s.kind == "style" for s in aln.substitutions)
    for s in aln.substitutions:
        assert WIRE[s.a_start : s.a_end] == s.a_text
        assert COPY[s.b_start : s.b_end] == s.b_text
        p = aln.passages[s.passage]
        assert p.a_start <= s.a_start < s.a_end <= p.a_end
        assert p.b_start <= s.b_start < s.b_end <= p.b_end


def test_passage_offsets_cut_the_passages_out_of_both_texts() -> None:
    aln = align(WIRE, COPY)
    first = aln.passages[0]
    assert WIRE[first.a_start : first.a_end].startswith("LUMEN BAY (Northwind Wire) – The U.S.")
    assert COPY[first.b_start : first.b_end].startswith("LUMEN BAY: The US transport department")
    assert COPY[first.b_start : first.b_end].endswith("spring of 2027,")
    last = aln.passages[1]
    assert COPY[last.b_start : last.b_end].startswith("according to the department's statement.")
    assert COPY[last.b_start : last.b_end].endswith("increase in fares.")


def test_a_reworded_phrase_is_a_word_substitution_inside_the_passage() -> None:
    copy = WIRE.replace("said on Tuesday", "announced on Tuesday")
    aln = align(WIRE, copy)
    words = [s for s in aln.substitutions if s.kind == "word"]
    assert [(s.a_text, s.b_text) for s in words] == [("said", "announced")]
    assert not [s for s in aln.insertions if s.passage is None]
    assert len(aln.passages) == 1


def test_a_short_insertion_inside_a_passage_stays_in_the_passage() -> None:
    copy = WIRE.replace("three new ferries", "three large new ferries")
    aln = align(WIRE, copy)
    assert len(aln.passages) == 1
    assert [(s.text, s.passage) for s in aln.insertions] == [("large", 0)]


def test_reordered_paragraphs_are_all_shared() -> None:
    original = "\n\n".join(PARAGRAPHS)
    order = [3, 0, 4, 2, 1]
    copy = "\n\n".join(PARAGRAPHS[i] for i in order)
    aln = align(original, copy)
    assert aln.aligned_a == aln.a_tokens
    assert aln.aligned_b == aln.b_tokens
    assert not aln.insertions and not aln.removals
    # every paragraph of the copy is matched to the same paragraph of the original
    for p in aln.passages:
        assert original[p.a_start : p.a_end] == copy[p.b_start : p.b_end]


def test_a_passage_repeated_twice_in_the_copy_is_shared_twice() -> None:
    original = "\n\n".join(PARAGRAPHS)
    copy = "\n\n".join([*PARAGRAPHS[:3], PARAGRAPHS[1], *PARAGRAPHS[3:]])
    aln = align(original, copy)
    assert aln.aligned_b == aln.b_tokens
    assert not aln.insertions
    twice = [p for p in aln.passages if copy[p.b_start : p.b_end] == PARAGRAPHS[1]]
    assert len(twice) >= 1
    covered = sum(1 for p in aln.passages if PARAGRAPHS[1] in copy[p.b_start : p.b_end])
    assert covered == 2


def test_a_passage_repeated_in_the_original_but_copied_once_leaves_a_removal() -> None:
    original = "\n\n".join([*PARAGRAPHS, PARAGRAPHS[2]])
    copy = "\n\n".join(PARAGRAPHS)
    aln = align(original, copy)
    assert aln.aligned_b == aln.b_tokens
    assert [s.text for s in aln.removals] == [PARAGRAPHS[2]]


def test_story_embedded_in_a_longer_article() -> None:
    story = "\n\n".join(PARAGRAPHS[:3])
    intro = (
        "Weekend round-up from the valley desk. Our columnist looks at the markets, the weather "
        "and the news from the farms, starting with a report from the hills."
    )
    outro = (
        "In other news, the county library will extend its opening hours over the holidays, and "
        "the swimming pool reopens on Saturday after repairs to its roof."
    )
    article = f"{intro}\n\n{story}\n\n{outro}"
    aln = align(story, article)
    assert aln.aligned_a == aln.a_tokens  # all of the story is in the article
    assert not aln.removals
    assert [s.text for s in aln.insertions] == [intro, outro]
    # and the other way round: the article's extra text is removed in the story
    back = align(article, story)
    assert [s.text for s in back.removals] == [intro, outro]


def test_unrelated_texts_share_no_passage() -> None:
    aln = align(PARAGRAPHS[0], PARAGRAPHS[4])
    assert aln.passages == []
    assert [s.text for s in aln.removals] == [PARAGRAPHS[0]]
    assert [s.text for s in aln.insertions] == [PARAGRAPHS[4]]


def test_empty_and_short_texts() -> None:
    assert align("", "").passages == []
    aln = align("", "Only words here.")
    assert [s.text for s in aln.insertions] == ["Only words here."]
    aln = align("Ferry fares up.", "Ferry fares up!")
    assert len(aln.passages) == 1
    assert aln.passages[0].similarity == 1.0


def test_offsets_index_the_original_string_even_when_it_is_not_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Café owners in Sévres") + " " + PARAGRAPHS[0]
    copy = PARAGRAPHS[0] + "\n\nAd: visit the café"
    aln = align(decomposed, copy)
    toks, _ = tokens_of(decomposed)
    for s, e in zip(toks.starts.tolist(), toks.ends.tolist(), strict=True):
        assert decomposed[s:e].strip() == decomposed[s:e]
    assert len(aln.passages) == 1
    p = aln.passages[0]
    assert decomposed[p.a_start : p.a_end] == PARAGRAPHS[0]
    assert [decomposed[s.start : s.end] for s in aln.removals] == [
        decomposed[: decomposed.index(" " + PARAGRAPHS[0])]
    ]


def test_swapped_exchanges_the_sides() -> None:
    aln = align(WIRE, COPY)
    back = aln.swapped()
    assert [s.text for s in back.removals] == [s.text for s in aln.insertions]
    assert [(p.b_start, p.a_start) for p in back.passages] == [
        (p.a_start, p.b_start) for p in aln.passages
    ]
    assert back.to_dict()["scores"]["aligned_a"] == aln.to_dict()["scores"]["aligned_b"]


def test_long_documents_with_an_insertion_in_the_middle() -> None:
    rng = random.Random(7)
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(5000)
    ]
    paragraphs = [
        " ".join(rng.choice(vocabulary) for _ in range(rng.randint(50, 120))) + "."
        for _ in range(1200)
    ]
    original = "\n\n".join(paragraphs)
    inserted = "Advertisement: subscribe today for unlimited access to every story we publish"
    copy = "\n\n".join([*paragraphs[:600], inserted, *paragraphs[600:]])
    aln = align(original, copy)
    assert aln.a_tokens > 100_000
    assert [s.text for s in aln.insertions] == [inserted]
    assert not aln.removals
    assert aln.aligned_a == aln.a_tokens


def _check_invariants(a: str, b: str, aln: Alignment) -> None:
    for p in aln.passages:
        assert 0 <= p.a_start < p.a_end <= len(a)
        assert 0 <= p.b_start < p.b_end <= len(b)
    for s in aln.insertions:
        assert b[s.start : s.end] == s.text and s.text
    for s in aln.removals:
        assert a[s.start : s.end] == s.text and s.text
    for s in aln.substitutions:
        assert a[s.a_start : s.a_end] == s.a_text
        assert b[s.b_start : s.b_end] == s.b_text
    # every word of B is in exactly one place: a passage or a top-level insertion
    toks, _ = tokens_of(b)
    for start, end in zip(toks.starts.tolist(), toks.ends.tolist(), strict=True):
        in_passage = sum(p.b_start <= start and end <= p.b_end for p in aln.passages)
        inserted = sum(
            s.start <= start and end <= s.end for s in aln.insertions if s.passage is None
        )
        assert in_passage + inserted >= 1
        assert inserted == 0 or in_passage == 0


WORDS = [
    "ferry",
    "island",
    "Harbor",
    "U.S.",
    "US",
    "council",
    "“quoted”",
    "fare",
    "the",
    "of",
    "boats",
    "tide",
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=80),
    st.lists(
        st.tuples(st.integers(0, 80), st.sampled_from(["drop", "insert", "upper", "swap"])),
        max_size=6,
    ),
)
def test_alignment_invariants_hold_for_random_edits(
    words: list[str], edits: list[tuple[int, str]]
) -> None:
    a = " ".join(words)
    copy = list(words)
    for pos, kind in edits:
        if not copy:
            break
        i = pos % len(copy)
        if kind == "drop":
            del copy[i]
        elif kind == "insert":
            copy.insert(i, "advert")
        elif kind == "upper":
            copy[i] = copy[i].upper()
        else:
            copy[i], copy[-1] = copy[-1], copy[i]
    b = "\n".join(" ".join(copy[i : i + 7]) for i in range(0, len(copy), 7))
    _check_invariants(a, b, align(a, b))


@pytest.mark.parametrize("ngram", [1, 3, 5, 8])
def test_every_ngram_size_aligns_the_wire_story(ngram: int) -> None:
    aln = align(WIRE, COPY, ngram=ngram)
    _check_invariants(WIRE, COPY, aln)
    assert any(s.text == AD for s in aln.insertions)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 4), max_size=10),
    st.lists(st.integers(0, 4), max_size=10),
)
def test_gap_alignment_is_a_minimal_edit_script(a: list[int], b: list[int]) -> None:
    """The small gaps inside passages are aligned by a fewest-edits script: the blocks tile both
    sides in order, equal blocks hold equal tokens, and the edits add up to the Levenshtein
    distance (rapidfuzz as the reference)."""
    import numpy as np
    from rapidfuzz.distance import Levenshtein

    from neardup.align import EQUAL, _gap_blocks

    ha = np.array([99, *a], np.uint64)  # offsets are absolute: start the gap at 1
    hb = np.array([98, 97, *b], np.uint64)
    blocks = _gap_blocks(ha, 1, len(ha), hb, 2, len(hb)).tolist()
    x, y, edits, previous = 1, 2, 0, None
    for kind, x0, x1, y0, y1 in blocks:
        assert (x0, y0) == (x, y)
        assert x1 > x0 or y1 > y0
        if kind == EQUAL:
            assert ha[x0:x1].tolist() == hb[y0:y1].tolist()
        else:
            assert previous != "change"  # neighbouring edits are one change
            edits += max(x1 - x0, y1 - y0)
        previous = "equal" if kind == EQUAL else "change"
        x, y = x1, y1
    assert (x, y) == (len(ha), len(hb))
    assert edits == Levenshtein.distance(a, b)
