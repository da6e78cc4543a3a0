"""`neardup find` end to end, as a user runs it, on the bundled example corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

NEARDUP = Path(sys.executable).with_name("neardup")
SEEDS = ROOT.parent / "shared" / "seeds"


def run_neardup(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(NEARDUP), *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )


@pytest.fixture(scope="module")
def example_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    proc = run_neardup("find", str(EXAMPLES / "corpus.jsonl"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_intended_copy_is_found_and_nothing_else(example_run: Path) -> None:
    expected = json.loads((EXAMPLES / "expected.json").read_text())
    clusters = read_jsonl(example_run / "clusters.jsonl")
    found = {frozenset(m["id"] for m in c["members"]) for c in clusters}
    wanted = {frozenset(c["members"]) for c in expected["clusters"]}
    assert found == wanted


def test_originals_are_named(example_run: Path) -> None:
    expected = json.loads((EXAMPLES / "expected.json").read_text())
    by_members = {frozenset(c["members"]): c["original"] for c in expected["clusters"]}
    for c in read_jsonl(example_run / "clusters.jsonl"):
        assert c["original"] == by_members[frozenset(m["id"] for m in c["members"])]
        if c["original"] in expected["no_published"]:
            assert c["original_rule"] == "contains_most"
        else:
            assert c["original_rule"] == "earliest_published"


def test_abridged_copy_found_by_containment(example_run: Path) -> None:
    expected = json.loads((EXAMPLES / "expected.json").read_text())
    abridged = expected["abridged"]
    pairs = [p for p in read_jsonl(example_run / "pairs.jsonl") if abridged in (p["a"], p["b"])]
    assert any(p["rule"] == "containment" and p["jaccard"] < 0.5 for p in pairs)


def test_outputs_add_up(example_run: Path) -> None:
    run = json.loads((example_run / "run.json").read_text())
    ids_in = [d["id"] for d in read_jsonl(EXAMPLES / "corpus.jsonl")]
    kept = [d["id"] for d in read_jsonl(example_run / "deduplicated.jsonl")]
    dropped = [d for c in read_jsonl(example_run / "clusters.jsonl") for d in c["duplicates"]]
    skipped = read_jsonl(example_run / "skipped.jsonl")
    assert sorted(kept + dropped) == sorted(ids_in) and not skipped
    assert run["counts"]["documents_kept"] == len(kept)
    assert run["settings"]["threshold"] == 0.5
    # deduplicated lines are the input lines, byte for byte
    lines_in = set((EXAMPLES / "corpus.jsonl").read_bytes().splitlines())
    assert set((example_run / "deduplicated.jsonl").read_bytes().splitlines()) <= lines_in
    import pyarrow.parquet as pq

    table = pq.read_table(example_run / "pairs.parquet")
    assert table.num_rows == len(read_jsonl(example_run / "pairs.jsonl"))
    assert {"a", "b", "jaccard", "containment_a_in_b", "containment_b_in_a", "rule"} <= set(
        table.column_names
    )


def test_unwritable_results_folder_is_a_clear_error() -> None:
    proc = run_neardup("find", str(EXAMPLES / "corpus.jsonl"), "--out", "/dev/null/x")
    assert proc.returncode != 0  # cannot write there: a clear error, not a traceback
    assert b"Traceback" not in proc.stderr
    assert b"cannot create the results folder" in proc.stderr


def test_summary_lists_counts(tmp_path: Path) -> None:
    proc = run_neardup("find", str(EXAMPLES / "txt"), "--out", str(tmp_path))
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    for label in (
        "documents read",
        "skipped",
        "exact duplicates",
        "near-duplicate pairs",
        "clusters",
        "documents kept",
        "time",
    ):
        assert label in err
    show = run_neardup("show", str(tmp_path))
    assert b"original" in show.stdout


@pytest.mark.skipif(not SEEDS.exists(), reason="../shared/seeds is not beside the checkout")
def test_seeds_cluster_with_the_wire_story_as_original(tmp_path: Path) -> None:
    proc = run_neardup("find", str(SEEDS), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr.decode()
    (cluster,) = read_jsonl(tmp_path / "clusters.jsonl")
    assert cluster["original"] == "000_1f165154eb58ff8b.txt"
    assert {m["id"] for m in cluster["members"]} == {
        "000_1f165154eb58ff8b.txt",
        "001_d3c8ccaa877706c9.txt",
    }
