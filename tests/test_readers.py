"""Every input reader, driven the way users drive it: `neardup find` and `neardup.find([Path])`.

Each test writes a small corpus of fictional stories (and edited copies of them, so clusters
exist) in a tmp folder, runs the tool, and checks ids, texts, metadata and the clusters found.
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
import zstandard
from typer.testing import CliRunner

import neardup
from neardup.cli import app
from tests.conftest import make_story


def edited_copy(text: str) -> str:
    """A reprint: one word changed, a line of boilerplate added at the end."""
    words = text.split(" ")
    words[7] = "Marrowgate"
    return " ".join(words) + "\n\nRead more stories like this one in the Sunday edition."


def corpus_rows() -> list[dict[str, Any]]:
    """Four stories, two of them copies: one cluster of three, one singleton."""
    wire = make_story(11)
    return [
        {
            "id": "wire",
            "text": wire,
            "title": "Flood at the mill",
            "url": "https://example.test/wire",
            "source": "Wire Service",
            "published": "2025-03-01T08:00:00Z",
        },
        {"id": "reprint", "text": edited_copy(wire), "title": "Mill flood", "source": "Gazette"},
        {"id": "other", "text": make_story(12), "title": "Harvest fair"},
        {"id": "reprint2", "text": wire.upper(), "published": "2025-03-02"},
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], delimiter: str = ",") -> Path:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, columns, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = buf.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def clusters_of(result: neardup.FindResult) -> list[list[str]]:
    return sorted(sorted(c.members) for c in result.clusters)


def invoke(*args: str, input: bytes | None = None) -> Any:
    """The CLI in this process (fast); --workers 1 so no processes are forked."""
    result = CliRunner().invoke(app, ["find", *args, "--workers", "1"], input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


# --- JSONL --------------------------------------------------------------------------------------
def test_jsonl_ids_texts_metadata_and_clusters(tmp_path: Path) -> None:
    rows = corpus_rows()
    result = neardup.find([write_jsonl(tmp_path / "news.jsonl", rows)])
    assert result.ids == ["wire", "reprint", "other", "reprint2"]
    assert clusters_of(result) == [["reprint", "reprint2", "wire"]]
    assert result.original_of("reprint") == "wire"
    assert result.meta("wire") == {
        "title": "Flood at the mill",
        "url": "https://example.test/wire",
        "source": "Wire Service",
        "published": "2025-03-01T08:00:00Z",
    }
    assert result.meta("other") == {"title": "Harvest fair"}
    assert not result.skipped and not result.warnings


def test_jsonl_custom_id_and_text_fields_from_the_cli(tmp_path: Path) -> None:
    rows = [{"key": r["id"], "body": r["text"], "title": r.get("title")} for r in corpus_rows()]
    path = write_jsonl(tmp_path / "custom.jsonl", rows)
    out = tmp_path / "out"
    run = invoke(str(path), "--out", str(out), "--id-field", "key", "--text-field", "body")
    assert run.exit_code == 0, run.output
    (cluster,) = read_jsonl(out / "clusters.jsonl")
    assert sorted(m["id"] for m in cluster["members"]) == ["reprint", "reprint2", "wire"]
    assert cluster["original"] == "wire"
    assert {m["id"]: m.get("title") for m in cluster["members"]}["wire"] == "Flood at the mill"
    settings = orjson.loads((out / "run.json").read_bytes())["settings"]
    assert (settings["id_field"], settings["text_field"]) == ("key", "body")


def test_custom_published_field_names_the_original(tmp_path: Path) -> None:
    wire = make_story(21)
    rows = [
        {"id": "late", "text": edited_copy(wire), "date": "2025-05-02T09:00:00Z"},
        {"id": "early", "text": wire, "date": "2025-05-01T09:00:00Z"},
    ]
    path = write_jsonl(tmp_path / "dated.jsonl", rows)
    result = neardup.find([path], published_field="date")
    assert result.original_of("late") == "early"
    assert result.meta("early")["published"] == "2025-05-01T09:00:00Z"


def test_integer_ids_become_strings(tmp_path: Path) -> None:
    rows = [{"id": 7, "text": make_story(1)}, {"id": 8, "text": make_story(2)}]
    assert neardup.find([write_jsonl(tmp_path / "ints.jsonl", rows)]).ids == ["7", "8"]


def test_gzip_and_zstd_jsonl_read_like_plain(tmp_path: Path) -> None:
    rows = corpus_rows()
    plain = neardup.find([write_jsonl(tmp_path / "a.jsonl", rows)])
    for name in ("a.jsonl.gz", "a.jsonl.zst", "a.ndjson.gz"):
        result = neardup.find([write_jsonl(tmp_path / name, rows)])
        assert result.ids == plain.ids, name
        assert clusters_of(result) == clusters_of(plain), name
        assert not result.skipped, name


def test_zstd_file_of_several_frames_is_read_to_the_end(tmp_path: Path) -> None:
    # parallel compressors (zstd -T, pzstd) write one frame per block
    rows = [{"id": f"s{i}", "text": make_story(300 + i, paragraphs=1)} for i in range(40)]
    lines = [orjson.dumps(r) + b"\n" for r in rows]
    compressor = zstandard.ZstdCompressor()
    data = b"".join(compressor.compress(b"".join(lines[i : i + 7])) for i in range(0, 40, 7))
    (tmp_path / "frames.jsonl.zst").write_bytes(data)
    result = neardup.find([tmp_path / "frames.jsonl.zst"])
    assert result.ids == [f"s{i}" for i in range(40)]


def test_jsonl_with_byte_order_mark_and_crlf_and_blank_lines(tmp_path: Path) -> None:
    rows = corpus_rows()
    data = b"\xef\xbb\xbf" + b"\r\n\r\n".join(orjson.dumps(r) for r in rows) + b"\r\n\r\n"
    (tmp_path / "windows.jsonl").write_bytes(data)
    result = neardup.find([tmp_path / "windows.jsonl"])
    assert result.ids == ["wire", "reprint", "other", "reprint2"]
    assert not result.skipped


# --- CSV / TSV ----------------------------------------------------------------------------------
def test_csv_with_quoted_multiline_fields(tmp_path: Path) -> None:
    rows = corpus_rows()
    for r in rows:  # paragraphs separated by newlines, quotes and commas inside the text
        r["text"] = r["text"].replace(". ", '. "Quoted," she said.\n', 2)
    path = write_csv(tmp_path / "news.csv", rows)
    assert path.read_text().count("\n") > len(rows) + 1  # the fields really span lines
    result = neardup.find([path])
    assert result.ids == ["wire", "reprint", "other", "reprint2"]
    assert clusters_of(result) == [["reprint", "reprint2", "wire"]]
    assert result.meta("reprint") == {"title": "Mill flood", "source": "Gazette"}


def test_csv_bad_row_after_multiline_record_is_reported_at_its_own_line(tmp_path: Path) -> None:
    data = 'id,text,title\na,"Line one of the first story\nline two\nline three",T\nb,too,many,fields\n'
    (tmp_path / "lines.csv").write_text(data)
    result = neardup.find([tmp_path / "lines.csv"])
    assert result.ids == ["a"]
    (problem,) = result.skipped
    assert (problem.line, problem.reason) == (5, "expected 3 fields, got 4")


def test_tsv_and_compressed_csv(tmp_path: Path) -> None:
    rows = corpus_rows()
    for path in (
        write_csv(tmp_path / "news.tsv", rows, delimiter="\t"),
        write_csv(tmp_path / "news.csv.gz", rows),
        write_csv(tmp_path / "gz.tsv.gz", rows, delimiter="\t"),
    ):
        result = neardup.find([path])
        assert result.ids == ["wire", "reprint", "other", "reprint2"], path.name
        assert clusters_of(result) == [["reprint", "reprint2", "wire"]], path.name
        assert result.meta("other") == {"title": "Harvest fair"}, path.name


def test_csv_with_byte_order_mark_finds_its_id_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "excel.csv", corpus_rows())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert neardup.find([path]).ids == ["wire", "reprint", "other", "reprint2"]


def test_csv_without_id_column_uses_file_and_line(tmp_path: Path) -> None:
    rows = [{"text": "First line of a tale\nthat goes on"}, {"text": make_story(5)}]
    result = neardup.find([write_csv(tmp_path / "noid.csv", rows)])
    assert result.ids == ["noid.csv:2", "noid.csv:4"]


# --- Parquet ------------------------------------------------------------------------------------
def parquet_table() -> pa.Table:
    rows = corpus_rows()
    return pa.table(
        {
            "id": [r["id"] for r in rows],
            "text": [r["text"] for r in rows],
            "title": [r.get("title") for r in rows],
            "published": [r.get("published") for r in rows],
            "word_count": pa.array([len(r["text"].split()) for r in rows], pa.int32()),
            "tags": [["flood"], ["flood", "mill"], [], None],
            "score": [0.5, 1.5, None, 2.0],
        }
    )


def test_parquet_with_extra_columns(tmp_path: Path) -> None:
    pq.write_table(parquet_table(), tmp_path / "news.parquet", row_group_size=2)
    result = neardup.find([tmp_path / "news.parquet"])
    assert result.ids == ["wire", "reprint", "other", "reprint2"]
    assert clusters_of(result) == [["reprint", "reprint2", "wire"]]
    assert result.meta("wire")["published"] == "2025-03-01T08:00:00Z"


def test_parquet_read_in_several_batches_keeps_row_numbers(tmp_path: Path) -> None:
    table = parquet_table()
    pq.write_table(table, tmp_path / "news.parquet", row_group_size=1)
    result = neardup.find([tmp_path / "news.parquet"], batch_size=3)
    assert result.ids == ["wire", "reprint", "other", "reprint2"]
    assert clusters_of(result) == [["reprint", "reprint2", "wire"]]


def test_compressed_parquet(tmp_path: Path) -> None:
    pq.write_table(parquet_table(), tmp_path / "news.parquet")
    raw = (tmp_path / "news.parquet").read_bytes()
    (tmp_path / "news.parquet.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "news.parquet.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    for name in ("news.parquet.gz", "news.parquet.zst"):
        result = neardup.find([tmp_path / name])
        assert result.ids == ["wire", "reprint", "other", "reprint2"], name


def test_parquet_text_stored_as_binary_is_decoded(tmp_path: Path) -> None:
    texts = [make_story(1).encode(), "Caf\u00e9 on the quay".encode("latin-1")]
    pq.write_table(
        pa.table({"id": ["a", "b"], "text": pa.array(texts, pa.binary())}), tmp_path / "b.parquet"
    )
    result = neardup.find([tmp_path / "b.parquet"])
    assert result.ids == ["a", "b"]
    assert [(w.line, w.id, w.reason) for w in result.warnings] == [
        (2, "b", "invalid UTF-8 replaced")
    ]


def test_parquet_integer_id_column(tmp_path: Path) -> None:
    table = pa.table({"doc": [10, 20], "body": [make_story(1), make_story(2)]})
    pq.write_table(table, tmp_path / "ints.parquet")
    result = neardup.find([tmp_path / "ints.parquet"], id_field="doc", text_field="body")
    assert result.ids == ["10", "20"]


# --- folders of text files ----------------------------------------------------------------------
def make_txt_folder(root: Path) -> Path:
    wire = make_story(31)
    (root / "2025" / "march").mkdir(parents=True)
    (root / "other").mkdir()
    (root / "wire.txt").write_text(wire)
    (root / "2025" / "march" / "reprint.txt").write_text(edited_copy(wire))
    (root / "other" / "fair.txt").write_text(make_story(32))
    (root / "2025" / "zipped.txt.gz").write_bytes(gzip.compress(wire.upper().encode()))
    (root / "notes.md").write_text(wire)  # not a .txt file: not part of the corpus
    return root


def test_txt_folder_searched_recursively_ids_are_relative_paths(tmp_path: Path) -> None:
    root = make_txt_folder(tmp_path / "corpus")
    result = neardup.find([root])
    assert sorted(result.ids) == [
        "2025/march/reprint.txt",
        "2025/zipped.txt.gz",
        "other/fair.txt",
        "wire.txt",
    ]
    assert clusters_of(result) == [["2025/march/reprint.txt", "2025/zipped.txt.gz", "wire.txt"]]


def test_single_txt_files_given_by_name(tmp_path: Path) -> None:
    wire = make_story(34)
    (tmp_path / "wire.txt").write_text(wire)
    (tmp_path / "copy.txt.gz").write_bytes(gzip.compress(edited_copy(wire).encode()))
    out = tmp_path / "out"
    run = invoke(str(tmp_path / "wire.txt"), str(tmp_path / "copy.txt.gz"), "--out", str(out))
    assert run.exit_code == 0, run.output
    (cluster,) = read_jsonl(out / "clusters.jsonl")
    assert sorted(m["id"] for m in cluster["members"]) == ["copy.txt.gz", "wire.txt"]
    kept = sorted(p.name for p in (out / "deduplicated").iterdir())
    assert kept == [cluster["original"]]


def test_txt_with_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    root = tmp_path / "win"
    root.mkdir()
    story = make_story(33)
    (root / "a.txt").write_bytes(b"\xef\xbb\xbf" + story.replace("\n", "\r\n").encode())
    (root / "b.txt").write_text(story)
    result = neardup.find([root])
    assert [c.rule for c in result.clusters] and result.pairs[0].rule == "exact"


# --- standard input, in-memory documents, several inputs ----------------------------------------
def test_stdin_jsonl_through_cli(tmp_path: Path) -> None:
    rows = [*corpus_rows(), {"text": make_story(40)}]  # the last one has no id
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    out = tmp_path / "out"
    run = invoke("-", "--out", str(out), input=data)
    assert run.exit_code == 0, run.output
    kept = read_jsonl(out / "deduplicated.jsonl")
    assert [r.get("id") for r in kept] == ["wire", "other", None]
    assert kept[1] == rows[2]
    run_json = orjson.loads((out / "run.json").read_bytes())
    assert run_json["inputs"][0]["name"] == "-"
    assert run_json["counts"]["documents"] == 5


def test_stdin_through_the_installed_script_default_ids_name_stdin(tmp_path: Path) -> None:
    story = orjson.dumps({"text": make_story(41)}) + b"\n"
    out = tmp_path / "out"
    spool = tmp_path / "tmp"
    spool.mkdir()
    run = subprocess.run(
        [neardup_script(), "find", "-", "--out", str(out), "--workers", "1"],
        input=story + story,
        capture_output=True,
        env={**os.environ, "TMPDIR": str(spool)},
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert not [p for p in spool.iterdir() if p.name.startswith("neardup-stdin-")]  # cleaned up
    # stable ids, not the name of the temporary file standard input is spooled to
    (cluster,) = read_jsonl(out / "clusters.jsonl")
    assert cluster["original"] == "stdin:1"
    assert cluster["duplicates"] == ["stdin:2"]
    assert read_jsonl(out / "deduplicated.jsonl") == [{"text": make_story(41)}]


def neardup_script() -> str:
    """The installed console script, as users run it."""
    found = shutil.which("neardup") or str(Path(sys.executable).parent / "neardup")
    assert Path(found).exists(), found
    return found


def test_in_memory_strings_and_dicts() -> None:
    wire = make_story(51)
    result = neardup.find(
        [wire, {"id": "copy", "text": edited_copy(wire), "source": "Herald"}, make_story(52)]
    )
    assert result.ids == ["0", "copy", "2"]
    assert clusters_of(result) == [["0", "copy"]]
    assert result.meta("copy") == {"source": "Herald"}


def test_in_memory_strings_around_paths_are_numbered_by_position(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "file", "text": make_story(55)}])
    docs = [make_story(56), path, make_story(57), 42, make_story(58)]
    result = neardup.find(docs, out=tmp_path / "out")
    assert result.ids == ["0", "file", "2", "4"]  # none dropped as a repeated id
    (problem,) = result.skipped
    assert (problem.line, problem.reason) == (4, "expected a string or a dict, got int")
    kept = read_jsonl(tmp_path / "out" / "deduplicated.jsonl")
    assert [r["id"] for r in kept] == ["0", "file", "2", "4"]


def test_mix_of_formats_finds_copies_across_files(tmp_path: Path) -> None:
    wire = make_story(61)
    write_jsonl(tmp_path / "wire.jsonl.gz", [{"id": "wire", "text": wire}])
    write_csv(tmp_path / "papers.csv", [{"id": "paper", "text": edited_copy(wire)}])
    pq.write_table(pa.table({"id": ["site"], "text": [wire.upper()]}), tmp_path / "sites.parquet")
    (tmp_path / "blogs").mkdir()
    (tmp_path / "blogs" / "blog.txt").write_text(wire + "\n\nShare this post.")
    result = neardup.find(
        [
            tmp_path / "wire.jsonl.gz",
            tmp_path / "papers.csv",
            tmp_path / "sites.parquet",
            tmp_path / "blogs",
            {"id": "memo", "text": make_story(62)},
        ]
    )
    assert result.ids == ["wire", "paper", "site", "blog.txt", "memo"]
    assert clusters_of(result) == [["blog.txt", "paper", "site", "wire"]]


def test_reading_does_not_depend_on_batch_size_or_workers(tmp_path: Path) -> None:
    rows = []
    for i in range(30):
        story = make_story(700 + i, paragraphs=2)
        rows.append({"id": f"s{i}", "text": story})
        if i % 3 == 0:
            rows.append({"id": f"c{i}", "text": edited_copy(story)})
    path = write_jsonl(tmp_path / "many.jsonl", rows)
    base = neardup.find([path])
    for kwargs in ({"batch_size": 4}, {"batch_size": 7, "workers": 2}):
        other = neardup.find([path], **kwargs)
        assert other.ids == base.ids
        assert clusters_of(other) == clusters_of(base)
        assert [(p.a, p.b) for p in other.pairs] == [(p.a, p.b) for p in base.pairs]


# --- JSONL in blocks (the find pipeline's reading) ----------------------------------------------
def _records_and_problems(path: Path, blocks: bool, batch_size: int) -> tuple[list, list]:
    from neardup.config import Settings
    from neardup.corpus.readers import JsonlBlock, ProblemLog, Reader, parse_jsonl_block
    from neardup.corpus.sources import open_source

    settings = Settings(batch_size=batch_size)
    problems = ProblemLog("skip")
    records, found = [], []
    for item in Reader([open_source(path)], settings, problems, jsonl_blocks=blocks):
        if isinstance(item, JsonlBlock):
            parsed = parse_jsonl_block(item, settings)
            batch = parsed.batch
            found += [p.message() for p in [*parsed.skipped, *parsed.warnings, *item.after]]
            lines = batch.lines
            places = list(zip(parsed.byte_starts, parsed.byte_lengths, strict=True))
        else:
            batch, lines, places = item, item.lines, [None] * len(item)
        records += [(i, t, line) for i, t, line in zip(batch.ids, batch.texts, lines, strict=True)]
        if blocks:
            raw = path.read_bytes()
            for (start, length), text in zip(places, batch.texts, strict=True):
                # each record's place is its line in the file
                assert orjson.loads(raw[start : start + length])["text"] == text
    found += [p.message() for p in [*problems.skipped, *problems.warnings]]
    return records, sorted(found)


def test_jsonl_blocks_read_what_lines_read(tmp_path: Path) -> None:
    # small blocks, a line longer than a block, blank lines, a broken line, a byte-order mark
    # and no newline at the end: the same records, lines and problems as reading line by line
    long_text = make_story(1) * 80  # ~170 KB: longer than a block (64 KB at least)
    rows = [
        b"\n",
        *(orjson.dumps({"id": f"d{k}", "text": make_story(k)}) + b"\n" for k in range(200)),
    ]
    rows[7] = orjson.dumps({"id": "long", "text": long_text}) + b"\n"
    rows[12] = b"{broken\n"
    rows[20] = b"   \n"
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(rows) + orjson.dumps({"id": "last", "text": "x y"}))
    by_line = _records_and_problems(path, blocks=False, batch_size=4)
    assert len(by_line[0]) == 199 and by_line[1]  # the broken line is reported
    assert _records_and_problems(path, blocks=True, batch_size=4) == by_line
    assert _records_and_problems(path, blocks=True, batch_size=1000) == by_line


def test_jsonl_blocks_of_empty_and_blank_files(tmp_path: Path) -> None:
    for name, data in (("empty.jsonl", b""), ("blank.jsonl", b"\n  \n\n")):
        path = tmp_path / name
        path.write_bytes(data)
        records, found = _records_and_problems(path, blocks=True, batch_size=4)
        assert records == [] and found == [f"{path}: no records in file"]
