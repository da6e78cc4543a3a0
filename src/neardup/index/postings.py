"""Postings of the index's two inverted indexes (LSH buckets, containment anchors) as immutable
sorted segments, merged in tiers: a log-structured merge of sorted arrays kept in SQLite.

Why not one SQLite table row per posting: a document has ~42 LSH keys and ~40 anchors with random
values, so every transaction of a few thousand documents touches nearly every page of a B-tree
keyed by them, and rewrites (WAL, then checkpoint) the whole table; building an index cost time
quadratic in its size. Here a transaction writes its postings as ONE new segment (sorted uint32
keys, with the document numbers and, for anchors, each document's anchor count, as three blobs in
one `segments` row), so it writes only what it adds. Each process keeps the segments it has read
in memory (they never change; a cache keyed by a random `uid` that is never reused), and finds the
postings of a batch's sorted keys by one merge pass over each segment (by binary search when only
a few keys are looked up, as for a query).

Segments are merged in tiers, as in an LSM tree: a segment's level is log4 of its posting count,
and when a level holds `FANOUT` segments they are merged into one (dropping the postings of
removed documents), so a posting is rewritten about log4(n) times over the life of the index and
a lookup visits at most ~3 segments per level. Removal marks a document dead (table `dead`);
lookups skip its postings until a merge drops them.

Memory: a process holds the segments it reads, 8 bytes an LSH posting and 12 an anchor posting,
about 0.8 KB a document with the default settings (42 bands, ~1 anchor in 16 shingles): 80 MB
for 100,000 documents, 0.8 GB for a million.

All writes happen inside the caller's SQLite transaction, so a batch's postings are committed or
rolled back with the rest of the batch.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import threading
from dataclasses import dataclass

import numba as nb
import numpy as np

LSH, ANCHORS = 0, 1
FANOUT = 4
MAX_MERGE_POSTINGS = 1 << 26  # no merge writes a segment larger than this (512 MB of blobs)

SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL,
    uid INTEGER NOT NULL UNIQUE, n INTEGER NOT NULL, keys BLOB NOT NULL, nums BLOB NOT NULL,
    extra BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dead (num INTEGER PRIMARY KEY);
"""


@dataclass(frozen=True)
class Segment:
    """Postings sorted by (key, num): key[i] is held by document nums[i]; extra[i] is that
    document's anchor count (anchor segments; empty for LSH)."""

    uid: int
    kind: int
    keys: np.ndarray  # uint32
    nums: np.ndarray  # uint32 (8 bytes a posting in memory, 12 with the anchor count)
    extra: np.ndarray  # uint32

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class Found:
    """Postings whose key is among the looked-up keys (live documents only)."""

    keys: np.ndarray  # int64
    nums: np.ndarray  # int64
    extra: np.ndarray  # int64


@nb.njit(cache=True, nogil=True)
def _matching_positions(keys, wanted):
    """Positions in sorted `keys` of the values in sorted unique `wanted` (a linear merge)."""
    out = np.empty(len(keys), np.int64)
    n = 0
    j = 0
    for i in range(len(keys)):
        k = keys[i]
        while j < len(wanted) and wanted[j] < k:
            j += 1
        if j == len(wanted):
            break
        if wanted[j] == k:
            out[n] = i
            n += 1
    return out[:n].copy()


def _level(n: int) -> int:
    return int(math.log(max(n, 1), FANOUT))


