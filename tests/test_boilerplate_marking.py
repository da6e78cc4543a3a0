"""Boilerplate stays in the outputs and is marked there: alignments.jsonl flags the passages,
insertions and removals that are site chrome (with each text's boilerplate spans), and report.html
shows them hatched in grey, apart from the copied text (issue 6)."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import neardup
from neardup.align import align, prepare
from neardup.boilerplate import BoilerplateMarker, mark_alignment, shingle_spans
from neardup.config import Settings
from neardup.report import write_alignments_and_report
from tests.fixtures_web import PageSpec, chrome_text, page_text, story
from tests.test_report_browser import ARTIFACTS, Page, browser  # noqa: F401 (a fixture)

SHARED = story(777, 140)


def records(specs: list[PageSpec]) -> list[dict[str, str]]:
    """Pages as a scraper that keeps everything gives them: chrome around each story."""
    return [{"id": s.url, "text": page_text(s), "url": s.url} for s in specs]


def site_pages(site_seed: int, story_seeds: list[int]) -> list[PageSpec]:
    from tests.test_boilerplate import site_pages as pages

    return pages(site_seed, story_seeds)


def two_sites() -> tuple[list[PageSpec], PageSpec, PageSpec]:
    """Two sites, three stories of their own each, and one story both run in their own chrome."""
    a = site_pages(1, [11, 12, 13])
    b = site_pages(2, [21, 22, 23])
    copy_a = PageSpec(a[0].site, "news/shared", "Shared story", SHARED)
    copy_b = PageSpec(b[0].site, "world/shared-copy", "Shared story", SHARED)
    return [*a, copy_a, *b, copy_b], copy_a, copy_b


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def report_details(page: Path) -> dict[str, dict]:
    """The cluster details embedded in report.html, by cluster number."""
    chunks = re.findall(
        r'<script type="application/json" class="nd-chunk"[^>]*>(.*?)</script>',
        page.read_text(),
        re.S,
    )
    assert chunks
    return {c: d for chunk in chunks for c, d in json.loads(chunk).items()}


def story_bounds(text: str) -> tuple[int, int]:
    start = text.index(SHARED[:40])
    return start, start + len(SHARED)


def overlaps(span: list[int], bounds: tuple[int, int]) -> bool:
    return span[0] < bounds[1] and span[1] > bounds[0]


@pytest.fixture(scope="module")
def two_sites_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PageSpec, PageSpec]:
    specs, copy_a, copy_b = two_sites()
    out = tmp_path_factory.mktemp("two-sites")
    neardup.find(records(specs), out=out)
    return out, copy_a, copy_b


def test_same_story_on_two_sites_with_different_chrome_matched_and_alignment_marks_chrome(
    two_sites_run,
):
    out, copy_a, copy_b = two_sites_run
    [record] = read_jsonl(out / "alignments.jsonl")
    assert {record["a"], record["b"]} == {copy_a.url, copy_b.url}
    assert record["aligned"] is True
    texts = {copy_a.url: page_text(copy_a), copy_b.url: page_text(copy_b)}
    text_a, text_b = texts[record["a"]], texts[record["b"]]
    story_a, story_b = story_bounds(text_a), story_bounds(text_b)

    # the story is copied text: the passages holding it are not boilerplate
    story_passages = [p for p in record["passages"] if overlaps(p["a"], story_a)]
    assert story_passages and not any(p["boilerplate"] for p in story_passages)
    # the rest of the shared passages is chrome the two templates happen to share: boilerplate
    others = [p for p in record["passages"] if not overlaps(p["a"], story_a)]
    assert others and all(p["boilerplate"] for p in others)
    # every line of each site's own chrome is an insertion or removal marked as boilerplate
    assert record["removals"] and all(r["boilerplate"] for r in record["removals"])
    assert record["insertions"] and all(i["boilerplate"] for i in record["insertions"])
    assert any(r["text"] == " ".join(copy_a.site.nav) for r in record["removals"])
    assert any(i["text"] == " ".join(copy_b.site.nav) for i in record["insertions"])
    for item in record["removals"]:
        assert item["text"] in chrome_text(copy_a.site) or item["text"] in text_a[: story_a[0]]

    # the record's spans: each page's chrome, none of the story
    bp = record["boilerplate"]
    for spans, text, bounds, site in (
        (bp["a"], text_a, story_a, copy_a.site),
        (bp["b"], text_b, story_b, copy_b.site),
    ):
        assert spans == sorted(spans) and all(s < e for s, e in spans)
        assert not any(overlaps(span, bounds) for span in spans), "story marked"
        marked = " ".join(text[s:e] for s, e in spans)
        assert len(marked.split()) >= 0.9 * site.chrome_words()
        assert site.footer in marked and site.cookie in marked
    assert bp["chars"] == [sum(e - s for s, e in bp[side]) for side in ("a", "b")]
    # the story's passage starts in the cookie banner the two templates share: that part is
    # counted in its boilerplate characters, and the passage stays copied text
    first = story_passages[0]
    assert 0 < first["boilerplate_chars"][0] < (first["a"][1] - first["a"][0]) / 2
    assert bp["shared_chars"][0] == sum(p["boilerplate_chars"][0] for p in record["passages"])


def test_a_story_repeated_on_one_site_is_one_passage_with_its_chrome_marked_inside(tmp_path):
    pages = site_pages(3, [301, 302, 303, 304, 305])
    again = PageSpec(pages[0].site, "amp/story-301", "Story 301", pages[0].body)
    neardup.find(records([*pages, again]), out=tmp_path)
    [record] = read_jsonl(tmp_path / "alignments.jsonl")
    text = page_text(again)
    # identical pages: everything is shared, and the passage is the copy, not boilerplate
    assert not record["insertions"] and not record["removals"]
    assert not any(p["boilerplate"] for p in record["passages"])
    assert sum(p["boilerplate_chars"][0] for p in record["passages"]) > 0
    body = text.index(pages[0].body[:40])
    spans = record["boilerplate"]["a"]
    assert spans and not any(overlaps(s, (body, body + len(pages[0].body))) for s in spans)


def test_without_boilerplate_the_records_are_as_before(tmp_path):
    specs, _, _ = two_sites()
    neardup.find(records(specs), out=tmp_path / "off", boilerplate="off")
    found_none = [{"id": f"t{k}", "text": SHARED + f" Extra line {k}."} for k in range(2)]
    neardup.find(found_none, out=tmp_path / "none")  # no url, site or source: nothing analysed
    for run in ("off", "none"):
        lines = read_jsonl(tmp_path / run / "alignments.jsonl")
        assert lines
        blob = (tmp_path / run / "alignments.jsonl").read_text()
        assert '"boilerplate' not in blob
        for detail in report_details(tmp_path / run / "report.html").values():
            assert all("bp" not in m for m in detail["members"])
            assert all("bp" not in al for al in detail["al"].values())
            assert all(len(p) == 5 for al in detail["al"].values() for p in al["p"])


def test_marking_is_the_same_with_more_workers(tmp_path):
    specs, _, _ = two_sites()
    result = neardup.find(records(specs))
    outputs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        out.mkdir()
        write_alignments_and_report(result, out, workers=workers)
        outputs.append((out / "alignments.jsonl").read_bytes())
    assert outputs[0] == outputs[1] and b'"boilerplate":true' in outputs[0]


def test_mark_alignment_flags_each_part_by_its_share_of_boilerplate():
    specs, copy_a, copy_b = two_sites()
    result = neardup.find(records(specs))
    text_a, text_b = page_text(copy_a), page_text(copy_b)
    aln = align(text_a, text_b)
    marks = mark_alignment(aln, text_a, text_b, result._state.boilerplate, result.settings)
    assert [len(marks[k]) for k in ("passages", "insertions", "removals", "substitutions")] == [
        len(aln.passages),
        len(aln.insertions),
        len(aln.removals),
        len(aln.substitutions),
    ]
    story_a = story_bounds(text_a)
    for sub, flag in zip(aln.substitutions, marks["substitutions"], strict=True):
        # a site's name changed inside the shared cookie banner is chrome; the story has none
        assert flag == (not overlaps([sub.a_start, sub.a_end], story_a))
    assert any(marks["substitutions"])


def test_spans_from_prepared_tokens_are_the_same_as_from_the_text():
    specs, copy_a, _ = two_sites()
    result = neardup.find(records(specs))
    marker = BoilerplateMarker.of(result._state.boilerplate, result.settings)
    text = page_text(copy_a)
    spans = marker.spans(text)
    assert len(spans) >= 2
    np.testing.assert_array_equal(marker.spans(text, prepare(text).tokens), spans)


def test_decomposed_accents_are_marked_at_offsets_into_the_text_as_read():
    settings = Settings()
    chrome = "Café Müller’s crème brûlée newsletter: sign up for the señor’s daily résumé of news"
    composed = "Opening words of a page. " + chrome + " and the closing words of the page."
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    vals, _, _ = shingle_spans(chrome, settings)
    marker = BoilerplateMarker(np.unique(vals), settings.ngram, settings.seed)
    [(s, e)] = marker.spans(composed).tolist()
    assert composed[s:e] == chrome
    [(s, e)] = marker.spans(decomposed).tolist()
    assert unicodedata.normalize("NFC", decomposed[s:e]) == chrome


MARKED_JS = """root => {
  const pieces = [];
  let pos = 0;
  for (const node of root.childNodes) {
    const n = node.textContent.length;
    if (node.nodeType === 1 && node.classList.contains("bp")) pieces.push([pos, pos + n]);
    pos += n;
  }
  return [root.textContent, pieces];
}"""


@pytest.mark.browser
def test_report_shows_the_chrome_as_boilerplate_not_as_copied_text(browser, two_sites_run):  # noqa: F811
    out, copy_a, copy_b = two_sites_run
    page = Page(browser, out / "report.html")
    p = page.page
    p.click("#clusters tr >> nth=0")
    p.wait_for_selector("#side-copy .bp")
    [record] = read_jsonl(out / "alignments.jsonl")
    texts = {copy_a.url: page_text(copy_a), copy_b.url: page_text(copy_b)}
    original, copy = record["original"], ({record["a"], record["b"]} - {record["original"]}).pop()
    for side, doc in (("#side-original", original), ("#side-copy", copy)):
        text = texts[doc]
        # which characters of the shown text are in an element of class bp
        shown, pieces = p.eval_on_selector(f"{side} .text", MARKED_JS)
        assert shown == text
        marked = np.zeros(len(text), bool)
        for s, e in pieces:
            marked[s:e] = True
        spans = record["boilerplate"]["a" if doc == record["a"] else "b"]
        for s, e in spans:
            assert marked[s:e].all()
        start, end = story_bounds(text)
        assert not marked[start:end].any(), "story shown as boilerplate"
        site = copy_a.site if doc == copy_a.url else copy_b.site
        for chrome in (" ".join(site.nav), site.cookie, site.footer):
            k = text.index(chrome)
            assert marked[k : k + len(chrome)].all()
        titles = p.eval_on_selector_all(f"{side} .bp", "es => es.map(e => e.title)")
        assert titles and all(
            t.startswith("boilerplate: recurs around unrelated stories on this site")
            for t in titles
        )
        # chrome the other site lacks is boilerplate, not an insertion or removal to look at
        kind = ".del" if side == "#side-original" else ".ins"
        assert not p.query_selector_all(f"{side} {kind}:not(.bp)")
        assert p.query_selector_all(f"{side} .shared:not(.bp)")
    assert "boilerplate" in p.inner_text("#pair .legend")
    assert "Boilerplate:" in p.inner_text("#pair")
    # hatched grey, not the blue of shared text
    bg = p.eval_on_selector("#side-copy .bp", "e => getComputedStyle(e).backgroundImage")
    assert "repeating-linear-gradient" in bg
    assert page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "report-boilerplate.png"), full_page=True)
    assert (ARTIFACTS / "report-boilerplate.png").stat().st_size > 10_000


def test_pairs_without_boilerplate_in_a_run_that_found_some(tmp_path):
    specs, copy_a, copy_b = two_sites()
    other = story(888, 120)
    docs = [
        *records(specs),
        {"id": "plain-1", "text": other},  # no site: not analysed, nothing to mark
        {"id": "plain-2", "text": other + "\n\nA closing line of the second copy only."},
    ]
    neardup.find(docs, out=tmp_path)
    by_pair = {frozenset((r["a"], r["b"])): r for r in read_jsonl(tmp_path / "alignments.jsonl")}
    plain = by_pair[frozenset(("plain-1", "plain-2"))]
    assert plain["boilerplate"] == {"a": [], "b": [], "chars": [0, 0], "shared_chars": [0, 0]}
    assert plain["insertions"] and all(
        "boilerplate" not in part
        for key in ("passages", "insertions", "removals", "substitutions")
        for part in plain[key]
    )
    marked = by_pair[frozenset((copy_a.url, copy_b.url))]
    assert all(
        isinstance(part["boilerplate"], bool)
        for key in ("passages", "insertions", "removals")
        for part in marked[key]
    )
    # substitutions carry no flag: the spans say which are in boilerplate
    assert marked["substitutions"] and all("boilerplate" not in s for s in marked["substitutions"])


def reference_spans(text: str, values: np.ndarray, settings: Settings) -> list[list[int]]:
    """The definition, step by step: runs of >= 3 consecutive boilerplate shingles, their
    character spans merged, widened over attached punctuation."""
    vals, starts, ends = shingle_spans(text, settings)
    hit = np.isin(vals, values)
    spans: list[list[int]] = []
    i = 0
    while i < len(hit):
        j = i
        while hit[i] and j + 1 < len(hit) and hit[j + 1]:
            j += 1
        if hit[i] and j - i + 1 >= 3:
            s, e = int(starts[i]), int(ends[j])
            while s > 0 and unicodedata.category(text[s - 1])[0] in "PS":
                s -= 1
            while e < len(text) and unicodedata.category(text[e])[0] in "PS":
                e += 1
            if spans and s <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], e)
            else:
                spans.append([s, e])
        i = j + 1
    return spans


@pytest.mark.parametrize("seed", range(6))
def test_spans_match_the_definition(seed):
    settings = Settings()
    rng = np.random.default_rng(seed)
    text = "\n\n".join(story(100 * seed + k, 40) for k in range(3)) + ' "Quoted (end)."'
    vals, _, _ = shingle_spans(text, settings)
    # some stretches of the text's shingles are boilerplate, and unrelated values too
    chosen = [vals[s : s + int(rng.integers(1, 12))] for s in rng.integers(0, len(vals), 8)]
    chosen.append(vals[-4:])  # the end, where the span takes in the closing punctuation
    noise = rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32)
    values = np.unique(np.concatenate([*chosen, noise]))
    marker = BoilerplateMarker(values, settings.ngram, settings.seed)
    assert marker.spans(text).tolist() == reference_spans(text, values, settings)


def test_marks_of_the_swapped_alignment_are_the_marks_swapped():
    specs, copy_a, copy_b = two_sites()
    result = neardup.find(records(specs))
    marker = BoilerplateMarker.of(result._state.boilerplate, result.settings)
    text_a, text_b = page_text(copy_a), page_text(copy_b)
    spans_a, spans_b = marker.text_spans(text_a), marker.text_spans(text_b)
    aln = align(text_a, text_b)
    marks = marker.mark(aln, spans_a, spans_b)
    assert marker.mark(aln.swapped(), spans_b, spans_a) == marks.swapped()
    assert any(marks.insertions) and any(marks.removals) and marks.chars[0] != marks.chars[1]
