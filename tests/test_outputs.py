"""The results folder: the deduplicated corpus keeps every field of every kept record intact, and
nothing is lost silently: kept + duplicates + skipped == records read, for every input format, for
compressed files, standard input and a mix of formats.

Records are counted from the outputs alone, as a user would: the records of deduplicated.*, the
duplicates listed in clusters.jsonl and the lines of skipped.jsonl.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from typer.testing import CliRunner

import neardup
from neardup.cli import app
from tests.conftest import make_story


def edited_copy(text: str, word: str = "Marrowgate") -> str:
    """A reprint that changes a word and drops the last paragraph, so the story it copies
    contains more of it than it contains of the story (and is named the original)."""
    words = text.split(" ")
    words[5] = word
    return " ".join(words).rsplit("\n\n", 1)[0]


def invoke(*args: str, input: bytes | None = None) -> Any:
    result = CliRunner().invoke(
        app, ["find", *args, "--workers", "1"], input=input, env={"COLUMNS": "1000"}
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def neardup_script() -> str:
    found = shutil.which("neardup") or str(Path(sys.executable).parent / "neardup")
    assert Path(found).exists(), found
    return found


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    # deduplicated.jsonl keeps invalid UTF-8 as it was in the input: read it as a user would
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def csv_rows(data: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    text = io.StringIO(data.decode("utf-8", "surrogateescape"), newline="")
    return list(csv.DictReader(text, delimiter=delimiter))


# --- the records of a corpus: good ones, copies of them, and bad ones ---------------------------
def good_rows(prefix: str, seed: int) -> list[dict[str, Any]]:
    """Six records: a story with two copies (one exact), a second story with one copy, a
    singleton. Every record carries extra fields that must survive deduplication."""
    a, b, c = make_story(seed), make_story(seed + 1), make_story(seed + 2)
    texts = [a, edited_copy(a), b, a, edited_copy(b, "Quillon"), c]
    return [
        {
            "id": f"{prefix}{k}",
            "text": text,
            "title": f"Story {k} — “quoted”, with commas",
            "url": f"https://example.test/{prefix}/{k}",
            "published": f"2025-04-{10 + k:02d}T06:00:00Z",
            "section": "valley" if k % 2 else "harbour",
            "rank": k,
        }
        for k, text in enumerate(texts)
    ]


def summary(out: Path) -> dict[str, Any]:
    """What the results folder says happened to each record."""
    kept: list[Any] = []
    for name in sorted(os.listdir(out)):
        path = out / name
        if name == "deduplicated.jsonl":
            kept += [r.get("id") for r in read_jsonl(path)]
        elif name in ("deduplicated.csv", "deduplicated.tsv"):
            kept += [
                r.get("id") for r in csv_rows(path.read_bytes(), "\t" if "tsv" in name else ",")
            ]
        elif name == "deduplicated.parquet":
            kept += pq.read_table(path).column("id").to_pylist()
        elif name == "deduplicated":
            kept += [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
    clusters = read_jsonl(out / "clusters.jsonl")
    duplicates = [d for c in clusters for d in c["duplicates"]]
    skipped = read_jsonl(out / "skipped.jsonl")
    return {
        "kept": kept,
        "duplicates": duplicates,
        "skipped": skipped,
        "clusters": clusters,
        "run": orjson.loads((out / "run.json").read_bytes()),
    }


def assert_accounted(out: Path, records: int) -> dict[str, Any]:
    s = summary(out)
    assert len(s["kept"]) + len(s["duplicates"]) + len(s["skipped"]) == records
    with_ids = [k for k in s["kept"] if k is not None]
    assert not set(with_ids) & set(s["duplicates"])
    assert len(set(s["duplicates"])) == len(s["duplicates"])
    for cluster in s["clusters"]:  # each cluster's original is kept, the others are not
        assert cluster["original"] in with_ids or cluster["original"].startswith("stdin:")
    counts = s["run"]["counts"]
    assert counts["documents_read"] == records
    assert counts["documents_kept"] == len(s["kept"])
    assert counts["duplicates_removed"] == len(s["duplicates"])
    assert counts["skipped"] == len(s["skipped"])
    for name in s["run"]["outputs"]:
        assert (out / name.rstrip("/")).exists(), name
    return s


# --- JSONL --------------------------------------------------------------------------------------
def jsonl_corpus(path: Path) -> tuple[list[bytes], int]:
    """JSONL lines written in different styles, with bad lines; returns (lines, records)."""
    rows = good_rows("j", 1)
    lines = [orjson.dumps(r) + b"\n" for r in rows]
    lines[5] = (  # hand-written: spaces, escapes, nested fields, non-ASCII; must be kept as is
        b'{ "id" : "j5",  "text": ' + orjson.dumps(rows[5]["text"]) + b', "tags": ["a", {"b": '
        b'[1, 2.50]}], "note": "caf\\u00e9 \xe2\x98\x95", "empty": null }\n'
    )
    lines += [
        b"{not json}\n",
        b'{"id": "j0", "text": "an id seen before"}\n',
        b'{"id": "nothing", "text": "   "}\n',
        b"\n",
        b'{"id": "latin", "text": "Caf\xe9 on the quay, open early every day of the week"}\n',
    ]
    data = b"".join(lines)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif path.name.endswith(".zst"):
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        path.write_bytes(data)
    return lines, 10


@pytest.mark.parametrize("name", ["news.jsonl", "news.jsonl.gz", "news.jsonl.zst"])
def test_jsonl_deduplicated_lines_are_the_input_lines_byte_for_byte(
    tmp_path: Path, name: str
) -> None:
    lines, records = jsonl_corpus(tmp_path / name)
    out = tmp_path / "out"
    invoke(str(tmp_path / name), "--out", str(out))
    s = assert_accounted(out, records)
    assert s["kept"] == ["j0", "j2", "j5", "latin"]
    assert sorted(s["duplicates"]) == ["j1", "j3", "j4"]
    reasons = [p["reason"] for p in s["skipped"]]
    assert reasons[0].startswith("broken JSON")
    assert reasons[1] == f"duplicate id (first seen at {tmp_path / name}:1)"
    assert reasons[2].startswith("empty text")
    kept_lines = (out / "deduplicated.jsonl").read_bytes().splitlines(keepends=True)
    assert kept_lines == [lines[0], lines[2], lines[5], lines[-1]]


def test_stdin_output_and_accounting(tmp_path: Path) -> None:
    lines, records = jsonl_corpus(tmp_path / "news.jsonl")
    out = tmp_path / "out"
    invoke("-", "--out", str(out), input=b"".join(lines))
    s = assert_accounted(out, records)
    kept_lines = (out / "deduplicated.jsonl").read_bytes().splitlines(keepends=True)
    assert kept_lines == [lines[0], lines[2], lines[5], lines[-1]]
    assert s["run"]["inputs"][0]["name"] == "-"


# --- CSV / TSV ----------------------------------------------------------------------------------
def write_csv(path: Path, rows: list[dict[str, Any]], delimiter: str = ",") -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, list(rows[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    data = buf.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return data


@pytest.mark.parametrize(("name", "delimiter"), [("news.csv", ","), ("news.tsv.gz", "\t")])
def test_csv_deduplicated_rows_keep_every_column(tmp_path: Path, name: str, delimiter: str) -> None:
    rows = good_rows("c", 10)
    rows.append({**rows[5], "id": "c-empty", "text": ""})
    rows.append({**rows[2], "id": "c2", "text": "the same id again"})
    data = write_csv(tmp_path / name, rows, delimiter)
    short = f"c-short{delimiter}too few fields".encode()
    data = data.replace(b"\r\n", b"\r\n" + short + b"\r\n", 1)  # right after the header
    (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    out = tmp_path / "out"
    invoke(str(tmp_path / name), "--out", str(out))
    s = assert_accounted(out, 9)
    assert [(p["line"], p["reason"]) for p in s["skipped"][:1]] == [(2, "expected 7 fields, got 2")]
    ext = "tsv" if delimiter == "\t" else "csv"
    written = csv_rows((out / f"deduplicated.{ext}").read_bytes(), delimiter)
    original: dict[str, dict[str, str]] = {}
    for r in csv_rows(data, delimiter):
        original.setdefault(r["id"], r)  # the first of two records with one id is kept
    assert [r["id"] for r in written] == ["c0", "c2", "c5"]
    for row in written:  # every column, every character (paragraph breaks inside fields too)
        assert row == original[row["id"]]
    assert "\n\n" in written[0]["text"]


# --- Parquet ------------------------------------------------------------------------------------
def test_parquet_deduplicated_keeps_extra_columns_and_types(tmp_path: Path) -> None:
    rows = good_rows("p", 20)
    table = pa.table(
        {
            "id": [r["id"] for r in rows] + ["p-null", "p0"],
            "text": [r["text"] for r in rows] + [None, "id seen before"],
            "title": [r["title"] for r in rows] + ["x", "y"],
            "published": [r["published"] for r in rows] + [None, None],
            "rank": pa.array([r["rank"] for r in rows] + [6, 7], pa.int16()),
            "tags": [["a", "b"], [], None, ["c"], ["d"], ["e", "f"], None, None],
            "score": pa.array([0.25, None, 1.5, 2.0, 3.0, 4.5, None, None], pa.float32()),
            "fetched": pa.array(list(range(8)), pa.timestamp("ms", tz="UTC")),
        }
    )
    pq.write_table(table, tmp_path / "news.parquet", row_group_size=3)
    out = tmp_path / "out"
    invoke(str(tmp_path / "news.parquet"), "--out", str(out))
    s = assert_accounted(out, 8)
    written = pq.read_table(out / "deduplicated.parquet")
    assert written.schema.equals(table.schema)
    assert written.to_pylist() == [table.slice(i, 1).to_pylist()[0] for i in (0, 2, 5)]
    assert [(p["line"], p["id"]) for p in s["skipped"]] == [(7, "p-null"), (8, "p0")]


def test_parquet_inputs_with_different_column_types_are_written_together(tmp_path: Path) -> None:
    wire = make_story(25)
    pq.write_table(
        pa.table({"id": [1, 2], "text": [wire, make_story(26)], "views": [10, 20]}),
        tmp_path / "a.parquet",
    )
    pq.write_table(
        pa.table({"id": ["x", "y"], "text": [make_story(27), wire], "lang": ["en", "cy"]}),
        tmp_path / "b.parquet",
    )
    out = tmp_path / "out"
    invoke(str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--out", str(out))
    assert_accounted(out, 4)
    written = pq.read_table(out / "deduplicated.parquet").to_pylist()
    assert written == [  # the id column is text, as in one of the inputs; no column is lost
        {"id": "1", "text": wire, "views": 10, "lang": None},
        {"id": "2", "text": make_story(26), "views": 20, "lang": None},
        {"id": "x", "text": make_story(27), "views": None, "lang": "en"},
    ]


# --- folders of text files ----------------------------------------------------------------------
def test_txt_deduplicated_folder_keeps_subfolders_and_bytes(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    rows = good_rows("t", 30)
    for k, row in enumerate(rows):
        path = root / row["section"] / f"{k}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(row["text"].replace("\n", "\r\n").encode())
    (root / "empty.txt").write_bytes(b"")
    (root / "deep" / "er").mkdir(parents=True)
    (root / "deep" / "er" / "cp1252.txt").write_bytes(b"Caf\xe9 \x93noir\x94 at dawn, " * 30)
    (root / "deep" / "er" / "gz.txt.gz").write_bytes(gzip.compress(rows[5]["text"].encode()))
    out = tmp_path / "out"
    invoke(str(root), "--out", str(out))
    s = assert_accounted(out, 9)
    # gz.txt.gz holds the same text as valley/5.txt and comes first in path order
    assert sorted(s["kept"]) == [
        "deep/er/cp1252.txt",
        "deep/er/gz.txt.gz",
        "harbour/0.txt",
        "harbour/2.txt",
    ]
    assert sorted(s["duplicates"]) == [
        "harbour/4.txt",
        "valley/1.txt",
        "valley/3.txt",
        "valley/5.txt",
    ]
    for rel in s["kept"]:
        assert (out / "deduplicated" / rel).read_bytes() == (root / rel).read_bytes()
    assert s["run"]["counts"]["warnings"] == 1


def test_rerun_into_the_same_folder_replaces_the_old_results(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    root.mkdir()
    story = make_story(40)
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / name).write_text(make_story(41 + ord(name[0])))
    out = tmp_path / "out"
    invoke(str(root), "--out", str(out))
    assert len(list((out / "deduplicated").iterdir())) == 3
    (root / "b.txt").write_text(story)
    (root / "c.txt").write_text(story)
    invoke(str(root), "--out", str(out))
    assert sorted(p.name for p in (out / "deduplicated").iterdir()) == ["a.txt", "b.txt"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]


# --- a mix of formats ---------------------------------------------------------------------------
def make_mix(folder: Path) -> tuple[list[str], int]:
    """A story in JSONL with copies in every other format, plus bad records in each."""
    folder.mkdir(parents=True, exist_ok=True)
    wire = make_story(50)
    jsonl = [{"id": "wire", "text": wire, "source": "Wire"}, {"id": "w2", "text": make_story(51)}]
    (folder / "wire.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(
            b"".join(orjson.dumps(r) + b"\n" for r in jsonl) + b"[broken\n"
        )
    )
    write_csv(
        folder / "papers.csv.gz",
        [
            {"id": "paper", "text": edited_copy(wire), "paper": "Gazette"},
            {"id": "p2", "text": make_story(52), "paper": "Herald"},
            {"id": "wire", "text": "a second record with the wire's id", "paper": "Herald"},
        ],
    )
    pq.write_table(
        pa.table(
            {
                "id": ["site", "s2", "s3"],
                "text": [wire.upper(), make_story(53), None],
                "crawl": [1, 2, 3],
            }
        ),
        folder / "sites.parquet",
    )
    (folder / "blogs" / "2025").mkdir(parents=True)
    (folder / "blogs" / "2025" / "copy.txt").write_text(edited_copy(wire, "Blogwell"))
    (folder / "blogs" / "mine.txt").write_text(make_story(54))
    (folder / "blogs" / "blank.txt").write_text(" \n")
    names = ["wire.jsonl.zst", "papers.csv.gz", "sites.parquet", "blogs"]
    return [str(folder / n) for n in names], 12


def test_mix_of_formats_accounting_and_one_output_per_format(tmp_path: Path) -> None:
    inputs, records = make_mix(tmp_path / "in")
    out = tmp_path / "out"
    run = invoke(*inputs, "--out", str(out))
    s = assert_accounted(out, records)
    assert sorted(s["kept"]) == ["mine.txt", "p2", "s2", "w2", "wire"]
    assert sorted(s["duplicates"]) == ["2025/copy.txt", "paper", "site"]
    assert len(s["skipped"]) == 4
    for name in ("deduplicated.jsonl", "deduplicated.csv", "deduplicated.parquet", "deduplicated"):
        assert (out / name).exists(), name
    assert pq.read_table(out / "deduplicated.parquet").to_pylist() == [
        {"id": "s2", "text": make_story(53), "crawl": 2}
    ]
    assert csv_rows((out / "deduplicated.csv").read_bytes()) == [
        {"id": "p2", "text": make_story(52), "paper": "Herald"}
    ]
    assert "skipped" in run.stderr and "4" in run.stderr
    assert [i["format"] for i in s["run"]["inputs"]] == ["jsonl", "csv", "parquet", "txt"]
    assert [i["compression"] for i in s["run"]["inputs"]] == ["zstd", "gzip", None, None]


def test_installed_script_end_to_end_matches_the_in_process_run(tmp_path: Path) -> None:
    inputs, records = make_mix(tmp_path / "in")
    invoke(*inputs, "--out", str(tmp_path / "a"))
    run = subprocess.run(
        [neardup_script(), "find", *inputs, "--out", str(tmp_path / "b"), "--workers", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "documents kept" in run.stderr
    command = orjson.loads((tmp_path / "b" / "run.json").read_bytes())["command"]
    assert command == ["neardup", "find", *inputs, "--out", str(tmp_path / "b"), "--workers", "2"]
    assert_accounted(tmp_path / "b", records)
    for name in ("pairs.jsonl", "clusters.jsonl", "skipped.jsonl", "deduplicated.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for rel in ("deduplicated.csv", "deduplicated/mine.txt"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert pq.read_table(tmp_path / "a" / "deduplicated.parquet").equals(
        pq.read_table(tmp_path / "b" / "deduplicated.parquet")
    )


# --- the other result files ---------------------------------------------------------------------
def test_pairs_clusters_and_run_json_agree(tmp_path: Path) -> None:
    inputs, _ = make_mix(tmp_path / "in")
    out = tmp_path / "out"
    invoke(*inputs, "--out", str(out), "--threshold", "0.6")
    pairs = read_jsonl(out / "pairs.jsonl")
    assert pq.read_table(out / "pairs.parquet").to_pylist() == pairs
    clusters = {c["cluster"]: c for c in read_jsonl(out / "clusters.jsonl")}
    for pair in pairs:
        members = [m["id"] for m in clusters[pair["cluster"]]["members"]]
        assert pair["a"] in members and pair["b"] in members
        assert pair["rule"] in ("exact", "jaccard", "containment")
        assert 0.0 <= pair["jaccard"] <= 1.0
    (cluster,) = clusters.values()
    assert cluster["original"] == "wire"
    assert cluster["size"] == len(cluster["members"]) == 4
    assert {m["id"]: m.get("source") for m in cluster["members"]}["wire"] == "Wire"
    run = orjson.loads((out / "run.json").read_bytes())
    assert run["settings"]["threshold"] == 0.6
    assert run["counts"]["pairs"] == len(pairs)
    assert run["counts"]["clusters"] == 1


def test_same_input_same_output(tmp_path: Path) -> None:
    jsonl_corpus(tmp_path / "news.jsonl")
    first = neardup.find([tmp_path / "news.jsonl"], out=tmp_path / "a")
    second = neardup.find([tmp_path / "news.jsonl"], out=tmp_path / "b")
    assert first.kept_ids == second.kept_ids
    for name in ("pairs.jsonl", "clusters.jsonl", "skipped.jsonl", "deduplicated.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_deduplicated_output_has_no_copies_left(tmp_path: Path) -> None:
    inputs, _ = make_mix(tmp_path / "in")
    out = tmp_path / "out"
    invoke(*inputs, "--out", str(out))
    again = neardup.find(
        [
            out / "deduplicated.jsonl",
            out / "deduplicated.csv",
            out / "deduplicated.parquet",
            out / "deduplicated",
        ]
    )
    assert again.clusters == []
    assert not again.skipped
    assert sorted(again.ids) == ["mine.txt", "p2", "s2", "w2", "wire"]


# --- the Python API -----------------------------------------------------------------------------
def test_api_accounting_with_memory_documents_and_files(tmp_path: Path) -> None:
    inputs, file_records = make_mix(tmp_path / "in")
    wire = make_story(50)
    memory = [wire, {"id": "m1", "text": make_story(60), "extra": {"nested": [1]}}, 42, "   "]
    result = neardup.find([*map(Path, inputs), *memory], out=tmp_path / "out")
    records = file_records + len(memory)
    assert len(result.kept_ids) + len(result.duplicates) + len(result.skipped) == records
    assert result.duplicates["4"] == "wire"  # a string is numbered by its position
    s = assert_accounted(tmp_path / "out", records)
    kept_memory = [
        r for r in read_jsonl(tmp_path / "out" / "deduplicated.jsonl") if r["id"] == "m1"
    ]
    assert kept_memory == [memory[1]]
    assert s["run"]["inputs"][-1]["format"] == "memory"
