"""`neardup compare`: two files or two ids of a corpus, in the terminal and as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neardup.cli import app
from tests.test_align import AD, COPY, WIRE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "corpus.jsonl"
runner = CliRunner()


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    a = tmp_path / "wire.txt"
    b = tmp_path / "copy.txt"
    a.write_text(WIRE, encoding="utf-8")
    b.write_text(COPY, encoding="utf-8")
    return a, b


def test_json_of_two_files_reports_the_ad_and_the_dropped_lines(pair: tuple[Path, Path]) -> None:
    a, b = pair
    # the installed command, in a process of its own
    done = subprocess.run(
        [sys.executable, "-m", "neardup.cli", "compare", str(a), str(b), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    record = json.loads(done.stdout)
    assert record["a"] == str(a) and record["b"] == str(b)
    assert record["jaccard"] > 0.5
    assert 0 < record["scores"]["aligned_a"] <= 1
    inserted = [COPY[s["b"][0] : s["b"][1]] for s in record["insertions"]]
    assert AD in inserted
    removed = [WIRE[s["a"][0] : s["a"][1]] for s in record["removals"]]
    assert "Harbor towns to share ferry costs under new U.S. plan" in removed
    assert "(Reporting by Wren Tallis; Editing by Jory Penhale)" in removed
    assert {"a", "b", "tokens", "similarity"} <= set(record["passages"][0])
    kinds = {s["kind"] for s in record["substitutions"]}
    assert kinds == {"style"}


def test_terminal_view_lists_insertions_removals_and_substitutions(pair: tuple[Path, Path]) -> None:
    a, b = pair
    result = runner.invoke(app, ["compare", str(a), str(b)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "2 shared passage(s)" in out
    assert "+ B[" in out and "Sponsored Stories You May Like" in out
    assert "- A[" in out and "By Wren Tallis" in out
    assert "U.S. Transport Department -> US transport department" in out
    assert "B with its insertions" in out  # the marked texts follow


def test_ids_of_a_corpus() -> None:
    result = runner.invoke(
        app, ["compare", "meridian-0001", "coastal-times-0001", "--corpus", str(EXAMPLES), "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    texts = {}
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts[row["id"]] = row["text"]
    copy = texts["coastal-times-0001"]
    inserted = [copy[s["b"][0] : s["b"][1]] for s in record["insertions"] if s["passage"] is None]
    assert any(text.startswith("Sponsored Content Recommended for you") for text in inserted)


def test_unknown_id_names_the_corpus_and_the_id() -> None:
    result = runner.invoke(
        app, ["compare", "meridian-0001", "no-such-doc", "--corpus", str(EXAMPLES)]
    )
    assert result.exit_code == 2
    assert "no-such-doc" in result.output and "corpus.jsonl" in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["compare", str(pair[0]), str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "nope.txt: no such file" in result.output


def test_invalid_utf8_is_replaced_with_a_warning(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_bytes(COPY.encode("utf-8") + b"\xff\xfe trailing bytes")
    result = runner.invoke(app, ["compare", str(pair[0]), str(broken), "--json"])
    assert result.exit_code == 0
    assert "invalid UTF-8 replaced" in result.output
