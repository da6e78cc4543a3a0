"""The index's postings segments: lookups equal a plain table's, merges keep tiers small, removed
documents disappear, and a rolled-back segment is never seen (neardup.index.postings)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from neardup.index.postings import ANCHORS, FANOUT, LSH, SCHEMA, Postings


def connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript(SCHEMA)
    return con


def test_lookups_match_a_plain_table_through_many_merges(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    con = connect(tmp_path / "p.db")
    postings = Postings()
    table: list[tuple[int, int, int]] = []
    num = 0
    for _batch in range(40):
        n_docs = int(rng.integers(1, 30))
        keys = rng.integers(0, 500, n_docs * 5).astype(np.uint32)  # small key space: collisions
        nums = np.repeat(np.arange(num, num + n_docs), 5)
        counts = np.repeat(rng.integers(1, 9, n_docs), 5)
        num += n_docs
        con.execute("BEGIN")
        postings.add(con, ANCHORS, keys, nums, counts)
        con.execute("COMMIT")
        table += list(zip(keys.tolist(), nums.tolist(), counts.tolist(), strict=True))
    n_segments = con.execute("SELECT count(*) FROM segments").fetchone()[0]
    assert n_segments < FANOUT * 4  # tiers were merged
    dead = sorted(rng.choice(num, 10, replace=False).tolist())
    con.executemany("INSERT INTO dead (num) VALUES (?)", [(d,) for d in dead])
    # few keys (binary search in each segment) and many (a merge pass)
    for n_wanted in (3, 80, 2000):
        wanted = np.unique(rng.integers(0, 600, n_wanted)).astype(np.uint32)
        found = postings.lookup(con, ANCHORS, wanted)
        got = zip(found.keys.tolist(), found.nums.tolist(), found.extra.tolist(), strict=True)
        expected = sorted(t for t in table if t[0] in set(wanted.tolist()) and t[1] not in dead)
        assert sorted(got) == expected
    # a fresh process (an empty cache) reads the same from the file
    again = Postings().lookup(con, ANCHORS, wanted)
    assert sorted(zip(again.keys.tolist(), again.nums.tolist(), strict=True)) == [
        (k, n) for k, n, _ in expected
    ]
    assert postings.count_live(con, ANCHORS) == len(table) - sum(1 for t in table if t[1] in dead)


def test_a_rolled_back_segment_is_never_seen(tmp_path: Path) -> None:
    con = connect(tmp_path / "r.db")
    postings = Postings()
    con.execute("BEGIN")
    postings.add(con, LSH, np.array([7, 8], np.uint32), np.array([0, 0]))
    con.execute("ROLLBACK")
    assert len(postings.lookup(con, LSH, np.array([7, 8], np.uint32)).keys) == 0
    con.execute("BEGIN")
    postings.add(con, LSH, np.array([9], np.uint32), np.array([1]))
    con.execute("COMMIT")
    found = postings.lookup(con, LSH, np.array([7, 8, 9], np.uint32))
    assert found.keys.tolist() == [9] and found.nums.tolist() == [1]