def _sorted_by_key_and_num(
    keys: np.ndarray, nums: np.ndarray, extra: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Postings sorted by (key, num), by one sort of packed codes. numpy's default sort (SIMD
    quicksort) is ~14 times faster than the stable one on a batch's random keys and as fast on a
    merge's sorted runs, and a plain sort ~3 times faster than an argsort: `extra` (a document's
    anchor count, the same in all its postings) is looked up by document afterwards."""
    code = (keys.astype(np.uint64) << np.uint64(32)) | nums.astype(np.uint64)
    code.sort()
    sorted_keys = (code >> np.uint64(32)).astype(np.uint32)
    sorted_nums = (code & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    if len(extra) == 0:
        return sorted_keys, sorted_nums, extra
    extra_of = np.zeros(int(sorted_nums.max()) + 1 if len(code) else 0, np.uint32)
    extra_of[nums] = extra
    return sorted_keys, sorted_nums, extra_of[sorted_nums]


class Postings:
    """The segments of one index file, cached for this process (thread-safe)."""

    def __init__(self) -> None:
        self._cache: dict[int, Segment] = {}
        self._lock = threading.Lock()

    def _segments(self, con: sqlite3.Connection, kind: int) -> list[Segment]:
        """The segments of `kind` visible to `con` (its transaction's snapshot), oldest first."""
        listed = con.execute(
            "SELECT uid FROM segments WHERE kind=? ORDER BY id", (kind,)
        ).fetchall()
        out = []
        for (uid,) in listed:
            seg = self._cache.get(uid)
            if seg is None:
                keys, nums, extra = con.execute(
                    "SELECT keys, nums, extra FROM segments WHERE uid=?", (uid,)
                ).fetchone()
                seg = Segment(
                    uid,
                    kind,
                    np.frombuffer(keys, np.uint32),
                    np.frombuffer(nums, np.uint32),
                    np.frombuffer(extra, np.uint32),
                )
                with self._lock:
                    self._cache[uid] = seg
            out.append(seg)
        return out

    def forget_unlisted(self, con: sqlite3.Connection) -> None:
        """Drop cached segments that `con`'s snapshot no longer lists (merged away)."""
        listed = {r[0] for r in con.execute("SELECT uid FROM segments")}
        with self._lock:
            for uid in [u for u in self._cache if u not in listed]:
                del self._cache[uid]

    @staticmethod
    def dead(con: sqlite3.Connection) -> np.ndarray:
        return np.array([r[0] for r in con.execute("SELECT num FROM dead ORDER BY num")], np.int64)

    def lookup(self, con: sqlite3.Connection, kind: int, wanted: np.ndarray) -> Found:
        """Postings of live documents whose key is in `wanted` (sorted unique)."""
        wanted = np.asarray(wanted, np.uint32)
        keys, nums, extra = [], [], []
        for seg in self._segments(con, kind):
            if len(wanted) * 8 < len(seg.keys):  # a few keys (a query): binary search
                lo = np.searchsorted(seg.keys, wanted, "left")
                hi = np.searchsorted(seg.keys, wanted, "right")
                count = hi - lo
                total = int(count.sum())
                if total == 0:
                    continue
                # positions lo[j] .. hi[j] - 1 of every wanted key j, flattened
                starts = np.repeat(lo - (np.cumsum(count) - count), count)
                at = starts + np.arange(total)
            else:  # a batch's keys: one merge pass over both sorted arrays
                at = _matching_positions(seg.keys, wanted)
                if len(at) == 0:
                    continue
                total = len(at)
            keys.append(seg.keys[at].astype(np.int64))
            nums.append(seg.nums[at].astype(np.int64))
            extra.append(
                seg.extra[at].astype(np.int64) if len(seg.extra) else np.zeros(total, np.int64)
            )
        if not keys:
            z = np.zeros(0, np.int64)
            return Found(z, z, z)
        found = Found(np.concatenate(keys), np.concatenate(nums), np.concatenate(extra))
        dead = self.dead(con)
        if len(dead):
            live = ~np.isin(found.nums, dead)
            found = Found(found.keys[live], found.nums[live], found.extra[live])
        return found

    def add(
        self,
        con: sqlite3.Connection,
        kind: int,
        keys: np.ndarray,
        nums: np.ndarray,
        extra: np.ndarray | None = None,
    ) -> None:
        """Write postings as a new segment (in `con`'s transaction), then merge full tiers."""
        if len(keys) == 0:
            return
        extra = np.zeros(0, np.uint32) if extra is None else extra
        self._write(con, kind, *_sorted_by_key_and_num(keys, nums, extra))
        self._merge_tiers(con, kind)

    def _write(
        self, con: sqlite3.Connection, kind: int, keys: np.ndarray, nums: np.ndarray, extra
    ) -> None:
        uid = secrets.randbits(62)  # never reused, so a cached segment is never stale
        con.execute(
            "INSERT INTO segments (kind, uid, n, keys, nums, extra) VALUES (?, ?, ?, ?, ?, ?)",
            (
                kind,
                uid,
                len(keys),
                np.ascontiguousarray(keys, np.uint32).tobytes(),
                np.ascontiguousarray(nums, np.uint32).tobytes(),
                np.ascontiguousarray(extra, np.uint32).tobytes(),
            ),
        )
        seg = Segment(
            uid, kind, np.asarray(keys, np.uint32), np.asarray(nums, np.uint32),
            np.asarray(extra, np.uint32),
        )  # fmt: skip
        with self._lock:  # a rolled-back segment stays cached under a uid no one will list
            self._cache[uid] = seg

    def _merge_tiers(self, con: sqlite3.Connection, kind: int) -> None:
        while True:
            rows = con.execute(
                "SELECT id, uid, n FROM segments WHERE kind=? ORDER BY id", (kind,)
            ).fetchall()
            by_level: dict[int, list[tuple[int, int, int]]] = {}
            for row in rows:
                by_level.setdefault(_level(row[2]), []).append(row)
            full = [
                group[:FANOUT]
                for _, group in sorted(by_level.items())
                if len(group) >= FANOUT and sum(r[2] for r in group[:FANOUT]) <= MAX_MERGE_POSTINGS
            ]
            if not full:
                return
            self.merge(con, kind, [r[1] for r in full[0]])

    def merge(self, con: sqlite3.Connection, kind: int, uids: list[int]) -> None:
        """Replace the segments `uids` by one, without the postings of dead documents."""
        segs = [s for s in self._segments(con, kind) if s.uid in set(uids)]
        keys = np.concatenate([s.keys for s in segs])
        nums = np.concatenate([s.nums for s in segs])
        extra = np.concatenate([s.extra for s in segs])
        dead = self.dead(con)
        if len(dead):
            live = ~np.isin(nums, dead)
            keys, nums = keys[live], nums[live]
            extra = extra[live] if len(extra) else extra
        marks = ",".join("?" * len(uids))
        con.execute(f"DELETE FROM segments WHERE uid IN ({marks})", uids)
        with self._lock:
            for uid in uids:
                self._cache.pop(uid, None)
        if len(keys):
            self._write(con, kind, *_sorted_by_key_and_num(keys, nums, extra))

    def count_live(self, con: sqlite3.Connection, kind: int) -> int:
        dead = self.dead(con)
        return sum(
            int(np.count_nonzero(~np.isin(s.nums, dead))) if len(dead) else len(s)
            for s in self._segments(con, kind)
        )
