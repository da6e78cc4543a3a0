"""Boilerplate in the incremental index: a site's chrome, once the index has seen it around k
different stories, makes no matches (and the matches it made before are taken back), while a
story shared by sites still matches (neardup.boilerplate, neardup.index.store)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import neardup
from neardup.index import Index
from neardup.index.store import index_defaults
from tests.fixtures_web import PageSpec, make_site, page_text, story
from tests.test_boilerplate import records, site_pages
from tests.test_index import cli, find_view, index_view, write_jsonl

SETTINGS = index_defaults()


def add_in_batches(index: Index, docs: list[dict[str, str]], size: int) -> list:
    results = []
    for start in range(0, len(docs), size):
        chunk = docs[start : start + size]
        results += index.add(
            [d["id"] for d in chunk],
            [d["text"] for d in chunk],
            [{k: v for k, v in d.items() if k not in ("id", "text")} for d in chunk],
        )
    return results


def test_the_index_finds_boilerplate_by_default() -> None:
    assert SETTINGS.boilerplate == "site"


def test_site_chrome_stops_matching_once_known_and_earlier_matches_are_taken_back(
    tmp_path: Path,
) -> None:
    # three sites, six pages each, chrome most of every page; pages arrive two at a time
    docs = []
    for k in range(3):
        docs += records(site_pages(k, [1000 * (k + 1) + i for i in range(6)], words=20))
    index = Index(tmp_path / "chrome.ndx", SETTINGS)
    first = index.add([d["id"] for d in docs[:2]], [d["text"] for d in docs[:2]],
                      [{"url": d["url"]} for d in docs[:2]])  # fmt: skip
    # two pages of a new site: its chrome is not known yet, so they match on it
    assert first[1].matches and index.stats()["pairs"] == 1
    add_in_batches(index, docs[2:], 2)
    stats = index.stats()
    assert stats["pairs"] == 0 and stats["clusters"] == 0
    assert stats["boilerplate_shingles"] > 0 and stats["sites"] == 3
    assert index.check() == []
    # a new page of a known site matches nothing, added or queried
    site = make_site(1)
    page = PageSpec(site, "news/late", "Late story", story(4321, 20))
    (res,) = index.query([page_text(page)])
    assert res.matches == []
    # the same pages without boilerplate removal: the chrome alone makes them duplicates
    naive = Index(tmp_path / "naive.ndx", SETTINGS.replace(boilerplate="off"))
    add_in_batches(naive, docs, 2)
    assert naive.stats()["pairs"] >= 3 * 15 * 0.8
    off = SETTINGS.replace(boilerplate="off")
    assert index_view(naive) == find_view(neardup.find(docs, off))


def test_cli_creates_an_index_with_the_chosen_boilerplate_scope(tmp_path: Path) -> None:
    docs = []
    for k in range(2):
        docs += records(site_pages(k, [3000 * (k + 1) + i for i in range(5)], words=20))
    corpus = write_jsonl(tmp_path / "pages.jsonl", docs)
    path = tmp_path / "cli.ndx"
    ran = cli("index", "add", str(path), str(corpus), "--batch-size", "3", "-m", os.devnull)
    assert ran.returncode == 0, ran.stderr
    stats = json.loads(cli("index", "stats", str(path)).stdout)
    assert stats["settings"]["boilerplate"] == "site" and stats["pairs"] == 0
    assert stats["boilerplate_shingles"] > 0
    other = tmp_path / "off.ndx"
    ran = cli("index", "add", str(other), str(corpus), "--boilerplate", "off", "-m", os.devnull)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(cli("index", "stats", str(other)).stdout)["pairs"] > 0
    # an existing index refuses another scope, naming it
    ran = cli("index", "add", str(path), str(corpus), "--boilerplate", "corpus")
    assert ran.returncode != 0 and "boilerplate='corpus'" in ran.stderr


def test_same_story_on_two_sites_matches_only_each_other(tmp_path: Path) -> None:
    shared = story(777, 140)
    a = site_pages(1, [11, 12, 13])
    b = site_pages(2, [21, 22, 23])
    a.append(PageSpec(a[0].site, "news/shared", "Shared story", shared))
    b.append(PageSpec(b[0].site, "world/shared-copy", "Shared story", shared))
    docs = records(a + b)
    index = Index(tmp_path / "two.ndx", SETTINGS)
    add_in_batches(index, docs, 3)
    pairs, _ = index_view(index)
    assert {(p[0], p[1]) for p in pairs} == {(a[-1].url, b[-1].url)}
    assert index.check() == []


def wire_corpus() -> tuple[list[dict[str, str]], list[str], str]:
    wire = story(4242, 220)
    specs: list[PageSpec] = []
    wire_urls = []
    for k in range(27):
        pages = site_pages(100 + k, [50_000 + 10 * k, 50_001 + 10 * k])
        wire_page = PageSpec(pages[0].site, f"world/wire-{k}", "Wire story", wire)
        specs += [*pages, wire_page]
        wire_urls.append(wire_page.url)
    network = make_site(500, name="Regional Network", host="regional-network.example")
    for k in range(3):
        own = PageSpec(network, f"title{k}/local", "Local", story(60_000 + k, 45))
        copy = PageSpec(network, f"title{k}/world/wire", "Wire story", wire)
        specs += [own, copy]
        wire_urls.append(copy.url)
    random.Random(5).shuffle(specs)
    return records(specs), wire_urls, wire


def test_wire_story_added_by_many_outlets_is_one_cluster(tmp_path: Path) -> None:
    docs, wire_urls, _ = wire_corpus()
    for size in (len(docs), 7):
        index = Index(tmp_path / f"wire-{size}.ndx", SETTINGS)
        add_in_batches(index, docs, size)
        _, clusters = index_view(index)
        assert [sorted(members) for members, _ in clusters] == [sorted(wire_urls)]
        assert index.stats()["boilerplate_shingles"] > 0
        assert index.check() == []
        if size == len(docs):  # one batch: exactly find's pairs, clusters and originals
            assert index_view(index) == find_view(neardup.find(docs, SETTINGS))
        index.close()


def test_a_story_repeated_on_one_site_still_matches(tmp_path: Path) -> None:
    pages = site_pages(3, [301, 302, 303, 304, 305])
    again = [
        PageSpec(pages[0].site, f"{p}/story-301", "Story 301", pages[0].body)
        for p in ("amp", "print")
    ]
    index = Index(tmp_path / "repeat.ndx", SETTINGS)
    add_in_batches(index, records(pages + again), 2)
    _, clusters = index_view(index)
    assert [sorted(m) for m, _ in clusters] == [sorted([pages[0].url] + [p.url for p in again])]


def test_one_batch_samples_a_large_site_as_find_does(tmp_path: Path) -> None:
    docs = []
    for k in range(2):
        docs += records(site_pages(k, [5000 * (k + 1) + i for i in range(9)], words=20))
    shared = story(999, 120)
    docs += records([PageSpec(make_site(k), "news/shared", "Shared", shared) for k in range(2)])
    sampled = SETTINGS.replace(boilerplate_sample=4)  # fewer pages than each site has
    index = Index(tmp_path / "sampled.ndx", sampled)
    add_in_batches(index, docs, len(docs))
    assert index_view(index) == find_view(neardup.find(docs, sampled))
    assert index.stats()["boilerplate_shingles"] > 0


def test_a_new_banner_on_a_large_site_is_found_within_a_few_pages(tmp_path: Path) -> None:
    site = make_site(9)
    index = Index(tmp_path / "banner.ndx", SETTINGS)
    add_in_batches(index, records(site_pages(9, [7000 + i for i in range(70)], words=20)), 70)
    before = index.stats()["boilerplate_shingles"]
    banner = story(8888, 60)  # a promotion the site starts to run on every page
    later = [PageSpec(site, f"news/{8000 + i}", "Later", story(8000 + i, 20)) for i in range(20)]
    matched_on_banner = 0
    for spec in later:  # one page at a time, as the service adds them
        (res,) = index.add([spec.url], [page_text(spec) + "\n\n" + banner], [{"url": spec.url}])
        matched_on_banner += bool(res.matches)
    # detection runs again every 16 pages of a large site: until then pages match on the banner
    assert matched_on_banner > 0
    stats = index.stats()
    assert stats["boilerplate_shingles"] > before and stats["pairs"] == 0
    assert index.check() == []
    spec = PageSpec(site, "news/last", "Last", story(9999, 20))
    (res,) = index.query([page_text(spec) + "\n\n" + banner])
    assert res.matches == []
