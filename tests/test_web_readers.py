"""HTML and WARC input (neardup.corpus.web): main text and metadata, charsets, broken pages and
records, each counted and reported with its file and record offset."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import neardup
from neardup.corpus.sources import open_source
from neardup.corpus.web import MAX_EXTRACT_CHARS, decode_html, iter_warc, page_from_bytes
from tests.fixtures_web import (
    PageSpec,
    make_site,
    page_html,
    story,
    warc_bytes,
    write_pages,
)

CAFE = "Caf\u00e9 owners in Ravensholt cr\u00e8me br\u00fbl\u00e9e na\u00efve se\u00f1or"


def spec(seed: int, site_seed: int = 1, words: int = 80, **kw: str) -> PageSpec:
    site = make_site(site_seed)
    return PageSpec(site, f"news/{seed}", f"Headline {seed}", story(seed, words), **kw)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "neardup.cli", *args], capture_output=True, text=True, timeout=300
    )


# --- HTML ------------------------------------------------------------------------------------------
def test_html_folder_main_text_metadata_and_ids(tmp_path):
    specs = [
        spec(1, author="Mara Quell", published="2024-03-05T08:00:00Z"),
        spec(2, site_seed=2, author="Ivo Thorne", published="2024-03-06T09:30:00Z"),
    ]
    write_pages(tmp_path / "pages", specs)
    (tmp_path / "pages" / "notes.txt").write_text("A plain text note kept as it is, with words.")
    source = open_source(tmp_path / "pages")
    assert source.format == "html" and len(source.files) == 3
    result = neardup.find([tmp_path / "pages"])
    rel = f"{specs[0].site.host}/news/1.html"
    assert sorted(result.ids) == sorted([rel, f"{specs[1].site.host}/news/2.html", "notes.txt"])
    meta = result.meta(rel)
    assert meta["title"] == "Headline 1"
    assert meta["author"] == "Mara Quell"
    assert meta["published"].startswith("2024-03-05")
    assert meta["site"] == specs[0].site.name
    assert meta["url"] == specs[0].url
    assert result.skipped == []


def test_main_text_drops_chrome_and_extract_none_keeps_it():
    s = spec(3)
    data = page_html(s).encode()
    main = page_from_bytes(data, s.url, "trafilatura")
    full = page_from_bytes(data, s.url, "none")
    first_sentence = s.body.split(".")[0]
    assert first_sentence in main.text and first_sentence in full.text
    assert s.site.footer not in main.text  # footer, menu, cookie banner dropped
    assert s.site.cookie not in main.text
    for chrome in (s.site.footer, s.site.cookie, s.site.related[0]):
        assert chrome in full.text
    assert "window.dataLayer" not in full.text  # scripts and styles are not text
    assert full.meta["title"] == "Headline 3" and full.meta["url"] == s.url


@pytest.mark.parametrize(
    ("declared", "encoding", "warned"),
    [
        ("iso-8859-1", "latin-1", False),  # declared right
        ("utf-8", "utf-8", False),
        ("utf-8", "cp1252", True),  # declared UTF-8, written in Windows-1252
        ("iso-8859-1", "utf-8", True),  # declared Latin-1, saved as UTF-8
        (None, "cp1252", True),  # no declaration, not UTF-8
        ("x-klingon", "utf-8", True),  # unknown charset name
    ],
)
def test_charsets(declared, encoding, warned):
    head = f'<meta charset="{declared}">' if declared else ""
    page = f"<html><head>{head}<title>t</title></head><body><p>{CAFE}.</p><p>{story(5, 60)}</p></body></html>"
    text, _, note = decode_html(page.encode(encoding))
    assert CAFE in text
    assert (note is not None) == warned


def test_http_charset_wins_over_a_wrong_meta_charset():
    page = f'<html><head><meta charset="utf-8"></head><body><p>{CAFE}</p></body></html>'
    text, enc, _ = decode_html(page.encode("cp1252"), "text/html; charset=windows-1252")
    assert CAFE in text and enc == "cp1252"


def test_broken_pages_are_reported_never_crash(tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    good = spec(10)
    (folder / "good.html").write_text(page_html(good))
    # unclosed tags, stray end tags, NUL bytes and control characters: still read
    (folder / "broken.html").write_text(
        f"<html><body><div><p>{story(11, 80)}<p><b>unclosed <i>tags</div></span>\x00\x07 more</body>"
    )
    (folder / "binary.html").write_bytes(bytes(range(256)) * 40)
    (folder / "empty.html").write_bytes(b"")
    (folder / "latin.htm").write_bytes(
        f"<html><body><article><p>{CAFE}.</p><p>{story(12, 80)}</p></article></body></html>".encode(
            "cp1252"
        )
    )
    truncated = gzip.compress(page_html(spec(13)).encode())
    (folder / "cut.html.gz").write_bytes(truncated[: len(truncated) // 2])
    result = neardup.find([folder])
    assert "good.html" in result.ids and "broken.html" in result.ids and "latin.htm" in result.ids
    skipped = {p.id: p for p in result.skipped}
    assert set(skipped) == {"binary.html", "empty.html", "cut.html.gz"}
    assert skipped["cut.html.gz"].reason.startswith("unreadable file")
    assert all(p.source.startswith(str(folder)) for p in result.skipped)
    warned = {p.id for p in result.warnings}
    assert "latin.htm" in warned
    assert result.counts["documents_read"] == 6


def test_page_of_tens_of_megabytes(tmp_path):
    body = "".join(f"<p>{story(seed, 120)}</p>" for seed in range(60)) * 450
    page = f"<html><head><title>Huge</title></head><body><article>{body}</article></body></html>"
    assert len(page) > 20_000_000 > MAX_EXTRACT_CHARS
    path = tmp_path / "huge.html"
    path.write_text(page)
    result = neardup.find([path], max_chars=50_000_000)
    assert result.ids == ["huge.html"]
    assert any("too large for main-text extraction" in p.reason for p in result.warnings)
    # with the default limit the page is skipped and said to be, not lost silently
    result = neardup.find([path])
    assert result.ids == [] and "document too long" in result.skipped[0].reason


# --- WARC ------------------------------------------------------------------------------------------
def crawl(gzip_members: bool = True) -> tuple[bytes, list[int], list[PageSpec]]:
    pages = [spec(20 + k, site_seed=k % 3) for k in range(6)]
    latin = f"<html><head><title>L</title></head><body><article><p>{CAFE}.</p><p>{story(40, 90)}</p></article></body></html>"
    records: list[tuple[str, str, bytes, dict[str, str]]] = [("warcinfo", "", b"", {})]
    for k, p in enumerate(pages):
        opts = {"content_encoding": "gzip"} if k == 1 else {"chunked": "1"} if k == 2 else {}
        records.append(("request", p.url, b"", {}))
        records.append(("response", p.url, page_html(p).encode(), opts))
        records.append(("metadata", p.url, b"fetchTimeMs: 120", {}))
    records += [
        (
            "response",
            "https://x.example/logo.png",
            b"\x89PNG\r\n\x1a\n" + bytes(200),
            {"content_type": "image/png"},
        ),
        ("response", "https://x.example/moved", b"", {"status": "301 Moved Permanently"}),
        (
            "response",
            "https://x.example/missing",
            b"<html>Not found</html>",
            {"status": "404 Not Found"},
        ),
        ("revisit", pages[0].url, b"", {}),
        (
            "response",
            "https://x.example/latin",
            latin.encode("cp1252"),
            {"content_type": "text/html; charset=windows-1252"},
        ),
    ]
    data, offsets = warc_bytes(records, gzip=gzip_members)
    return data, offsets, pages


def test_warc_pages_ids_meta_and_counts(tmp_path):
    data, _, pages = crawl()
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(data)
    assert open_source(path).format == "warc"
    result = neardup.find([path])
    assert result.ids == [p.url for p in pages] + ["https://x.example/latin"]
    assert result.skipped == []
    meta = result.meta(pages[0].url)
    assert meta["url"] == pages[0].url and meta["title"] == "Headline 20"
    c = result.counts
    assert c["warc_request_records"] == 6 and c["warc_metadata_records"] == 6
    assert c["warc_warcinfo_records"] == 1 and c["warc_revisit_records"] == 1
    assert c["warc_responses_not_html"] == 1
    assert c["warc_responses_status_3xx"] == 1 and c["warc_responses_status_4xx"] == 1
    assert pages[1].body.split(".")[0] in _text_of(path, pages[1].url)  # gzip content-encoding
    assert pages[2].body.split(".")[0] in _text_of(path, pages[2].url)  # chunked transfer
    assert CAFE in _text_of(path, "https://x.example/latin")


def _text_of(path: Path, uri: str) -> str:
    for item in iter_warc(path):
        if item.uri == uri and item.kind == "page":
            return page_from_bytes(item.data, uri, "trafilatura", item.content_type).text
    raise KeyError(uri)


def test_uncompressed_warc(tmp_path):
    data, _, pages = crawl(gzip_members=False)
    path = tmp_path / "crawl.warc"
    path.write_bytes(data)
    result = neardup.find([path])
    assert len(result.ids) == len(pages) + 1 and result.skipped == []


def test_corrupt_warc_records_are_reported_with_offsets_and_reading_goes_on(tmp_path):
    data, offsets, pages = crawl()
    # record 5 is the response of pages[1]: cut its gzip member in half; garbage after record 9;
    # the last member truncated
    cut_at = offsets[5]
    member_end = offsets[6]
    broken = (
        data[:cut_at]
        + data[cut_at : cut_at + (member_end - cut_at) // 2]
        + data[member_end : offsets[10]]
        + b"this is not a warc record\r\n" * 3
        + data[offsets[10] : -40]
    )
    path = tmp_path / "broken.warc.gz"
    path.write_bytes(broken)
    result = neardup.find([path])
    # every page but the cut one is read, including those after the damage
    assert result.ids == [p.url for k, p in enumerate(pages) if k != 1]
    problems = result.skipped
    assert len(problems) >= 3
    assert all(p.source == str(path) for p in problems)
    assert problems[0].line == cut_at and f"byte offset {cut_at:,}" in problems[0].reason
    assert "this is not a warc record" in problems[1].reason  # the garbage, then the tail:
    assert "record truncated" in problems[-1].reason
    run = result.run_record()
    assert sum(
        v for k, v in run["skipped_by_reason"].items() if k.startswith("unreadable record")
    ) == len(problems)


def test_warc_with_a_page_of_tens_of_megabytes(tmp_path):
    huge = (
        "<html><body><article>" + f"<p>{story(3, 150)}</p>" * 25_000 + "</article></body></html>"
    ).encode()
    assert len(huge) > 20_000_000
    small = spec(50)
    data, _ = warc_bytes(
        [
            ("response", "https://big.example/huge", huge, {}),
            ("response", small.url, page_html(small).encode(), {}),
        ]
    )
    path = tmp_path / "big.warc.gz"
    path.write_bytes(data)
    result = neardup.find([path])
    assert result.ids == [small.url]
    (problem,) = result.skipped
    assert problem.id == "https://big.example/huge" and "document too long" in problem.reason
    assert "byte offset 0" in problem.reason


def test_empty_and_garbage_warc_files(tmp_path):
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.warc"
    garbage.write_bytes(b"GET / HTTP/1.1\r\n\r\nnot a warc at all\r\n")
    result = neardup.find([empty, garbage])
    assert result.ids == []
    assert any("no WARC records" in p.reason for p in result.warnings)
    assert any(p.source == str(garbage) and p.line == 0 for p in result.skipped)


def test_cli_find_on_warc_and_html_records_settings_and_problems(tmp_path):
    data, offsets, pages = crawl()
    warc = tmp_path / "crawl.warc.gz"
    warc.write_bytes(data[: offsets[5]] + data[offsets[5] : offsets[5] + 50] + data[offsets[6] :])
    folder = tmp_path / "pages"
    write_pages(folder, [pages[0], spec(60)])
    out = tmp_path / "out"
    proc = run_cli(
        "find",
        str(warc),
        str(folder),
        "--out",
        str(out),
        "--extract",
        "none",
        "--boilerplate",
        "off",
        "--workers",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["extract"] == "none" and run["settings"]["boilerplate"] == "off"
    assert [i["format"] for i in run["inputs"]] == ["warc", "html"]
    assert run["counts"]["warc_request_records"] == 6
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    assert skipped[0]["source"] == str(warc) and skipped[0]["line"] == offsets[5]
    assert f"byte offset {offsets[5]:,}" in proc.stderr
    # the same page read from the WARC and from the folder is an exact duplicate pair
    clusters = [json.loads(line) for line in (out / "clusters.jsonl").read_text().splitlines()]
    assert any(
        {m["id"] for m in c["members"]} == {pages[0].url, f"{pages[0].site.host}/news/20.html"}
        for c in clusters
    )


def test_deduplicated_outputs_keep_the_original_pages(tmp_path):
    pages = [spec(70 + k, site_seed=k) for k in range(3)]
    copy = PageSpec(pages[1].site, "amp/news/71", pages[0].title, pages[0].body)  # a copy of 0
    records = [("response", p.url, page_html(p).encode(), {}) for p in [*pages, copy]]
    for gz_members in (True, False):
        data, _ = warc_bytes([("request", pages[0].url, b"", {}), *records], gzip=gz_members)
        warc = tmp_path / ("crawl.warc.gz" if gz_members else "crawl.warc")
        warc.write_bytes(data)
        out = tmp_path / f"out-{gz_members}"
        result = neardup.find([warc], out=out)
        assert result.duplicates == {copy.url: pages[0].url}
        kept = [item.uri for item in iter_warc(out / "deduplicated.warc.gz") if item.kind == "page"]
        assert kept == [p.url for p in pages]
    folder = tmp_path / "pages"
    write_pages(folder, [*pages, copy])
    run = neardup.find([folder], out=tmp_path / "out-html").write(tmp_path / "out-html")
    assert "deduplicated/" in run["outputs"]
    kept_files = sorted(
        p.relative_to(tmp_path / "out-html" / "deduplicated").as_posix()
        for p in (tmp_path / "out-html" / "deduplicated").rglob("*.html")
    )
    assert kept_files == sorted(f"{p.site.host}/{p.path}.html" for p in pages)


def test_parallel_extraction_gives_the_same_records_and_problems(tmp_path, monkeypatch):
    from neardup.corpus import web

    monkeypatch.setattr(web, "_SERIAL_PAGES", 3)  # use the pool after three pages
    folder = tmp_path / "pages"
    write_pages(folder, [spec(80 + k, site_seed=k % 4) for k in range(40)])
    (folder / "binary.html").write_bytes(bytes(range(256)) * 40)
    (folder / "latin.htm").write_bytes(
        f"<html><body><p>{CAFE}. {story(9, 80)}</p></body></html>".encode("cp1252")
    )
    data, offsets, _ = crawl()
    warc = tmp_path / "crawl.warc.gz"
    warc.write_bytes(data[: offsets[5]] + data[offsets[5] : offsets[5] + 50] + data[offsets[6] :])

    def outcome(workers: int):
        r = neardup.find([folder, warc], extract_workers=workers)
        return (
            r.ids,
            [r.meta(i) for i in r.ids],
            [p.to_dict() for p in r.skipped],
            [p.to_dict() for p in r.warnings],
            r.counts,
        )

    assert outcome(1) == outcome(2)
