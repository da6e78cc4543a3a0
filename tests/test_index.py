"""The persistent index: same matches as `find`, stable clusters, merges, removal, settings."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import neardup
from neardup.api import FindResult
from neardup.cli import app
from neardup.config import Settings
from neardup.corpus.readers import ProblemLog, Reader
from neardup.corpus.sources import open_source
from neardup.index import Index, SettingsMismatch, UnknownIds, add_batches
from neardup.index.store import IndexError_, index_defaults
from tests.conftest import EXAMPLES, make_story

SETTINGS = index_defaults()  # find's defaults (boilerplate per site)


def copy_of(text: str, seed: int) -> str:
    """A syndicated copy: an ad paragraph injected, a few words changed, upper-cased title line."""
    rng = random.Random(seed)
    paragraphs = text.split("\n\n")
    paragraphs.insert(rng.randrange(1, len(paragraphs)), "Sponsored: deals you may like today.")
    words = "\n\n".join(paragraphs).split(" ")
    for _ in range(3):
        words[rng.randrange(len(words))] = "zorvik"
    return " ".join(words)


def corpus_records(n_stories: int = 40, seed: int = 3) -> list[dict]:
    """Originals, copies, copies of copies, an abridged copy, exact duplicates, unrelated texts."""
    rng = random.Random(seed)
    records = []
    stories = [make_story(1000 + i, paragraphs=rng.randint(3, 8)) for i in range(n_stories)]
    for i, story in enumerate(stories):
        records.append(
            {"id": f"s{i}", "text": story, "published": f"2025-03-{1 + i % 28:02d}T08:00:00Z"}
        )
    for k in range(n_stories):
        i = rng.randrange(n_stories)
        kind = rng.choice(["copy", "copy", "exact", "abridged", "copy_of_copy"])
        if kind == "copy":
            text = copy_of(stories[i], k)
        elif kind == "exact":
            text = stories[i]
        elif kind == "abridged":
            text = "\n\n".join(stories[i].split("\n\n")[:2])
        else:
            text = copy_of(copy_of(stories[i], k), k + 1)
        records.append({"id": f"c{k}-{kind}-of-s{i}", "text": text})
    rng.shuffle(records)
    return records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def index_view(index: Index) -> tuple[set, list]:
    """Pairs as (a, b, rule, jaccard) by id and clusters as (members, original) by id."""
    snap = index.snapshot()
    ids = snap.id_of()
    rule_names = ("exact", "jaccard", "containment")
    pairs = {(ids[a], ids[b], rule_names[r], round(j, 9)) for a, b, j, _, _, r in snap.pairs}
    members: dict[int, list[str]] = {}
    for _num, doc_id, _meta, cluster in snap.docs:
        if cluster is not None:
            members.setdefault(cluster, []).append(doc_id)
    originals = {cid: ids[o] for cid, o, _, _ in snap.clusters}
    clusters = sorted((tuple(m), originals[c]) for c, m in members.items())
    return pairs, clusters


def find_view(result: FindResult) -> tuple[set, list]:
    pairs = {(p.a, p.b, p.rule, round(p.jaccard, 9)) for p in result.pairs}
    clusters = sorted((tuple(c.members), c.original) for c in result.clusters)
    return pairs, clusters


def build(path: Path, corpus: Path, commit_every: int, settings: Settings = SETTINGS) -> Index:
    index = Index(path, settings)
    reader = Reader([open_source(corpus)], settings.replace(batch_size=7), ProblemLog())
    add_batches(index, reader, commit_every=commit_every)
    return index


@pytest.mark.parametrize("commit_every", [10_000, 13, 1])
def test_index_add_gives_the_same_pairs_and_clusters_as_find(
    tmp_path: Path, commit_every: int
) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", corpus_records())
    expected = find_view(neardup.find([corpus], SETTINGS))
    assert len(expected[1]) >= 10  # the corpus has clusters of every kind
    index = build(tmp_path / "i.ndx", corpus, commit_every)
    assert index_view(index) == expected
    assert index.check() == []
    if commit_every >= 10_000:  # one batch: even the cluster numbers are find's
        found = neardup.find([corpus], SETTINGS)
        snap = index.snapshot()
        ids = snap.id_of()
        by_id = {cid: ids[o] for cid, o, _, _ in snap.clusters}
        assert by_id == {c.id: c.original for c in found.clusters}


def test_a_bad_record_stops_adding_with_workers_after_the_transactions_before_it(
    tmp_path: Path,
) -> None:
    from neardup.corpus.sources import InputError

    records = corpus_records(20, 9)
    lines = [json.dumps(r) for r in records]
    lines.insert(25, "{broken")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(lines) + "\n")
    settings = SETTINGS.replace(batch_size=4, on_error="fail")
    index = Index(tmp_path / "i.ndx", SETTINGS)
    problems = ProblemLog("fail")
    reader = Reader([open_source(corpus)], settings, problems, jsonl_blocks=True)
    with pytest.raises(InputError, match=r"c\.jsonl:26"):
        add_batches(index, reader, commit_every=10, workers=2)
    # the two whole transactions before the broken line are in, nothing after it
    assert index.stats()["documents"] == 20 and index.check() == []


def test_example_corpus_through_the_index_matches_find(tmp_path: Path) -> None:
    corpus = EXAMPLES / "corpus.jsonl"
    index = build(tmp_path / "e.ndx", corpus, 5)
    assert index_view(index) == find_view(neardup.find([corpus], SETTINGS))


def test_adding_with_worker_processes_gives_the_same_index(tmp_path: Path) -> None:
    # sites (for boilerplate), bad lines, an empty text and a repeated id among the records
    records = [{**r, "source": f"outlet-{k % 3}"} for k, r in enumerate(corpus_records(30, 5))]
    records.insert(7, {"id": "blank", "text": "   "})
    records.insert(20, dict(records[3]))
    lines = [json.dumps(r) for r in records]
    lines.insert(11, "{broken")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(lines) + "\n")
    settings = SETTINGS.replace(batch_size=4)  # blocks of 64 KiB: several, cut mid-transaction

    def run(name: str, workers: int, jsonl_blocks: bool) -> tuple:
        index = Index(tmp_path / f"{name}.ndx", SETTINGS)
        problems = ProblemLog()
        reader = Reader([open_source(corpus)], settings, problems, jsonl_blocks=jsonl_blocks)
        results: list[tuple] = []

        def on_result(batch, k, res) -> None:
            matches = sorted((m.id, round(m.jaccard, 9), m.rule, m.cluster) for m in res.matches)
            row = (batch.lines[k], res.id, res.status, res.cluster, res.original, res.reason)
            results.append((*row, matches))

        counts = add_batches(index, reader, commit_every=13, on_result=on_result, workers=workers)
        assert index.check() == []
        view = index_view(index)
        index.close()
        skipped = [(p.line, p.reason) for p in problems.skipped]
        return view, results, counts, skipped

    one = run("one", 1, False)
    assert len(one[0][1]) >= 5 and one[3]  # clusters, and the broken line skipped
    assert run("blocks", 1, True) == one
    assert run("two", 2, True) == one


def test_each_new_document_reports_its_matches_and_cluster(tmp_path: Path) -> None:
    wire = make_story(11)
    index = Index(tmp_path / "i.ndx")
    (first,) = index.add(["wire"], [wire], [{"published": "2025-01-01T08:00:00Z"}])
    assert first.status == "added" and first.matches == [] and first.cluster is None
    (second,) = index.add(["copy"], [copy_of(wire, 1)], [{"published": "2025-01-01T09:00:00Z"}])
    assert [m.id for m in second.matches] == ["wire"]
    assert second.matches[0].rule == "jaccard"
    assert second.cluster == 0 and second.original == "wire"
    (again,) = index.add(["copy"], [copy_of(wire, 1)])  # a retry changes nothing
    assert again.status == "exists" and again.cluster == 0
    (clash,) = index.add(["copy"], [make_story(12)])
    assert clash.status == "skipped" and "different text" in clash.reason
    assert index.stats()["documents"] == 2


def test_query_matches_without_adding(tmp_path: Path) -> None:
    wire = make_story(21, paragraphs=8)
    index = Index(tmp_path / "i.ndx")
    index.add(["wire", "other"], [wire, make_story(22)])
    abridged = "\n\n".join(wire.split("\n\n")[:3])
    results = index.query([abridged, make_story(23), wire], ["abr", "new", "same"])
    assert [(m.id, m.rule) for m in results[0].matches] == [("wire", "containment")]
    assert results[0].matches[0].this_in_match == pytest.approx(1.0)
    assert results[1].matches == []
    assert [(m.id, m.rule) for m in results[2].matches] == [("wire", "exact")]
    assert index.stats()["documents"] == 2


def test_cluster_ids_are_stable_and_a_bridging_document_merges_clusters(tmp_path: Path) -> None:
    a, b = make_story(31), make_story(32)
    index = Index(tmp_path / "i.ndx")
    index.add(["a", "a-copy"], [a, copy_of(a, 1)])
    index.add(["b", "b-copy"], [b, copy_of(b, 2)])
    index.add(["lonely"], [make_story(33)])
    assert index.get("a")["cluster"] == 0 and index.get("b")["cluster"] == 1
    # a round-up that reprints both stories whole contains each: it joins the two clusters
    (bridge,) = index.add(["roundup"], [a + "\n\n" + b])
    assert {m.id for m in bridge.matches} >= {"a", "b"}
    assert bridge.cluster == 0
    merged = index.cluster(1)
    assert merged["id"] == 0 and merged["requested"] == 1 and merged["merged_from"] == [1]
    assert sorted(m["id"] for m in merged["members"]) == ["a", "a-copy", "b", "b-copy", "roundup"]
    assert merged["original"] == "roundup"  # it contains every other member
    assert index.get("lonely")["cluster"] is None
    assert index.check() == []


def test_removing_a_bridge_splits_the_cluster_and_the_oldest_part_keeps_the_id(
    tmp_path: Path,
) -> None:
    a, b = make_story(41), make_story(42)
    index = Index(tmp_path / "i.ndx")
    index.add(
        ["a", "a-copy", "b", "b-copy", "roundup"],
        [a, copy_of(a, 1), b, copy_of(b, 2), a + "\n\n" + b],
    )
    assert index.stats()["clusters"] == 1
    assert index.remove(["roundup"]) == ["roundup"]
    assert index.get("a")["cluster"] == 0
    assert index.get("b")["cluster"] == 1  # a new id for the part that split off
    assert index.get("roundup") is None
    assert index.check() == []
    with pytest.raises(UnknownIds, match="nope"):
        index.remove(["a", "nope"])
    assert index.get("a") is not None  # all or nothing


def test_removing_the_first_of_exact_duplicates_promotes_the_next(tmp_path: Path) -> None:
    wire = make_story(51)
    index = Index(tmp_path / "i.ndx")
    index.add(["wire", "dup1", "dup2", "copy"], [wire, wire, wire, copy_of(wire, 5)])
    assert index.get("dup1")["exact_duplicate_of"] == "wire"
    index.remove(["wire"])
    doc = index.get("dup1")
    assert doc["exact_duplicate_of"] is None
    assert {(m["id"], m["rule"]) for m in doc["matches"]} == {
        ("dup2", "exact"),
        ("copy", "jaccard"),
    }
    assert sorted(m["id"] for m in index.cluster(doc["cluster"])["members"]) == [
        "copy",
        "dup1",
        "dup2",
    ]
    assert index.check() == []
    # the promoted document is now found by new queries through the LSH and anchor tables
    (res,) = index.query([copy_of(wire, 9)])
    assert {m.id for m in res.matches} == {"dup1", "copy"}


def test_index_refuses_other_matching_settings(tmp_path: Path) -> None:
    path = tmp_path / "i.ndx"
    Index(path).close()
    with pytest.raises(SettingsMismatch, match=r"threshold=0\.6 \(index: 0\.5\)"):
        Index(path, SETTINGS.replace(threshold=0.6))
    with pytest.raises(SettingsMismatch, match="boilerplate='off'"):
        Index(path, SETTINGS.replace(boilerplate="off"))
    # input settings (fields, limits) are free to differ
    Index(path, SETTINGS.replace(text_field="body", max_chars=100)).close()


def test_a_file_that_is_not_an_index_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    with pytest.raises(IndexError_, match="not a neardup index"):
        Index(path)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)"
    ).connection.commit()
    sqlite3.connect(other).execute(
        "INSERT INTO meta VALUES ('format_version', '99')"
    ).connection.commit()
    with pytest.raises(IndexError_, match="format 99"):
        Index(other)


WIDE = {"COLUMNS": "300"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The real command line in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "neardup.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **WIDE},
    )


class Ran:
    """What `cli` returns: like subprocess.CompletedProcess."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(*args: str) -> Ran:
    """The real command line in this process (saves starting Python for each call)."""
    result = CliRunner().invoke(app, list(args), env=WIDE)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def test_cli_add_query_remove_stats_export(tmp_path: Path) -> None:
    records = corpus_records(20, seed=8)
    first, second = records[:25], records[25:]
    corpus1 = write_jsonl(tmp_path / "one.jsonl", first)
    corpus2 = write_jsonl(tmp_path / "two.jsonl", second)
    index = tmp_path / "news.ndx"

    added = run_cli("index", "add", str(index), str(corpus1), "--batch-size", "10")
    assert added.returncode == 0, added.stderr
    added2 = cli("index", "add", str(index), str(corpus2), "-m", str(tmp_path / "m.jsonl"))
    assert added2.returncode == 0, added2.stderr
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines and all(line["status"] == "added" and line["matches"] for line in lines)
    # the second run's matches name documents of the first run too
    first_ids = {r["id"] for r in first}
    assert any(m["id"] in first_ids for line in lines for m in line["matches"])

    refused = cli("index", "add", str(index), str(corpus2), "--ngram", "4")
    assert refused.returncode == 2 and "ngram=4 (index: 5)" in refused.stderr

    stats = json.loads(cli("index", "stats", str(index)).stdout)
    assert stats["documents"] == len(records) and stats["settings"]["ngram"] == 5

    query = cli("index", "query", str(index), str(corpus2), "--all")
    rows = [json.loads(x) for x in query.stdout.splitlines()]
    assert len(rows) == len(second) and all(r["status"] == "queried" for r in rows)
    assert all(r["matches"] for r in rows)  # each finds itself (or the first of its exact copies)

    out = tmp_path / "export"
    assert cli("index", "export", str(index), "--out", str(out)).returncode == 0
    found = neardup.find([corpus1, corpus2], SETTINGS, out=tmp_path / "find")
    exported = [json.loads(x) for x in (out / "clusters.jsonl").read_text().splitlines()]
    assert (
        sorted((tuple(m["id"] for m in c["members"]), c["original"]) for c in exported)
        == (find_view(found)[1])
    )
    kept = [json.loads(x)["id"] for x in (out / "deduplicated.jsonl").read_text().splitlines()]
    assert sorted(kept) == sorted(found.kept_ids)
    assert {p.name for p in out.iterdir()} >= {
        "pairs.parquet",
        "pairs.jsonl",
        "clusters.jsonl",
        "run.json",
    }

    victim = second[0]["id"]
    missing = cli("index", "remove", str(index), victim, "no-such-id")
    assert missing.returncode == 1 and "no-such-id" in missing.stderr
    assert cli("index", "remove", str(index), victim).returncode == 0
    assert json.loads(cli("index", "stats", str(index)).stdout)["documents"] == len(records) - 1

    nowhere = cli("index", "add", str(tmp_path / "no" / "such.ndx"), str(corpus1))
    assert nowhere.returncode == 2 and "does not exist" in nowhere.stderr
    nothing = cli("index", "stats", str(tmp_path / "absent.ndx"))
    assert nothing.returncode == 2 and "no such index" in nothing.stderr


