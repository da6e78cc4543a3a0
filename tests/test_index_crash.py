"""Crash safety and concurrent readers: a writer killed with SIGKILL in the middle of `index add`
leaves every batch wholly in or wholly out, and readers work while it writes."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import neardup
from neardup.corpus.readers import ProblemLog, Reader
from neardup.corpus.sources import open_source
from neardup.index import Index, add_batches
from neardup.index.store import BLOBS_SUFFIX
from tests.conftest import make_story
from tests.test_index import SETTINGS, copy_of, find_view, index_view

BATCH = 150
N_DOCS = 6000


def big_corpus(path: Path) -> Path:
    rng = random.Random(17)
    lines = []
    stories: list[str] = []
    for i in range(N_DOCS):
        if stories and i % 5 == 4:
            text = copy_of(rng.choice(stories), i)
        else:
            text = make_story(50_000 + i, paragraphs=3, words_per_paragraph=50)
            stories.append(text)
        lines.append(json.dumps({"id": f"d{i:05d}", "text": text}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sigkill_during_add_leaves_whole_batches_and_readers_keep_working(tmp_path: Path) -> None:
    corpus = big_corpus(tmp_path / "big.jsonl")
    path = tmp_path / "crash.ndx"
    reader = Index(path, SETTINGS)  # created up front so the reader can open it at once
    probe = make_story(50_000)  # the text of d00000
    reader.query([probe])  # load the compiled kernels before the writer starts
    writer = subprocess.Popen(
        [sys.executable, "-m", "neardup.cli", "index", "add", str(path), str(corpus),
         "--batch-size", str(BATCH), "-m", os.devnull, "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    seen: list[int] = []
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            # a reader sees the last committed batch: always a whole number of batches
            n = reader.stats()["documents"]
            seen.append(n)
            if n >= BATCH:
                break
            assert writer.poll() is None, writer.stderr.read().decode() if writer.stderr else ""
            time.sleep(0.02)
        # reads go on while the writer works on its next batches
        for _ in range(3):
            (res,) = reader.query([probe])
            assert [m.id for m in res.matches] == ["d00000"]
            seen.append(reader.stats()["documents"])
        assert writer.poll() is None, "the writer finished before it could be killed"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert all(n % BATCH == 0 for n in seen) and seen == sorted(seen)

    # the side file (shingle sets, texts) may hold the killed batch's bytes past the committed
    # end: no row names them, and the next write transaction cuts them off
    blobs = Path(f"{path}{BLOBS_SUFFIX}")
    size_after_kill = blobs.stat().st_size
    after = Index(path, create=False)
    n = after.stats()["documents"]
    assert 0 < n < N_DOCS and n % BATCH == 0
    assert after.check() == []
    with sqlite3.connect(path) as con:
        committed = int(con.execute("SELECT value FROM meta WHERE key='blobs_end'").fetchone()[0])
        last_at, last_n, text_at, text_len = con.execute(
            "SELECT shingles_at, n_shingles, text_at, text_len FROM docs ORDER BY num DESC LIMIT 1"
        ).fetchone()
    assert size_after_kill >= committed
    assert max(last_at + 4 * last_n, text_at + text_len) <= committed
    # every committed document reads back whole: its text and its set
    for doc_id, text in list(after.texts([f"d{i:05d}" for i in range(n)]).items())[::97]:
        (res,) = after.query([text])
        assert doc_id in [m.id for m in res.matches]
    # adding the corpus again completes it: committed documents are recognised, not doubled
    counts = add_batches(
        after, Reader([open_source(corpus)], SETTINGS, ProblemLog()), commit_every=2000
    )
    assert counts["exists"] == n and counts["added"] == N_DOCS - n
    assert after.check() == []
    with sqlite3.connect(path) as con:
        committed = int(con.execute("SELECT value FROM meta WHERE key='blobs_end'").fetchone()[0])
    assert blobs.stat().st_size == committed
    assert index_view(after) == find_view(neardup.find([corpus], SETTINGS))
    reader.close()
    after.close()
