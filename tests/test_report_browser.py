"""report.html in a real headless browser: Debian's Chromium driven by Playwright.

`scripts/setup-browser.sh` installs the browser (`make test` runs it first). Without it these
tests skip with the reason, except under CI=true, where a missing browser is a failure. A
screenshot of the example corpus's report is kept as test-artifacts/report.png.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import neardup
from neardup.report import write_alignments_and_report
from tests.test_report import _generated_corpus, read_jsonl

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("NEARDUP_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_browser() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} not found: run scripts/setup-browser.sh (installs Debian's chromium package as root)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing: pip install -e '.[test]'"
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page of the report with everything it logged and everything it asked the network for."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=15_000)

    def rows(self) -> list[str]:
        return [r.inner_text() for r in self.page.query_selector_all("#clusters tr")]


@pytest.fixture(scope="module")
def example_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_browser()
    out = tmp_path_factory.mktemp("report")
    neardup.find([EXAMPLES / "corpus.jsonl"], out=out)
    return out


@pytest.fixture
def page(browser, example_report: Path) -> Iterator[Page]:
    p = Page(browser, example_report / "report.html")
    yield p
    p.page.close()


def test_loads_offline_without_console_errors(page: Page) -> None:
    assert page.errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in page.requests), page.requests
    assert page.page.inner_text("#summary").count("38") >= 1  # documents


def test_lists_the_clusters_of_the_example_corpus(page: Page) -> None:
    expected = json.loads((EXAMPLES / "expected.json").read_text())
    rows = page.rows()
    assert len(rows) == len(expected["clusters"])
    listed = "\n".join(rows)
    for cluster in expected["clusters"]:
        assert cluster["original"] in listed
    assert page.page.inner_text("#list-count") == f"({len(expected['clusters'])})"


def test_injected_ad_is_highlighted_as_an_insertion(page: Page, example_report: Path) -> None:
    p = page.page
    p.click("#clusters tr:has-text('meridian-0001')")
    p.click("tr[data-member='coastal-times-0001']")
    p.wait_for_selector("#side-copy .ins")
    record = next(
        r
        for r in read_jsonl(example_report / "alignments.jsonl")
        if (r["a"], r["b"]) == ("meridian-0001", "coastal-times-0001")
    )
    ad = next(s["text"] for s in record["insertions"] if s["text"].startswith("Sponsored Content"))
    highlighted = [e.inner_text() for e in p.query_selector_all("#side-copy .ins")]
    assert ad in highlighted
    # the original's dropped headline is marked as removed, its restyled words as substitutions
    removed = " ".join(e.inner_text() for e in p.query_selector_all("#side-original .del"))
    assert "Portvale council passes $48 million budget" in removed
    assert p.query_selector_all("#side-copy .sub")
    assert page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_search_box_filters_the_list(page: Page) -> None:
    p = page.page
    total = len(page.rows())
    p.fill("#search", "Brightwater")
    rows = page.rows()
    assert len(rows) == 1 and "meridian-0003" in rows[0]
    p.fill("#search", "valley-ledger-0002")  # a member id, not the original
    rows = page.rows()
    assert len(rows) == 1 and "meridian-0005" in rows[0]
    p.fill("#search", "no such story anywhere")
    assert page.rows() == []
    assert "no cluster matches" in p.inner_text("#page-info")
    p.fill("#search", "")
    assert len(page.rows()) == total
    p.select_option("#source", "Northern Courier")
    rows = page.rows()
    assert len(rows) == 1 and "meridian-0002" in rows[0]
    p.select_option("#source", "")
    p.fill("#min-size", "4")
    assert {r.split("\t")[1] for r in page.rows()} == {"4"}
    assert page.errors == []


def test_sidecar_data_loads_from_file_and_pages_through_the_list(browser, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl.gz"
    _generated_corpus(corpus, stories=120, copies=1)
    result = neardup.find([corpus])
    out = tmp_path / "out"
    out.mkdir()
    write_alignments_and_report(result, out, inline_bytes=0)
    assert list((out / "report-data").glob("chunk-*.js"))
    page = Page(browser, out / "report.html")
    p = page.page
    assert len(page.rows()) == 50
    p.click("#next")
    assert "51–100 of 120" in p.inner_text("#page-info")
    p.click("#clusters tr >> nth=0")
    p.wait_for_selector("#side-copy .ins")
    inserted = p.inner_text("#side-copy .ins")
    assert inserted.startswith("Advertisement number 0 for story")
    assert page.errors == []


def test_a_run_without_copies_still_gives_a_working_page(browser, tmp_path: Path) -> None:
    neardup.find(["one short text about ferries", "another text, about orchards"], out=tmp_path)
    page = Page(browser, tmp_path / "report.html")
    assert page.rows() == []
    assert "no cluster matches" in page.page.inner_text("#page-info")
    assert page.errors == []
