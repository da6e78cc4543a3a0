"""The core engine end to end through the library API."""

from __future__ import annotations

import random

import numpy as np

import neardup
from neardup.config import Settings
from tests.conftest import make_story


def test_copy_with_edits_is_found_and_original_named() -> None:
    wire = make_story(1)
    copy = wire.replace("\n\n", "\n\nSponsored links you may like: deals today.\n\n", 1).upper()
    other = make_story(2)
    result = neardup.find(
        [
            {"id": "wire", "text": wire, "published": "2025-01-01T10:00:00Z"},
            {"id": "copy", "text": copy, "published": "2025-01-01T12:00:00+01:00"},
            {"id": "other", "text": other},
        ]
    )
    assert [c.members for c in result.clusters] == [["wire", "copy"]]
    assert result.original_of("copy") == "wire"
    assert result.clusters[0].rule == "earliest_published"
    assert result.original_of("other") == "other"
    assert result.kept_ids == ["wire", "other"]


def test_abridged_reprint_is_found_by_containment() -> None:
    wire = make_story(3, paragraphs=9)
    paragraphs = wire.split("\n\n")
    abridged = "\n\n".join(paragraphs[:3])  # the paper ran the first third
    result = neardup.find([{"id": "wire", "text": wire}, {"id": "short", "text": abridged}])
    (pair,) = result.pairs
    assert pair.jaccard < 0.5  # far below the Jaccard threshold...
    assert pair.b_in_a > 0.95  # ...but wholly contained
    assert pair.rule == "containment"
    assert result.original_of("short") == "wire"
    assert result.clusters[0].rule == "contains_most"


def test_abridged_reprints_are_candidates_even_among_many_documents() -> None:
    docs = [{"id": f"d{i}", "text": make_story(100 + i, paragraphs=8)} for i in range(300)]
    rng = random.Random(5)
    for k in range(30):
        src = docs[rng.randrange(300)]["text"].split("\n\n")
        keep = rng.randint(2, 4)
        docs.append({"id": f"abr{k}", "text": "\n\n".join(src[:keep])})
    result = neardup.find(docs)
    found = {p.b for p in result.pairs if p.b.startswith("abr")}
    assert found == {f"abr{k}" for k in range(30)}


def test_same_topic_different_story_does_not_match() -> None:
    a = make_story(7)
    b = make_story(8)
    result = neardup.find([a, b, a])
    assert [c.members for c in result.clusters] == [["0", "2"]]
    assert result.pairs[0].rule == "exact"


def test_results_identical_for_one_and_many_workers(tmp_path) -> None:
    docs = []
    for i in range(400):
        text = make_story(1000 + i % 250, paragraphs=4)
        if i >= 250:  # copies with an edit
            text = text.replace(".", "!", 3) + " Read more at our site."
        docs.append({"id": f"doc{i}", "text": text})
    path = tmp_path / "corpus.jsonl"
    import orjson

    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    from pathlib import Path

    settings = Settings(batch_size=37)
    one = neardup.find([Path(path)], settings, workers=1, out=tmp_path / "one")
    two = neardup.find([Path(path)], settings, workers=2, out=tmp_path / "two")
    assert one.pairs == two.pairs
    assert one.clusters == two.clusters
    assert len(one.clusters) == 150
    for name in ("pairs.jsonl", "clusters.jsonl", "deduplicated.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_chinese_copy_matches_with_character_shingles() -> None:
    zh = "市政府今天宣布新的公共交通计划将在明年春季开始实施预计每天可以为三万名乘客提供服务"
    copy = "【本报讯】" + zh + "（完）"
    result = neardup.find([zh, copy, "完全不同的另一条新闻内容关于天气和农业收成的报道今天发布"])
    assert [c.members for c in result.clusters] == [["0", "1"]]


def test_settings_are_validated() -> None:
    import pytest

    with pytest.raises(ValueError, match="threshold"):
        Settings(threshold=1.5)
    with pytest.raises(ValueError, match="anchor_rate"):
        Settings(anchor_rate=12)


def test_lsh_bands_follow_the_threshold() -> None:
    from neardup.config import band_probability

    for t in (0.3, 0.5, 0.7, 0.9):
        s = Settings(threshold=t)
        assert s.bands * s.rows <= s.num_perm
        assert band_probability(t, s.bands, s.rows) >= s.lsh_target_recall
        assert band_probability(t / 3, s.bands, s.rows) < 0.5


def test_signatures_do_not_depend_on_batching() -> None:
    from neardup.sketch import sketch_texts

    texts = [make_story(i, paragraphs=2) for i in range(20)]
    whole = sketch_texts(texts, Settings())
    parts = [sketch_texts(texts[i : i + 3], Settings()) for i in range(0, 20, 3)]
    assert np.array_equal(whole.signatures, np.concatenate([p.signatures for p in parts]))
