"""alignments.jsonl and report.html of a find run: every pair aligned, the page self-contained
and bounded in size."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

import neardup
from neardup.config import Settings
from neardup.corpus.fetch import iter_group_texts
from neardup.corpus.sources import open_source
from neardup.report import write_alignments_and_report
from tests.conftest import make_story
from tests.test_align import AD, COPY, WIRE

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def example_texts() -> dict[str, str]:
    rows = [
        json.loads(line)
        for line in (EXAMPLES / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return {r["id"]: r["text"] for r in rows}


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def embedded_json(page: str, element_id: str):
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S
    )
    assert match, element_id
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, neardup.api.FindResult]:
    out = tmp_path_factory.mktemp("examples")
    result = neardup.find([EXAMPLES / "corpus.jsonl"], out=out)
    return out, result


def test_every_pair_has_an_alignment_record(example_run) -> None:
    out, _ = example_run
    pairs = pq.read_table(out / "pairs.parquet").to_pylist()
    records = read_jsonl(out / "alignments.jsonl")
    assert sorted((r["a"], r["b"]) for r in records) == sorted((p["a"], p["b"]) for p in pairs)
    assert all(r["aligned"] for r in records)
    run = json.loads((out / "run.json").read_text())
    assert "alignments.jsonl" in run["outputs"] and "report.html" in run["outputs"]


def test_alignment_offsets_index_the_original_texts(example_run) -> None:
    out, _ = example_run
    texts = example_texts()
    for r in read_jsonl(out / "alignments.jsonl"):
        a, b = texts[r["a"]], texts[r["b"]]
        for p in r["passages"]:
            assert 0 <= p["a"][0] < p["a"][1] <= len(a)
            assert 0 <= p["b"][0] < p["b"][1] <= len(b)
        for s in r["insertions"]:
            assert b[s["b"][0] : s["b"][1]] == s["text"]
        for s in r["removals"]:
            assert a[s["a"][0] : s["a"][1]] == s["text"]
        for s in r["substitutions"]:
            assert a[s["a"][0] : s["a"][1]] == s["a_text"]
            assert b[s["b"][0] : s["b"][1]] == s["b_text"]


def test_injected_ad_is_an_insertion_in_the_copy(example_run) -> None:
    out, _ = example_run
    texts = example_texts()
    record = next(
        r
        for r in read_jsonl(out / "alignments.jsonl")
        if (r["a"], r["b"]) == ("meridian-0001", "coastal-times-0001")
    )
    assert record["original"] == "meridian-0001"
    ads = [
        s
        for s in record["insertions"]
        if s["text"].startswith("Sponsored Content Recommended for you")
    ]
    assert len(ads) == 1 and ads[0]["passage"] is None
    copy = texts["coastal-times-0001"]
    start, end = ads[0]["b"]
    # the ad sits inside a paragraph: shared text on both sides of it on the same line
    assert "\n" not in copy[start - 20 : end + 20]
    removed = [s["text"] for s in record["removals"]]
    assert any(t.startswith("(Reporting by") for t in removed)


def test_report_is_self_contained_and_lists_the_clusters(example_run) -> None:
    out, result = example_run
    page = (out / "report.html").read_text(encoding="utf-8")
    # nothing is fetched from the network: no external script, style, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    index = embedded_json(page, "nd-index")
    expected = json.loads((EXAMPLES / "expected.json").read_text())
    assert sorted(row["o"] for row in index) == sorted(c["original"] for c in expected["clusters"])
    assert [row["n"] for row in index] == sorted((row["n"] for row in index), reverse=True)
    summary = embedded_json(page, "nd-summary")
    assert summary["counts"]["clusters"] == len(expected["clusters"])
    assert summary["settings"]["ngram"] == result.settings.ngram
    assert page.count("<svg") == 2  # the two histograms
    # small corpus: all data inline, no sidecar folder
    assert not (out / "report-data").exists()


def test_alignments_are_deterministic(example_run, tmp_path: Path) -> None:
    out, _ = example_run
    neardup.find([EXAMPLES / "corpus.jsonl"], out=tmp_path)
    assert (tmp_path / "alignments.jsonl").read_bytes() == (out / "alignments.jsonl").read_bytes()


def _generated_corpus(path: Path, stories: int, copies: int) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for s in range(stories):
            text = make_story(s, paragraphs=4, words_per_paragraph=40)
            story = {
                "id": f"s{s}",
                "text": text,
                "source": f"outlet-{s % 7}",
                "published": "2025-01-01",
            }
            f.write(json.dumps(story) + "\n")
            for c in range(copies):
                paragraphs = text.split("\n\n")
                paragraphs.insert(
                    2,
                    f"Advertisement number {c} for story {s}: buy the premium plan today and save",
                )
                copy = {
                    "id": f"s{s}-copy{c}",
                    "text": "\n\n".join(paragraphs),
                    "published": "2025-01-02",
                }
                f.write(json.dumps(copy) + "\n")


def test_large_runs_keep_the_page_small_with_sidecar_data(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl.gz"
    _generated_corpus(corpus, stories=300, copies=2)
    result = neardup.find([corpus])
    out = tmp_path / "out"
    out.mkdir()
    written = write_alignments_and_report(result, out, inline_bytes=50_000)
    assert written == ["alignments.jsonl", "report.html", "report-data/"]
    page = (out / "report.html").read_text(encoding="utf-8")
    index = embedded_json(page, "nd-index")
    assert len(index) == 300
    chunks = sorted((out / "report-data").glob("chunk-*.js"))
    assert chunks
    # every cluster's data is somewhere: inline or in a sidecar chunk
    inline = set(map(int, re.findall(r'class="nd-chunk" data-chunk="(\d+)"', page)))
    sidecar = {int(p.stem.split("-")[1]) for p in chunks}
    assert {row["k"] for row in index} <= inline | sidecar
    first = chunks[0].read_text(encoding="utf-8")
    assert first.startswith("window.neardupChunk(")
    # the page holds the list and the inline budget, not the texts of the whole corpus
    total = sum(p.stat().st_size for p in chunks)
    assert len(page.encode()) < 400_000 < total


def test_detail_budget_and_pair_cap(tmp_path: Path) -> None:
    docs = [
        {"id": "wire", "text": WIRE, "published": "2025-01-01T00:00:00Z"},
        {"id": "copy-1", "text": COPY, "published": "2025-01-02T00:00:00Z"},
        {
            "id": "copy-2",
            "text": COPY.replace("Tuesday", "Wednesday"),
            "published": "2025-01-03T00:00:00Z",
        },
    ]
    result = neardup.find(docs)
    out = tmp_path
    write_alignments_and_report(result, out, max_aligned_pairs=0, max_detail_bytes=0)
    records = read_jsonl(out / "alignments.jsonl")
    assert len(records) == len(result.pairs) == 3
    for r in records:
        if "wire" in (r["a"], r["b"]):
            assert r["aligned"] is True
        else:
            assert r["aligned"] is False and r["why_not_aligned"] == "max_aligned_pairs reached"
    index = embedded_json((out / "report.html").read_text(encoding="utf-8"), "nd-index")
    assert index[0]["k"] is None  # over the detail budget: listed, without texts


def test_texts_are_read_back_from_every_kind_of_source(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "wire.txt").write_text(WIRE, encoding="utf-8")
    (folder / "copy.txt").write_bytes(b"\xef\xbb\xbf" + COPY.encode("utf-8"))  # with a BOM
    memory = [{"id": "mem-copy", "text": COPY.replace("Tuesday", "Monday")}]
    out = tmp_path / "out"
    result = neardup.find([folder, *memory], out=out)
    assert len(result.clusters) == 1
    records = read_jsonl(out / "alignments.jsonl")
    assert len(records) == 3 and all(r["aligned"] for r in records)
    texts = {"wire.txt": WIRE, "copy.txt": COPY, "mem-copy": COPY.replace("Tuesday", "Monday")}
    for r in records:
        for s in r["insertions"]:
            assert texts[r["b"]][s["b"][0] : s["b"][1]] == s["text"]
    wire_copy = next(r for r in records if {r["a"], r["b"]} == {"wire.txt", "copy.txt"})
    side = "insertions" if wire_copy["a"] == "wire.txt" else "removals"
    assert AD in [s["text"] for s in wire_copy[side]]


def test_group_texts_in_rounds_when_memory_is_capped(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": f"d{i}", "text": f"text number {i} " * (i + 1)} for i in range(30)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    groups = [np.array([0, 29]), np.array([5, 6, 7]), np.array([10]), np.array([3, 20])]
    n_chars = np.array([len(r["text"]) for r in rows])
    for cap in (10**9, 50):
        got = dict(
            iter_group_texts(
                [open_source(corpus)],
                Settings(),
                np.zeros(30, np.int32),
                np.arange(30),
                groups,
                n_chars,
                max_chars_in_memory=cap,
            )
        )
        assert sorted(got) == [0, 1, 2, 3]
        for g, texts in got.items():
            assert texts == {int(d): rows[int(d)]["text"] for d in groups[g]}


def test_output_does_not_depend_on_the_number_of_workers(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl.gz"
    _generated_corpus(corpus, stories=40, copies=2)
    result = neardup.find([corpus])
    outputs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        out.mkdir()
        write_alignments_and_report(result, out, workers=workers)
        outputs.append((out / "alignments.jsonl").read_bytes())
        index = embedded_json((out / "report.html").read_text(encoding="utf-8"), "nd-index")
        assert len(index) == 40
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") == len(result.pairs)


def test_titles_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    hostile = 'Ferry </script><script>alert(1)</script> /*JS*/ <!--CHUNKS--> "quoted"'
    docs = [
        {"id": "wire", "text": WIRE, "title": hostile, "published": "2025-01-01"},
        {"id": "copy", "text": COPY, "title": hostile, "published": "2025-01-02"},
    ]
    neardup.find(docs, out=tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("<script") == page.count("</script>")
    index = embedded_json(page, "nd-index")
    assert index[0]["t"] == hostile
    assert page.count('"use strict"') == 1  # the script was inserted once, not into the data
