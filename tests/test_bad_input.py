"""Bad input: every kind gets a message naming the file and line, and --on-error decides.

With the default `--on-error skip` a bad record is listed in skipped.jsonl with its reason and
counted in the summary and run.json; with `--on-error fail` the run stops with exit code 2 at the
first one. Bad encodings are not errors: the text is decoded with U+FFFD and a warning counted.
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
from neardup.corpus.sources import InputError
from tests.conftest import make_story

WIDE = {"COLUMNS": "1000"}  # so no message is folded across lines


def invoke(*args: str, input: bytes | None = None) -> Any:
    result = CliRunner().invoke(app, ["find", *args, "--workers", "1"], input=input, env=WIDE)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def neardup_script() -> str:
    found = shutil.which("neardup") or str(Path(sys.executable).parent / "neardup")
    assert Path(found).exists(), found
    return found


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def line(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


def skipped(out: Path) -> list[tuple[int | None, str | None, str]]:
    return [(p["line"], p["id"], p["reason"]) for p in read_jsonl(out / "skipped.jsonl")]


# --- every kind of bad JSONL record, skipped ----------------------------------------------------
BAD_JSONL = [
    line({"id": "good1", "text": make_story(1)}),  # 1
    b'{"id": "broken", "text": "no closing quote}\n',  # 2
    b"[1, 2, 3]\n",  # 3
    b"42\n",  # 4
    b'"just a string"\n',  # 5
    b"null\n",  # 6
    line({"id": "notext", "title": "A headline without a story"}),  # 7
    line({"id": "numtext", "text": 12345}),  # 8
    line({"id": "empty", "text": ""}),  # 9
    line({"id": "blank", "text": "  \n\t "}),  # 10
    line({"id": "dots", "text": "... !!! ???"}),  # 11
    line({"id": "good1", "text": make_story(2)}),  # 12
    line({"id": True, "text": make_story(3)}),  # 13
    b"\n",  # 14: a blank line is not a record
    line({"text": make_story(4)}),  # 15
]


def test_every_bad_jsonl_record_is_skipped_with_file_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join(BAD_JSONL))
    out = tmp_path / "out"
    run = invoke(str(path), "--out", str(out))
    assert run.exit_code == 0, run.output
    # reading problems come first, those found after tokenizing (no words, id seen) after them
    problems = sorted(skipped(out), key=lambda p: p[0] or 0)
    assert [(n, i) for n, i, _ in problems] == [
        (2, None),
        (3, None),
        (4, None),
        (5, None),
        (6, None),
        (7, "notext"),
        (8, "numtext"),
        (9, "empty"),
        (10, "blank"),
        (11, "dots"),
        (12, "good1"),
        (13, None),
    ]
    reasons = [r for _, _, r in problems]
    assert reasons[0].startswith("broken JSON")
    assert reasons[1:5] == [
        "expected a JSON object, got list",
        "expected a JSON object, got int",
        "expected a JSON object, got str",
        "expected a JSON object, got NoneType",
    ]
    assert reasons[5] == "missing text field 'text'"
    assert reasons[6] == "text field 'text' is not a string (got int)"
    assert [r.startswith("empty text") for r in reasons[7:9]] == [True, True]
    assert reasons[9].startswith("no words in text")
    assert reasons[10] == f"duplicate id (first seen at {path}:1)"
    assert reasons[11] == "id field 'id' is not a string or integer"
    for number, _, reason in problems:  # the terminal summary names file and line too
        assert f"{path}:{number}" in run.stderr and reason[:20] in run.stderr
    # the record without an id got "<file name>:<line>"
    kept = read_jsonl(out / "deduplicated.jsonl")
    assert [r.get("id") for r in kept] == ["good1", None]
    (cluster_free,) = [c for c in [read_jsonl(out / "clusters.jsonl")] if not c]
    assert cluster_free == []
    result = neardup.find([path])
    assert result.ids == ["good1", "bad.jsonl:15"]
    run_json = orjson.loads((out / "run.json").read_bytes())
    assert run_json["counts"]["skipped"] == 12
    assert run_json["counts"]["documents_read"] == 14
    assert run_json["skipped_by_reason"]["broken JSON"] == 1
    assert run_json["skipped_by_reason"]["duplicate id"] == 1
    assert sum(run_json["skipped_by_reason"].values()) == 12
    assert "skipped" in run.stderr and "12" in run.stderr  # the summary line


def test_missing_id_field_becomes_file_name_and_line(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "wire.jsonl"
    path.write_bytes(
        line({"text": make_story(5)}) + b"\n" + line({"id": "", "text": make_story(6)})
    )
    assert neardup.find([path]).ids == ["wire.jsonl:1", "wire.jsonl:3"]


def test_duplicate_id_across_files_names_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(line({"id": "x", "text": make_story(7)}))
    (tmp_path / "b.csv").write_text(f'id,text\nx,"{make_story(8)}"\n')
    result = neardup.find([tmp_path / "a.jsonl", tmp_path / "b.csv"])
    (problem,) = result.skipped
    assert problem.message() == (
        f"{tmp_path / 'b.csv'}:2 (id 'x'): duplicate id (first seen at {tmp_path / 'a.jsonl'}:1)"
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_repeated_ids_across_batches_name_the_first(tmp_path: Path, workers: int) -> None:
    # batches of 3 records: each repeat is found against an earlier batch or its own
    ids = ["a", "b", "c", "d", "b", "e", "a", "f", "f", "g", "c", "h"]
    path = tmp_path / "ids.jsonl"
    path.write_bytes(b"".join(line({"id": d, "text": make_story(k)}) for k, d in enumerate(ids)))
    result = neardup.find([path], workers=workers, batch_size=3)
    assert result.ids == ["a", "b", "c", "d", "e", "f", "g", "h"]
    first = {d: ids.index(d) + 1 for d in ids}
    assert [p.message() for p in result.skipped] == [
        f"{path}:{k} (id '{d}'): duplicate id (first seen at {path}:{first[d]})"
        for k, d in enumerate(ids, 1)
        if first[d] != k
    ]


# --- --on-error fail ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([line({"id": "a", "text": "one two"}), b"{oops\n"], ":2: broken JSON"),
        ([line({"id": "a", "text": "one two"}), b"[]\n"], ":2: expected a JSON object, got list"),
        ([line({"id": "a"})], ":1 (id 'a'): missing text field 'text'"),
        ([line({"id": "a", "text": "one"}), line({"id": "b", "text": " "})], ":2 (id 'b'): empty"),
        (
            [line({"id": "a", "text": "x"}), line({"id": "a", "text": "y"})],
            ":2 (id 'a'): duplicate",
        ),
    ],
)
def test_on_error_fail_stops_with_exit_2_naming_file_and_line(
    tmp_path: Path, lines: list[bytes], expected: str
) -> None:
    path = tmp_path / "input.jsonl"
    path.write_bytes(b"".join(lines))
    out = tmp_path / "out"
    run = invoke(str(path), "--out", str(out), "--on-error", "fail")
    assert run.exit_code == 2
    assert f"error: {path}{expected}" in run.stderr
    assert not (out / "run.json").exists()  # no results that look complete


def test_on_error_fail_in_the_installed_script(tmp_path: Path) -> None:
    csv_path = tmp_path / "papers.csv"
    csv_path.write_text(f'id,text\na,"{make_story(9)}"\nb,extra,field\n')
    bad_line = 2 + make_story(9).count("\n") + 1  # the story's paragraphs span lines
    run = subprocess.run(
        [neardup_script(), "find", str(csv_path), "--out", str(tmp_path / "o"), "--on-error=fail"],
        capture_output=True,
        text=True,
        env={**os.environ, **WIDE},
        check=False,
    )
    assert run.returncode == 2
    assert f"error: {csv_path}:{bad_line}: expected 2 fields, got 3" in run.stderr
    assert "Traceback" not in run.stderr


def test_on_error_fail_from_the_api(tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    path.write_bytes(line({"id": "a", "text": "one two three"}) + b"not json\n")
    with pytest.raises(InputError, match=r"input\.jsonl:2: broken JSON"):
        neardup.find([path], on_error="fail")
    assert neardup.find([path]).ids == ["a"]  # skip is the default


def test_on_error_must_be_skip_or_fail(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(line({"text": "a b"}))
    run = invoke(str(tmp_path / "a.jsonl"), "--on-error", "ignore", "--out", str(tmp_path / "o"))
    assert run.exit_code == 2
    assert "on_error must be 'skip' or 'fail'" in run.output


# --- bad encodings: kept, replaced, counted -----------------------------------------------------
def test_invalid_utf8_in_jsonl_is_replaced_and_counted(tmp_path: Path) -> None:
    story = make_story(10).replace("\n", " ")
    bad = b'{"id": "latin1", "text": "Caf\xe9 ' + story.encode() + b'"}\n'
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(line({"id": "ok", "text": make_story(11)}) + bad)
    out = tmp_path / "out"
    run = invoke(str(path), "--out", str(out), "--on-error", "fail")  # a warning, not an error
    assert run.exit_code == 0, run.output
    assert f"warning: {path}:2: invalid UTF-8 replaced" in run.stderr
    run_json = orjson.loads((out / "run.json").read_bytes())
    assert run_json["counts"]["warnings"] == 1
    assert run_json["warnings"] == [f"{path}:2: invalid UTF-8 replaced"]
    assert (out / "deduplicated.jsonl").read_bytes().splitlines()[1] == bad.rstrip(b"\n")
    result = neardup.find([path])
    assert result.ids == ["ok", "latin1"]
    assert [w.message() for w in result.warnings] == [f"{path}:2: invalid UTF-8 replaced"]


def test_lone_surrogate_escape_is_replaced_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "emoji.jsonl"
    path.write_bytes(b'{"id": "cut", "text": "A story cut in an emoji \\ud83d"}\n')
    result = neardup.find([path])
    assert result.ids == ["cut"]
    assert [w.reason for w in result.warnings] == ["invalid surrogate escape replaced"]
    out = tmp_path / "out"
    result.write(out)  # writing the results must not choke on the replaced text
    assert (out / "deduplicated.jsonl").read_bytes() == path.read_bytes()  # kept as it was


def test_invalid_utf8_in_csv_is_replaced_and_counted_and_written_back_as_it_was(
    tmp_path: Path,
) -> None:
    story = make_story(12).replace("\n", " ")
    data = (
        b'id,text,title\nok,"' + story.encode() + b'",Plain\nbad,"Na\xefve ' + b'words",Cr\xe8me\n'
    )
    path = tmp_path / "old.csv"
    path.write_bytes(data)
    result = neardup.find([path])
    assert result.ids == ["ok", "bad"]
    assert [(w.line, w.reason) for w in result.warnings] == [(3, "invalid UTF-8 replaced")]
    assert result.meta("bad") == {"title": "Cr\ufffdme"}
    out = tmp_path / "out"
    result.write(out)
    assert read_csv_bytes((out / "deduplicated.csv").read_bytes()) == read_csv_bytes(data)


def read_csv_bytes(data: bytes) -> list[list[bytes]]:
    """The rows of a CSV file, each field as the bytes it was written with."""
    text = io.StringIO(data.decode("utf-8", "surrogateescape"), newline="")
    return [[f.encode("utf-8", "surrogateescape") for f in row] for row in csv.reader(text)]


def test_invalid_utf8_in_txt_is_replaced_and_counted(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    root.mkdir()
    (root / "cp1252.txt").write_bytes(b"The caf\xe9 on the quay \x93opened\x94 early. " * 20)
    result = neardup.find([root])
    assert result.ids == ["cp1252.txt"]
    (warning,) = result.warnings
    assert (warning.source, warning.reason) == (str(root / "cp1252.txt"), "invalid UTF-8 replaced")
    out = tmp_path / "out"
    result.write(out)
    assert (out / "deduplicated" / "cp1252.txt").read_bytes() == (root / "cp1252.txt").read_bytes()


# --- a single 50 MB document --------------------------------------------------------------------
@pytest.fixture(scope="module")
def huge_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("huge")
    words = make_story(13, paragraphs=40, words_per_paragraph=250).split()
    block = " ".join(f"{words[i % len(words)]}{i}" for i in range(200_000))
    text = " ".join(f"{block} part{k}." for k in range(35))
    assert len(text) > 50_000_000
    path = folder / "huge.jsonl"
    path.write_bytes(
        line({"id": "small", "text": make_story(14)})
        + line({"id": "huge", "text": text})
        + line({"id": "small2", "text": make_story(15)})
    )
    return path


def test_50mb_document_is_skipped_by_default_with_a_clear_reason(huge_jsonl: Path) -> None:
    out = huge_jsonl.parent / "out-default"
    run = invoke(str(huge_jsonl), "--out", str(out))
    assert run.exit_code == 0, run.output
    ((number, doc_id, reason),) = skipped(out)
    assert (number, doc_id) == (2, "huge")
    assert reason.startswith("document too long: ")
    assert "more than max_chars=10,000,000" in reason
    assert f"{huge_jsonl}:2 (id 'huge'): document too long" in run.stderr
    assert [r["id"] for r in read_jsonl(out / "deduplicated.jsonl")] == ["small", "small2"]


def test_50mb_document_is_processed_with_max_chars_0(huge_jsonl: Path) -> None:
    result = neardup.find([huge_jsonl], max_chars=0)
    assert result.ids == ["small", "huge", "small2"]
    assert not result.skipped


def test_max_chars_limit_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        line({"id": "short", "text": "a few words"}) + line({"id": "long", "text": "w " * 60})
    )
    result = neardup.find([path], max_chars=100)
    assert result.ids == ["short"]
    assert result.skipped[0].reason == "document too long: 120 characters, more than max_chars=100"


# --- broken and unreadable files ----------------------------------------------------------------
def story_lines(n: int) -> list[bytes]:
    return [line({"id": f"r{i}", "text": make_story(100 + i, paragraphs=1)}) for i in range(n)]


def test_truncated_gzip_keeps_what_was_read_and_reports_the_rest(tmp_path: Path) -> None:
    rows = story_lines(30)
    whole = gzip.compress(b"".join(rows), mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    out = tmp_path / "out"
    run = invoke(str(path), "--out", str(out))
    assert run.exit_code == 0, run.output
    ((number, _, reason),) = skipped(out)
    assert reason.startswith("unreadable from here on: ")
    kept = [r["id"] for r in read_jsonl(out / "deduplicated.jsonl")]
    assert kept == [f"r{i}" for i in range(number - 1)]  # everything before the cut
    assert 5 < number < 30
    run = invoke(str(path), "--out", str(out), "--on-error", "fail")
    assert run.exit_code == 2
    assert f"error: {path}:{number}: unreadable from here on" in run.stderr


def test_truncated_zstd_is_reported_not_read_short_silently(tmp_path: Path) -> None:
    whole = zstandard.ZstdCompressor().compress(b"".join(story_lines(30)))
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(whole[: len(whole) // 2])
    result = neardup.find([path])
    assert result.skipped
    assert result.skipped[-1].reason.startswith("unreadable from here on: zstd stream ended")
    assert result.ids == [f"r{i}" for i in range(len(result.ids))]


def test_corrupt_gzip_data_is_a_clear_message_not_a_crash(tmp_path: Path) -> None:
    rows = story_lines(20)
    second = bytearray(gzip.compress(b"".join(rows[10:]), mtime=0))
    second[10] = 0xFF  # the first deflate block of the second member: invalid block type
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(rows[:10]), mtime=0) + bytes(second))
    out = tmp_path / "out"
    run = invoke(str(path), "--out", str(out))
    assert run.exit_code == 0, run.output
    assert skipped(out) == [
        (
            11,
            None,
            "unreadable from here on: corrupt gzip data: "
            "Error -3 while decompressing data: invalid block type",
        )
    ]
    assert len(read_jsonl(out / "deduplicated.jsonl")) == 10


def test_truncated_gzip_txt_file_in_a_folder_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    root.mkdir()
    (root / "fine.txt").write_text(make_story(16))
    (root / "cut.txt.gz").write_bytes(gzip.compress(make_story(17).encode())[:-12])
    result = neardup.find([root])
    assert result.ids == ["fine.txt"]
    (problem,) = result.skipped
    assert (problem.source, problem.id) == (str(root / "cut.txt.gz"), "cut.txt.gz")
    assert problem.reason.startswith("unreadable file: ")


def test_empty_files_and_folders_are_reported_and_do_not_stop_the_run(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n  \n")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header_only.csv").write_text("id,text\n")
    (tmp_path / "nothing").mkdir()
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "part-0.jsonl").write_bytes(line({"text": "not read"}))
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "empty.txt").write_bytes(b"")
    (tmp_path / "pages" / "story.txt").write_text(make_story(18))
    names = ["empty.jsonl", "blank.jsonl", "empty.csv", "header_only.csv", "nothing", "shards"]
    names.append("pages")
    out = tmp_path / "out"
    run = invoke(*[str(tmp_path / n) for n in names], "--out", str(out))
    assert run.exit_code == 0, run.output
    ((number, doc_id, reason),) = skipped(out)
    assert (number, doc_id) == (None, "empty.txt") and reason.startswith("empty text")
    warnings = orjson.loads((out / "run.json").read_bytes())["warnings"]
    assert warnings == [
        f"{tmp_path / 'empty.jsonl'}: no records in file",
        f"{tmp_path / 'blank.jsonl'}: no records in file",
        f"{tmp_path / 'empty.csv'}: empty CSV file (no header)",
        f"{tmp_path / 'nothing'}: no .txt files in folder",
        f"{tmp_path / 'shards'}: no .txt files in folder "
        "(1 other file(s): give JSONL, CSV or Parquet files by name)",
    ]
    assert sorted(p.name for p in (out / "deduplicated").iterdir()) == ["story.txt"]


def test_nonexistent_path_and_unknown_format_exit_2(tmp_path: Path) -> None:
    run = invoke(str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o"))
    assert run.exit_code == 2
    assert f"error: {tmp_path / 'missing.jsonl'}: no such file or folder" in run.stderr
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    run = invoke(str(tmp_path / "notes.docx"), "--out", str(tmp_path / "o"))
    assert run.exit_code == 2
    assert f"error: {tmp_path / 'notes.docx'}: unknown input format" in run.stderr


def test_missing_text_column_exit_2_naming_file_and_columns(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,body\n1,some words here\n")
    run = invoke(str(tmp_path / "a.csv"), "--out", str(tmp_path / "o"))
    assert run.exit_code == 2
    assert (
        f"error: {tmp_path / 'a.csv'}:1: no text column 'text' (columns: id, body); "
        "set it with --text-field"
    ) in run.stderr
    pq.write_table(pa.table({"id": ["1"], "body": ["words"]}), tmp_path / "a.parquet")
    run = invoke(str(tmp_path / "a.parquet"), "--out", str(tmp_path / "o"))
    assert run.exit_code == 2
    assert f"error: {tmp_path / 'a.parquet'}: no text column 'text'" in run.stderr


def test_unreadable_files_are_skipped_or_stop_the_run(tmp_path: Path) -> None:
    (tmp_path / "fake.parquet").write_text("id,text\n1,hello\n")
    pq.write_table(pa.table({"id": ["a"], "text": [make_story(22)]}), tmp_path / "cut.parquet")
    (tmp_path / "cut.parquet").write_bytes((tmp_path / "cut.parquet").read_bytes()[:-20])
    (tmp_path / "plain.jsonl.gz").write_bytes(line({"id": "b", "text": "not compressed"}))
    (tmp_path / "plain.csv.gz").write_text("id,text\nc,not compressed\n")
    pq.write_table(pa.table({"id": ["ok"], "text": [make_story(23)]}), tmp_path / "ok.parquet")
    (tmp_path / "ok.csv").write_text(f'id,text\nok2,"{make_story(24)}"\n')
    names = ["fake.parquet", "cut.parquet", "plain.jsonl.gz", "plain.csv.gz", "ok.parquet"]
    paths = [str(tmp_path / n) for n in [*names, "ok.csv"]]
    out = tmp_path / "out"
    run = invoke(*paths, "--out", str(out))
    assert run.exit_code == 0, run.output
    problems = read_jsonl(out / "skipped.jsonl")
    lines = [None, None, 1, None]  # the JSONL reader reads up to the first line
    assert [(p["source"], p["line"]) for p in problems] == list(zip(paths, lines, strict=False))
    assert problems[0]["reason"].startswith("not a readable Parquet file: ")
    assert problems[1]["reason"].startswith("not a readable Parquet file: ")
    assert problems[2]["reason"].startswith("unreadable from here on: Not a gzipped file")
    assert problems[3]["reason"].startswith("unreadable file: Not a gzipped file")
    for p, number in zip(problems, lines, strict=True):
        where = p["source"] + (f":{number}" if number else "")
        assert f"skipped: {where}: {p['reason'][:25]}" in run.stderr
    assert pq.read_table(out / "deduplicated.parquet").column("id").to_pylist() == ["ok"]
    assert csv_rows_of(out / "deduplicated.csv") == [["id", "text"], ["ok2", make_story(24)]]
    run = invoke(*paths, "--out", str(out), "--on-error", "fail")
    assert run.exit_code == 2
    assert f"error: {paths[0]}: not a readable Parquet file" in run.stderr


def csv_rows_of(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(), newline="")))


def test_null_and_non_string_texts_in_parquet_are_skipped_with_row_numbers(tmp_path: Path) -> None:
    table = pa.table({"id": ["a", "b", "c"], "text": [make_story(19), None, ""]})
    pq.write_table(table, tmp_path / "t.parquet")
    result = neardup.find([tmp_path / "t.parquet"])
    assert result.ids == ["a"]
    assert [(p.line, p.id, p.reason[:10]) for p in result.skipped] == [
        (2, "b", "missing te"),
        (3, "c", "empty text"),
    ]


def test_file_name_with_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "news[draft].jsonl"
    path.write_bytes(line({"id": "a", "text": "one two"}) + b"{oops\n")
    run = invoke(str(path), "--out", str(tmp_path / "o"))
    assert f"skipped: {path}:2: broken JSON" in run.stderr
    run = invoke(str(path), "--out", str(tmp_path / "o"), "--on-error", "fail")
    assert f"error: {path}:2: broken JSON" in run.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_and_unreadable_txt_in_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked.jsonl"
    locked.write_bytes(line({"id": "a", "text": "one two"}))
    locked.chmod(0)
    root = tmp_path / "pages"
    root.mkdir()
    (root / "open.txt").write_text(make_story(20))
    (root / "locked.txt").write_text(make_story(21))
    (root / "locked.txt").chmod(0)
    try:
        run = invoke(str(locked), "--out", str(tmp_path / "o"))
        assert run.exit_code == 0, run.output
        assert f"skipped: {locked}: unreadable file: permission denied" in run.stderr
        run = invoke(str(locked), "--out", str(tmp_path / "o"), "--on-error", "fail")
        assert run.exit_code == 2
        assert f"error: {locked}: unreadable file: permission denied" in run.stderr
        result = neardup.find([root])
        assert result.ids == ["open.txt"]
        (problem,) = result.skipped
        assert problem.id == "locked.txt" and problem.reason.startswith("unreadable file")
    finally:
        locked.chmod(0o644)
        (root / "locked.txt").chmod(0o644)
