"""Shared text that is not a copy: site chrome, press-release boilerplate and template wording do
not make different documents match; syndicated stories still do (neardup.boilerplate)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import neardup
from neardup.align import align
from neardup.boilerplate import (
    Boilerplate,
    boilerplate_spans,
    detect_boilerplate,
    mark_alignment,
    masked_overlap,
    shingle_spans,
    site_of,
)
from neardup.config import Settings
from neardup.verify import intersection_sizes
from tests.fixtures_web import (
    ABOUT,
    DISCLAIMER,
    PageSpec,
    chrome_text,
    make_site,
    page_text,
    press_release,
    public_notice,
    story,
)


def records(specs: list[PageSpec]) -> list[dict[str, str]]:
    """Pages as a scraper that keeps everything gives them: chrome around each story."""
    return [{"id": s.url, "text": page_text(s), "url": s.url} for s in specs]


def pair_ids(result: neardup.FindResult) -> set[tuple[str, str]]:
    return {tuple(sorted((p.a, p.b))) for p in result.pairs}


def site_pages(
    site_seed: int, story_seeds: list[int], words: int = 45, rotate: bool = False
) -> list[PageSpec]:
    site = make_site(site_seed)
    return [
        PageSpec(
            site,
            f"news/{seed}",
            f"Story {seed}",
            story(seed, words),
            label=str(seed),
            rotation=seed if rotate else None,
        )
        for seed in story_seeds
    ]


@pytest.mark.parametrize("rotate", [False, True], ids=["fixed-chrome", "rotating-widgets"])
def test_site_chrome_around_different_stories_never_matches(rotate):
    specs = []
    for k in range(3):
        specs += site_pages(k, [1000 * (k + 1) + i for i in range(6)], words=20, rotate=rotate)
    # the chrome is most of each page (80% on average): that is what makes this hard
    shares = [len(chrome_text(s.site).split()) / len(page_text(s).split()) for s in specs]
    assert min(shares) >= 0.7 and np.mean(shares) >= 0.8
    assert all(100 <= s.site.chrome_words() <= 250 for s in specs)
    docs = records(specs)
    result = neardup.find(docs)
    assert result.pairs == []
    assert result.counts["boilerplate_shingles"] > 0
    if not rotate:  # without the boilerplate handling the chrome alone makes them "duplicates"
        naive = neardup.find(docs, boilerplate="off")
        assert len(naive.pairs) >= 3 * 15 * 0.8


def test_same_story_on_two_sites_matches_and_the_alignment_marks_the_chrome():
    shared = story(777, 140)
    a = site_pages(1, [11, 12, 13])
    b = site_pages(2, [21, 22, 23])
    a.append(PageSpec(a[0].site, "news/shared", "Shared story", shared))
    b.append(PageSpec(b[0].site, "world/shared-copy", "Shared story", shared))
    docs = records(a + b)
    result = neardup.find(docs)
    assert pair_ids(result) == {tuple(sorted((a[-1].url, b[-1].url)))}
    bp = result._state.boilerplate
    text_a, text_b = page_text(a[-1]), page_text(b[-1])
    # the alignment: the story is shared; each site's chrome is a removal/insertion marked as
    # boilerplate
    al = align(text_a, text_b)
    marks = mark_alignment(al, text_a, text_b, bp, result.settings)
    story_start = text_a.index(shared[:40])
    story_end = story_start + len(shared)
    in_story = [p.a_start < story_end and p.a_end > story_start for p in al.passages]
    assert any(in_story)
    # the story is copied text; passages the two sites' chrome happen to share are boilerplate
    assert marks["passages"] == [not x for x in in_story]
    chrome_removed = [s for s in al.removals if s.text in chrome_text(a[-1].site)]
    assert chrome_removed and all(
        m
        for s, m in zip(al.removals, marks["removals"], strict=True)
        if s in chrome_removed and len(s.text.split()) >= 8
    )
    # the boilerplate spans of each page cover its chrome and none of the story
    for text, site in ((text_a, a[-1].site), (text_b, b[-1].site)):
        spans = boilerplate_spans(text, bp, result.settings)
        marked = "".join(text[s:e] for s, e in spans)
        start = text.index(shared[:40])
        assert all(e <= start or s >= start + len(shared) for s, e in spans), "story marked"
        assert len(marked.split()) >= 0.8 * site.chrome_words()


def test_wire_story_republished_by_30_outlets_is_one_cluster_and_not_boilerplate():
    wire = story(4242, 220)
    specs: list[PageSpec] = []
    wire_urls = []
    for k in range(27):
        pages = site_pages(100 + k, [50_000 + 10 * k, 50_001 + 10 * k])
        wire_page = PageSpec(pages[0].site, f"world/wire-{k}", "Wire story", wire)
        specs += [*pages, wire_page]
        wire_urls.append(wire_page.url)
    # three regional titles of one network share a host (and its chrome) and run the story too
    network = make_site(500, name="Regional Network", host="regional-network.example")
    for k in range(3):
        own = PageSpec(network, f"title{k}/local", "Local", story(60_000 + k, 45))
        copy = PageSpec(network, f"title{k}/world/wire", "Wire story", wire)
        specs += [own, copy]
        wire_urls.append(copy.url)
    random.Random(5).shuffle(specs)
    result = neardup.find(records(specs))
    assert len(result.clusters) == 1
    assert sorted(result.clusters[0].members) == sorted(wire_urls)
    bp = result._state.boilerplate
    vals, _, _ = shingle_spans(wire, result.settings)
    assert not bp.contains(vals).any()
    assert result.counts["boilerplate_shingles"] > 0  # the sites' chrome was found


def test_press_releases_sharing_about_and_disclaimer_do_not_match():
    site = make_site(7, name=COMPANY_SITE, host="lumen-orchard.example")
    docs = [
        {
            "id": f"release-{k}",
            "text": press_release(900 + k),
            "url": f"https://{site.host}/newsroom/{k}",
        }
        for k in range(6)
    ]
    shared = len((ABOUT + " " + DISCLAIMER).split())
    assert shared >= 2 * len(story(900, 25).split())  # the boilerplate is most of each release
    assert neardup.find(docs).pairs == []
    assert len(neardup.find(docs, boilerplate="off").pairs) >= 10


COMPANY_SITE = "Lumen Orchard Robotics Newsroom"


def test_templated_reports_with_different_names_and_facts_do_not_match():
    docs = [
        {
            "id": f"notice-{k}",
            "text": public_notice(k),
            "url": f"https://saltcote-gazette.example/notices/{k}",
        }
        for k in range(6)
    ]
    assert neardup.find(docs).pairs == []
    assert len(neardup.find(docs, boilerplate="off").pairs) >= 10


def test_a_story_repeated_on_one_site_is_matched_not_boilerplate():
    pages = site_pages(3, [301, 302, 303, 304, 305])
    again = [
        PageSpec(pages[0].site, f"{p}/story-301", "Story 301", pages[0].body)
        for p in ("amp", "print")
    ]
    result = neardup.find(records(pages + again))
    assert len(result.clusters) == 1
    assert sorted(result.clusters[0].members) == sorted([pages[0].url] + [p.url for p in again])
    vals, _, _ = shingle_spans(pages[0].body, result.settings)
    assert not result._state.boilerplate.contains(vals).any()


def test_documents_without_a_site_are_analysed_only_with_corpus_scope():
    specs = site_pages(4, [401, 402, 403, 404, 405])
    docs = [{"id": s.path, "text": page_text(s)} for s in specs]  # no url, site or source
    assert len(neardup.find(docs).pairs) > 0
    assert neardup.find(docs).counts["boilerplate_sites_analysed"] == 0
    assert neardup.find(docs, boilerplate="corpus").pairs == []


def test_settings_and_counts_are_recorded_in_run_json(tmp_path):
    specs = site_pages(5, [501, 502, 503, 504])
    result = neardup.find(records(specs), out=tmp_path / "out", boilerplate_min_contexts=4)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["settings"]["boilerplate"] == "site"
    assert run["settings"]["boilerplate_min_contexts"] == 4
    assert run["settings"]["extract"] == "trafilatura"
    assert run["counts"]["boilerplate_shingles"] == len(result._state.boilerplate) > 0
    assert "boilerplate" in Settings.MATCHING_FIELDS
    with pytest.raises(ValueError, match="boilerplate must be"):
        Settings(boilerplate="sometimes")


def test_same_result_with_more_workers():
    specs = []
    for k in range(3):
        specs += site_pages(20 + k, [7000 + 10 * k + i for i in range(4)])
    shared = story(8888, 120)
    specs += [
        PageSpec(specs[0].site, "x/shared", "S", shared),
        PageSpec(specs[5].site, "y/shared", "S", shared),
    ]
    docs = records(specs)
    one = neardup.find(docs, workers=1, batch_size=5)
    two = neardup.find(docs, workers=2, batch_size=5)
    assert one.pairs == two.pairs and len(one.pairs) == 1
    assert np.array_equal(one._state.boilerplate.values, two._state.boilerplate.values)


# --- the parts ------------------------------------------------------------------------------------
def test_masked_overlap_matches_set_arithmetic():
    rng = np.random.default_rng(1)
    sets = [
        np.unique(rng.integers(0, 400, rng.integers(0, 120)).astype(np.uint32)) for _ in range(40)
    ]
    values = np.concatenate(sets)
    offsets = np.zeros(len(sets) + 1, np.int64)
    np.cumsum([len(s) for s in sets], out=offsets[1:])
    exclude = np.unique(rng.integers(0, 400, 90).astype(np.uint32))
    a = rng.integers(0, 40, 200)
    b = rng.integers(0, 40, 200)
    inter, size_a, size_b = masked_overlap(values, offsets, a, b, exclude)
    ex = set(exclude.tolist())
    for k in range(200):
        sa = set(sets[a[k]].tolist()) - ex
        sb = set(sets[b[k]].tolist()) - ex
        assert (inter[k], size_a[k], size_b[k]) == (len(sa & sb), len(sa), len(sb))
    empty = masked_overlap(values, offsets, a, b, np.zeros(0, np.uint32))[0]
    assert np.array_equal(empty, intersection_sizes(values, offsets, a, b))


def test_drop_removes_boilerplate_from_ragged_sets():
    bp = Boilerplate(np.array([3, 7, 9], np.uint32))
    values = np.array([1, 3, 5, 7, 9, 2, 3], np.uint32)
    offsets = np.array([0, 5, 5, 7])
    v, o = bp.drop(values, offsets)
    assert v.tolist() == [1, 5, 2] and o.tolist() == [0, 2, 2, 3]


def test_detection_is_chunked_by_site_with_the_same_result():
    specs = []
    for k in range(6):
        specs += site_pages(40 + k, [9000 + 10 * k + i for i in range(4)])
    settings = Settings()
    texts = [page_text(s) for s in specs]
    sets = [np.unique(shingle_spans(t, settings)[0]) for t in texts]
    values = np.concatenate(sets)
    offsets = np.zeros(len(sets) + 1, np.int64)
    np.cumsum([len(s) for s in sets], out=offsets[1:])
    metas = [{"url": s.url} for s in specs]
    whole = detect_boilerplate(values, offsets, metas, settings)
    tiny_chunks = detect_boilerplate(values, offsets, metas, settings, chunk_values=100)
    assert len(whole) > 0 and np.array_equal(whole.values, tiny_chunks.values)
    assert whole.sites_analysed == 6


def test_site_of():
    assert site_of({"url": "https://www.Example.org/a/b"}) == "example.org"
    assert site_of({"site": "The Ledger"}) == "the ledger"
    assert site_of({"source": "Wire"}) == "wire"
    assert site_of({}) is None


def reference_boilerplate(sets: list[set[int]], sites: list[int], k: int, min_own: int) -> set[int]:
    """The method of neardup.boilerplate written directly over Python sets."""
    out: set[int] = set()
    for site in set(sites):
        docs = [sets[i] for i in range(len(sets)) if sites[i] == site]
        df: dict[int, int] = {}
        for d in docs:
            for v in d:
                df[v] = df.get(v, 0) + 1
        candidates = {v for v, n in df.items() if n >= k}
        contexts: dict[int, set[int]] = {}
        for d in docs:
            own = d - candidates
            if len(own) < min_own:
                continue
            for v in d & candidates:
                contexts.setdefault(v, set()).add(min(own))
        out |= {v for v, c in contexts.items() if len(c) >= k}
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_detection_matches_the_definition(seed):
    rng = random.Random(seed)
    chrome = {s: set(rng.sample(range(10**6), 40)) for s in range(4)}
    stories = [set(rng.sample(range(10**6, 2 * 10**6), rng.randint(0, 30))) for _ in range(12)]
    sets, sites = [], []
    for _ in range(60):
        site = rng.randrange(4)
        page = set(rng.sample(sorted(chrome[site]), rng.randint(20, 40)))  # chrome varies a bit
        page |= (
            rng.choice(stories)
            if rng.random() < 0.4
            else set(rng.sample(range(2 * 10**6, 3 * 10**6), rng.randint(0, 25)))
        )
        sets.append(np.array(sorted(page), np.uint32))
        sites.append(site)
    values = np.concatenate(sets)
    offsets = np.zeros(len(sets) + 1, np.int64)
    np.cumsum([len(s) for s in sets], out=offsets[1:])
    for k, min_own in ((3, 10), (2, 1), (5, 5)):
        settings = Settings(boilerplate_min_contexts=k, boilerplate_min_context_shingles=min_own)
        found = detect_boilerplate(values, offsets, np.array(sites), settings, chunk_values=300)
        expected = reference_boilerplate([set(s.tolist()) for s in sets], sites, k, min_own)
        assert set(found.values.tolist()) == expected
        if (k, min_own) == (3, 10):
            assert expected  # the chrome is found


def test_a_sample_of_a_large_site_finds_its_chrome():
    """Large sites are analysed on an evenly spread sample of their pages
    (`boilerplate_sample`): the chrome is on every page, so the sample finds it, and the pages
    still do not match one another."""
    specs = []
    for k in range(2):
        specs += site_pages(60 + k, [7000 + 100 * k + i for i in range(24)], words=20)
    docs = records(specs)
    whole = neardup.find(docs, boilerplate_sample=0)
    sampled = neardup.find(docs, boilerplate_sample=8)
    assert whole.pairs == [] and sampled.pairs == []
    assert sampled.counts["boilerplate_documents_analysed"] == 16
    assert whole.counts["boilerplate_documents_analysed"] == 48
    # the sample finds most of what the whole site gives (the chrome)
    found, everything = set(sampled._state.boilerplate.values), set(whole._state.boilerplate.values)
    assert len(found & everything) >= 0.8 * len(everything)
    with pytest.raises(ValueError, match="boilerplate_sample"):
        Settings(boilerplate_sample=2)