def test_cli_add_reports_bad_records_with_file_and_line(tmp_path: Path) -> None:
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text(
        json.dumps({"id": "ok", "text": make_story(61)}) + "\n"
        "{broken\n" + json.dumps({"id": "empty", "text": "  "}) + "\n"
    )
    result = cli("index", "add", str(tmp_path / "i.ndx"), str(corpus))
    assert result.returncode == 0
    assert f"{corpus}:2" in result.stderr and "broken JSON" in result.stderr
    assert f"{corpus}:3" in result.stderr and "empty" in result.stderr


def test_side_file_bytes_past_the_committed_end_are_cut_off_and_a_missing_one_refused(
    tmp_path: Path,
) -> None:
    """Shingle sets and texts live in INDEX-blobs; what a killed writer appended past the
    committed end is never read and is cut off by the next write."""
    path = tmp_path / "i.ndx"
    blobs = Path(f"{path}-blobs")
    texts = [make_story(900 + i, paragraphs=3) for i in range(6)]
    with Index(path, SETTINGS) as index:
        index.add(["a", "b", "c"], texts[:3])
    committed = blobs.stat().st_size
    with blobs.open("ab") as f:  # a half-written batch of a killed writer
        f.write(b"\xff" * 5000)
    with Index(path, create=False) as index:
        assert index.texts(["b"]) == {"b": texts[1]}
        index.add(["d", "e", "f"], texts[3:])
        assert index.check() == []
        assert blobs.stat().st_size > committed
        for i, text in enumerate(texts):
            (res,) = index.query([text])
            assert "abcdef"[i] in [m.id for m in res.matches]
    moved = tmp_path / "elsewhere"
    blobs.rename(moved)
    with pytest.raises(IndexError_, match=r"side file i\.ndx-blobs is missing"):
        Index(path, create=False)
    moved.write_bytes(moved.read_bytes()[:100])
    moved.rename(blobs)
    with pytest.raises(IndexError_, match="shorter than"):
        Index(path, create=False)
