"""A persistent, incremental index: each new document is matched against everything seen before.

Method. The index keeps, in one SQLite database file (WAL mode) and an append-only side file
beside it (`BLOBS_SUFFIX`), what `neardup find` computes per document and what verification
needs: the LSH band keys (`neardup.candidates.band_keys32`, as `find` keeps them), the sorted
shingle set, the containment anchors and the content hash (`neardup.sketch.sketch_texts`), plus
the id, metadata, site, publication date and (optionally) the zstd-compressed text. The shingle
sets and texts (~90% of the bytes) are in the side file, the rows say where (see `_open_blobs`).
Two inverted indexes mirror the candidate generators of `neardup.candidates`: LSH buckets
(band key -> documents) and anchors (anchor -> documents, with each one's anchor count). They
are kept as sorted segments merged in tiers
(`neardup.index.postings`), so a batch writes only its own postings.

A batch of new documents is matched the way `neardup find` would match them if they were
appended to the indexed corpus: exact duplicates by content hash (a duplicate is paired with the
first document of its text only), LSH buckets with the same `max_bucket` rule, anchor pairs with
the same `anchor_min_ratio` / `anchor_max_df` rule, then exact verification of every candidate on
the shingle sets (`neardup.verify.verify_pairs`). Adding a corpus in one batch therefore gives
exactly `find`'s pairs and clusters; adding it in several batches gives the same pairs except in
two corners where `find` looks at the whole corpus at once (an LSH bucket that grows past
`max_bucket`, an anchor whose document frequency grows past `anchor_max_df`): there the index keeps
the pairs it already verified.

Boilerplate (`boilerplate="site"`, the default; see `neardup.boilerplate` for the rule). The
batch method needs every page of a site at once; the index runs the same per-site function,
`detect_site_boilerplate`, on each site a batch touches, over the batch's pages of the site plus
the site's latest indexed pages (SITE_WINDOW = 256 pages in all), BEFORE matching the batch;
a site that has 64 pages or more is analysed again only once 16 new pages have arrived (so the
service's one-page adds do not each re-read 255 pages).
Shingles found are added to the `boilerplate` table; as in `find`, matching leaves out the union
of all sites' boilerplate (verification scores without it, anchors that are boilerplate are not
indexed and not looked up). When a site's boilerplate grows, the pairs of the indexed pages that
detection looked at are measured again without it: those that no longer pass are removed (their
clusters split as on removal), the others get their new scores. So two pages of a new site that
matched on its chrome alone are un-matched as soon as the site has `boilerplate_min_contexts`
(3) pages with different stories. Limits, all consequences of seeing a site's pages one batch at
a time:

- the first pages of a new site are matched before its chrome is known (until the third page
  with its own text arrives), and a query meanwhile may report such a match; on a large site, a
  new recurring block (a banner) is found within 16 pages, which may match on it until then;
- detection sees a window of the site, not all of it: a recurring block must occur next to 3
  different texts within the latest 256 pages (plus the batch) to be found; `find` counts over the
  whole site, so it can find rarer blocks;
- only the pairs of the pages in the window are re-measured: a pair of older pages that carry a
  shingle that has just become boilerplate keeps its old scores;
- an old document's anchor count (for the anchor ratio) is the count of its non-boilerplate
  anchors when it was added;
- boilerplate is never withdrawn (removing pages does not shrink it).
Adding a corpus in ONE batch gives exactly `find`'s result (detection then reads each site's
pages as `find` does, all of them or the same evenly spread `boilerplate_sample` of a large site;
the tests check this); with `boilerplate="off"` the index gives `find --boilerplate off`'s in any
number of batches.

Clusters are the connected components of the pairs. Their ids are stable: a new document joins
its partners' cluster; a document that bridges clusters merges them into the lowest (oldest) id
and the merge is recorded in `cluster_events`. Each cluster's original is chosen by
`neardup.cluster.choose_original` from per-document running sums (`score`: how much of its
partners a document contains), so it is the same as `find`'s.

Each add or remove runs in ONE write transaction (`BEGIN IMMEDIATE`): a process killed in the
middle leaves the batch wholly in or wholly out (the side file's bytes of a batch are flushed
before its COMMIT; bytes past the committed end are never read and cut off by the next write).
Readers use their own connections and see the last committed state while a writer works (WAL).
"""

from __future__ import annotations

import bisect
import gc
import math
import mmap
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import zstandard

from neardup.arrays import concat_ragged, unique
from neardup.boilerplate import Boilerplate, detect_site_boilerplate, site_of
from neardup.candidates import band_keys32, merge_pairs, pairs_sharing_keys
from neardup.cluster import RULES, choose_originals, connected_components
from neardup.config import Settings
from neardup.corpus.readers import (
    JsonlBlock,
    ParsedBlock,
    ProblemLog,
    RecordBatch,
    parse_jsonl_block,
)
from neardup.engines.local import LocalEngine, default_workers
from neardup.index.kernels import anchor_pairs, gather_sets
from neardup.index.postings import ANCHORS, LSH, Postings
from neardup.index.postings import SCHEMA as POSTINGS_SCHEMA
from neardup.pipeline import _ragged_take, parse_published, warm_up
from neardup.sketch import SketchBatch, sketch_texts
from neardup.verify import RULE_EXACT, RULE_NAMES, VerifiedPairs, verify_pairs

# 4: shingle sets and texts in the side file (`BLOBS_SUFFIX`), the rows hold where they are;
# 3: sites with page counts; 2: 32-bit LSH keys as `find` uses; band keys kept, not signatures
FORMAT_VERSION = 4
# the side file beside the index file (`news.ndx-blobs`): each batch appends its documents'
# shingle sets, then their compressed texts; `meta.blobs_end` is the committed length
BLOBS_SUFFIX = "-blobs"
# boilerplate detection looks at a batch's new documents of a site plus its latest indexed ones,
# this many in all (fewer old ones when the batch brings many)
SITE_WINDOW = 256
# a site of DETECT_ALWAYS_BELOW pages or more is analysed again once DETECT_EVERY new pages have
# arrived (batches of single pages would otherwise each re-read 255 pages)
DETECT_ALWAYS_BELOW = 64
DETECT_EVERY = 16
PAGE_SIZE = 32768  # of a new index file
TEXT_ZSTD_LEVEL = 1  # of the stored texts (any level reads back)
_SQL_CHUNK = 30_000  # bound parameters per statement (SQLite allows 32,766)
_IOV_MAX = 1024  # buffers per pwritev call (Linux's IOV_MAX)

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    num INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    content_hash INTEGER NOT NULL,
    rep INTEGER,
    cluster INTEGER,
    score REAL NOT NULL DEFAULT 0,
    site INTEGER,
    published REAL,
    added REAL NOT NULL,
    n_tokens INTEGER NOT NULL,
    n_shingles INTEGER NOT NULL,
    n_anchors INTEGER NOT NULL,
    -- where the shingle set (n_shingles uint32 values) and the compressed text are in the side
    -- file (BLOBS_SUFFIX), text_at NULL when texts are not stored
    shingles_at INTEGER NOT NULL,
    text_at INTEGER,
    text_len INTEGER,
    meta TEXT NOT NULL,
    band_keys BLOB NOT NULL,
    anchors BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_site ON docs (site, num) WHERE site IS NOT NULL;
CREATE TABLE IF NOT EXISTS sites (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
    pages INTEGER NOT NULL DEFAULT 0, pending INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS boilerplate (value INTEGER PRIMARY KEY, site INTEGER NOT NULL,
    added REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS docs_content_hash ON docs (content_hash);
CREATE INDEX IF NOT EXISTS docs_cluster ON docs (cluster) WHERE cluster IS NOT NULL;
CREATE INDEX IF NOT EXISTS docs_rep ON docs (rep) WHERE rep IS NOT NULL;
CREATE TABLE IF NOT EXISTS pairs (a INTEGER NOT NULL, b INTEGER NOT NULL, jaccard REAL NOT NULL,
    a_in_b REAL NOT NULL, b_in_a REAL NOT NULL, rule INTEGER NOT NULL,
    PRIMARY KEY (a, b)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pairs_b ON pairs (b);
CREATE TABLE IF NOT EXISTS clusters (id INTEGER PRIMARY KEY, original INTEGER NOT NULL,
    rule TEXT NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cluster_events (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL,
    cluster INTEGER NOT NULL, into_cluster INTEGER, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS cluster_events_cluster ON cluster_events (cluster);
"""
    + POSTINGS_SCHEMA
)


# queries that count inconsistencies (none expected), and what each counts
_CONSISTENCY_COUNTS = (
    (
        "SELECT count(*) FROM pairs WHERE a NOT IN (SELECT num FROM docs) "
        "OR b NOT IN (SELECT num FROM docs)",
        "pairs name missing documents",
    ),
    (
        "SELECT count(*) FROM pairs p JOIN docs x ON x.num = p.a JOIN docs y ON y.num = p.b "
        "WHERE x.cluster IS NULL OR y.cluster IS NULL OR x.cluster != y.cluster",
        "pairs join documents of different clusters",
    ),
    (
        "SELECT count(*) FROM clusters c WHERE size != (SELECT count(*) FROM docs d "
        "WHERE d.cluster = c.id) OR original NOT IN (SELECT num FROM docs d WHERE d.cluster = c.id)",
        "clusters with a wrong size or original",
    ),
    (
        "SELECT count(*) FROM boilerplate WHERE site NOT IN (SELECT id FROM sites)",
        "boilerplate shingles of unknown sites",
    ),
)


class IndexError_(Exception):
    """Base of the index's errors (the message is meant for the user)."""


class SettingsMismatch(IndexError_):
    """The request's matching settings differ from the ones the index was built with."""


class DocumentConflict(IndexError_):
    """An id is already in the index with a different text."""

    def __init__(self, ids: list[str]):
        self.ids = ids
        shown = ", ".join(repr(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
        super().__init__(f"already in the index with a different text: {shown}")


class InvalidDocument(IndexError_):
    """A document that cannot be indexed (no words, a repeated id in one request)."""

    def __init__(self, position: int, doc_id: str, reason: str):
        self.position, self.doc_id, self.reason = position, doc_id, reason
        super().__init__(f"document {position} (id {doc_id!r}): {reason}")


class UnknownIds(IndexError_, KeyError):
    def __init__(self, ids: list[str]):
        self.ids = ids
        super().__init__(f"not in the index: {', '.join(repr(i) for i in ids[:10])}")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Match:
    """One verified pair from the point of view of a document: the other side and the scores."""

    id: str
    jaccard: float
    this_in_match: float  # share of this document's shingles found in the match
    match_in_this: float
    rule: str  # "exact", "jaccard" or "containment"
    cluster: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "jaccard": round(self.jaccard, 6),
            "this_in_match": round(self.this_in_match, 6),
            "match_in_this": round(self.match_in_this, 6),
            "rule": self.rule,
            "cluster": self.cluster,
        }


@dataclass
class DocResult:
    """What happened to one submitted document."""

    id: str
    status: str  # "added", "exists" (same id, same text), "skipped", "queried"
    matches: list[Match] = field(default_factory=list)
    cluster: int | None = None
    original: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "cluster": self.cluster,
            "original": self.original,
            "matches": [m.to_dict() for m in self.matches],
        }
        if self.reason:
            d["reason"] = self.reason
        return d


@dataclass
class Prepared:
    """What adding a batch needs of each document that does not depend on the index: sketches,
    LSH band keys, site names and the serialized columns of the `docs` table. `prepare` computes
    it; `add_batches` runs it in worker processes (or, with one worker, in a thread) while the
    previous transaction is written."""

    sketches: SketchBatch  # without signatures (`keys` is what the index keeps of them)
    keys: np.ndarray  # (n, bands) uint32: `neardup.candidates.band_keys32`
    meta_json: list[str]
    published: list[float | None]
    anchor_blobs: list[bytes]
    key_blobs: list[bytes]
    text_blobs: list[bytes | None]
    sites: list[str | None]  # the site boilerplate is looked for in (None: none, or off)
    blank: np.ndarray  # bool: the text is empty or blank (set where a text has no words only)

    def __len__(self) -> int:
        return len(self.meta_json)

    def slice(self, start: int, stop: int) -> Prepared:
        """Documents start..stop-1."""
        sk = self.sketches
        so, ao = sk.set_offsets, sk.anchor_offsets
        part = SketchBatch(
            signatures=sk.signatures[:0],
            n_tokens=sk.n_tokens[start:stop],
            content_hash=sk.content_hash[start:stop],
            set_values=sk.set_values[so[start] : so[stop]],
            set_offsets=so[start : stop + 1] - so[start],
            anchor_values=sk.anchor_values[ao[start] : ao[stop]],
            anchor_offsets=ao[start : stop + 1] - ao[start],
        )
        lists = {name: getattr(self, name)[start:stop] for name in _PREPARED_LISTS}
        return Prepared(
            sketches=part, keys=self.keys[start:stop], blank=self.blank[start:stop], **lists
        )

    @staticmethod
    def concat(parts: Sequence[Prepared]) -> Prepared:
        if len(parts) == 1:
            return parts[0]
        lists = {name: [x for p in parts for x in getattr(p, name)] for name in _PREPARED_LISTS}
        return Prepared(
            sketches=SketchBatch.concat([p.sketches for p in parts]),
            keys=np.concatenate([p.keys for p in parts]),
            blank=np.concatenate([p.blank for p in parts]),
            **lists,
        )


_PREPARED_LISTS = (
    "meta_json", "published", "anchor_blobs", "key_blobs", "text_blobs",
    "sites",
)  # fmt: skip


def prepare(
    texts: Sequence[str],
    metas: Sequence[dict[str, Any] | None],
    settings: Settings,
    store_text: bool = True,
) -> Prepared:
    """Sketch and serialize a batch of documents (pure: no access to the index)."""
    sk = sketch_texts(list(texts), settings)
    keys = band_keys32(sk.signatures, settings.bands, settings.rows)
    sk.signatures = np.zeros((0, sk.signatures.shape[1]), sk.signatures.dtype)  # no view
    # level 1: a quarter less CPU than level 3 for the same size on news text (it is a third of
    # a worker's time per document, more than sketching)
    compress = zstandard.ZstdCompressor(level=TEXT_ZSTD_LEVEL) if store_text else None
    published = []
    meta_json = []
    for meta in metas:
        meta = meta or {}
        meta_json.append(orjson.dumps(meta, default=str).decode())
        value = meta.get("published")
        published.append(_nan_to_none(parse_published(str(value))) if value else None)
    av, ao = sk.anchor_values, sk.anchor_offsets.tolist()
    n = len(texts)
    blank = np.zeros(n, bool)
    for i in np.flatnonzero(sk.n_tokens == 0).tolist():
        blank[i] = not texts[i].strip()
    return Prepared(
        sketches=sk,
        keys=keys,
        meta_json=meta_json,
        published=published,
        anchor_blobs=[av[ao[i] : ao[i + 1]].tobytes() for i in range(n)],
        key_blobs=[k.tobytes() for k in keys],
        text_blobs=[compress.compress(t.encode("utf-8", "surrogatepass")) for t in texts]
        if compress
        else [None] * n,
        sites=[_site_name(m, settings.boilerplate) for m in metas],
        blank=blank,
    )


def _prepare_worker(
    settings: Settings, store_text: bool, item: tuple[list[str], list[Any]] | JsonlBlock
) -> tuple[Prepared, ParsedBlock | None]:
    """The per-block stage of `add_batches` (run by `neardup.engines.local.LocalEngine`, in
    worker processes): a batch's (texts, metas), or a block of JSONL lines parsed here as
    `find`'s workers parse them (`parse_jsonl_block`), prepared for adding (`prepare`). Parsed
    records come back without their texts: the index keeps them compressed (`text_blobs`)."""
    parsed = None
    if isinstance(item, JsonlBlock):
        parsed = parse_jsonl_block(item, settings)
        texts, metas = parsed.batch.texts, parsed.batch.meta
    else:
        texts, metas = item
    ready = prepare(texts, metas, settings, store_text)
    if parsed is not None:
        parsed.batch.texts = []
    return ready, parsed


# the process whose `add_batches` is starting worker processes (0: none): a parent killed with
# SIGKILL cannot stop its pool, so each worker it forks watches it and stops when it is gone
_PARENT = {"pid": 0}


def _watch_parent() -> None:
    """In a process just forked by `add_batches`'s pool: a thread that ends the process once
    its parent is gone."""
    parent = _PARENT["pid"]
    if not parent or os.getppid() != parent:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="neardup-watch-parent", daemon=True).start()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watch_parent)


def _prepare_payload(item: RecordBatch | JsonlBlock) -> tuple[list[str], list[Any]] | JsonlBlock:
    return item if isinstance(item, JsonlBlock) else (item.texts, item.meta)


@dataclass
class _Sketches:
    """Sketch arrays of documents being matched, with their (provisional) document numbers."""

    nums: np.ndarray  # int64, ascending
    keys: np.ndarray  # (n, bands) uint32 LSH band keys
    content_hash: np.ndarray  # uint64
    set_values: np.ndarray
    set_offsets: np.ndarray
    anchor_values: np.ndarray
    anchor_offsets: np.ndarray

    @staticmethod
    def from_batch(
        sk: SketchBatch, keys: np.ndarray, rows: np.ndarray, first_num: int
    ) -> _Sketches:
        if len(rows) == len(sk) and (len(rows) == 0 or rows[-1] == len(sk) - 1):
            # every document (rows are ascending): no copy
            sv, so = sk.set_values, sk.set_offsets
            av, ao = sk.anchor_values, sk.anchor_offsets
        else:
            sv, so = _ragged_take(sk.set_values, sk.set_offsets, rows)
            av, ao = _ragged_take(sk.anchor_values, sk.anchor_offsets, rows)
        return _Sketches(
            nums=first_num + np.arange(len(rows), dtype=np.int64),
            keys=keys[rows],
            content_hash=sk.content_hash[rows],
            set_values=sv,
            set_offsets=so,
            anchor_values=av,
            anchor_offsets=ao,
        )

    def __len__(self) -> int:
        return len(self.nums)

    def drop_anchors(self, exclude: np.ndarray) -> None:
        """Leave out anchors that are boilerplate, as `find` does before pairing on anchors."""
        self.anchor_values, self.anchor_offsets = Boilerplate(exclude).drop(
            self.anchor_values, self.anchor_offsets
        )


def _i64(values: np.ndarray) -> list[int]:
    """uint64 values as the signed 64-bit integers SQLite stores."""
    return np.ascontiguousarray(values, dtype=np.uint64).view(np.int64).tolist()


def _map_threads(fn: Any, items: Sequence[Any]) -> list[Any]:
    """[fn(x) for x in items], in a thread per core when there are several items (for
    functions that spend their time in kernels that release the GIL)."""
    threads = min(len(items), default_workers())
    if threads <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def _chunks(items: Sequence[Any], size: int = _SQL_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _select_in(
    con: sqlite3.Connection, sql: str, values: Sequence[Any], extra: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Run `sql` (containing one `{in}` placeholder) over `values` in chunks; all rows."""
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(values):
        marks = ",".join("?" * len(chunk))
        rows.extend(con.execute(sql.format(marks=marks), (*chunk, *extra)).fetchall())
    return rows


def _doc_info(
    con: sqlite3.Connection, nums: Iterable[int]
) -> dict[int, tuple[str, int | None, str | None]]:
    """(id, cluster, id of the cluster's original) of documents by number."""
    rows = _select_in(
        con,
        "SELECT d.num, d.id, d.cluster, o.id FROM docs d LEFT JOIN clusters c ON c.id = d.cluster "
        "LEFT JOIN docs o ON o.num = c.original WHERE d.num IN ({marks})",
        sorted(nums),
    )
    return {num: (doc_id, cluster, original) for num, doc_id, cluster, original in rows}


def _pair_rows(pairs: VerifiedPairs) -> Iterator[tuple[int, int, float, float, float, int]]:
    """(a, b, jaccard, a_in_b, b_in_a, rule) of each pair, as Python values."""
    return zip(
        pairs.a.tolist(), pairs.b.tolist(), pairs.jaccard.tolist(), pairs.a_in_b.tolist(),
        pairs.b_in_a.tolist(), pairs.rule.tolist(), strict=True,
    )  # fmt: skip


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def index_defaults() -> Settings:
    """The settings of a new index when none are given: `Settings()`, i.e. `find`'s defaults
    (boilerplate found per site, incrementally: see the module docstring)."""
    return Settings()


def _site_name(meta: dict[str, Any] | None, mode: str) -> str | None:
    """The site a document's boilerplate is looked for in (`neardup.boilerplate.site_of`)."""
    if mode == "corpus":
        return ""
    if mode == "site":
        return site_of({k: str(v) for k, v in (meta or {}).items() if v is not None})
    return None


@dataclass
class _ClusterPlan:
    """Cluster changes of a batch (`Index._plan_clusters`)."""

    cluster_of: dict[int, int] = field(default_factory=dict)  # document -> its cluster
    merges: list[tuple[int, int]] = field(default_factory=list)  # (merged away, into)
    created: list[int] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    next_cluster: int = 0


@dataclass
class _ClusterState:
    """Clusters just refreshed (`Index._refresh_clusters`): each member's cluster, each
    cluster's original (document numbers)."""

    cluster_of: dict[int, int] = field(default_factory=dict)
    original_of: dict[int, int] = field(default_factory=dict)


class Index:
    """A neardup index in one SQLite file. Thread-safe: writes are serialized by a lock, reads use
    one connection per thread."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        settings: Settings | None = None,
        *,
        create: bool = True,
        store_text: bool = True,
    ):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise IndexError_(f"{self.path}: no such index (add documents to create it)")
        if self.path.exists() and self.path.is_dir():
            raise IndexError_(f"{self.path}: is a folder, not an index file")
        if not self.path.parent.is_dir():
            raise IndexError_(f"{self.path}: folder {self.path.parent} does not exist")
        self._write_lock = threading.RLock()
        # (thread, mapping) of the write transaction in progress (`_mapped_blob`)
        self._write_map: list[Any] = [0, None]
        self._postings = Postings()
        self._boilerplate_cache: tuple[str, np.ndarray] = ("", np.zeros(0, np.uint32))
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        try:
            self._writer = self._connect()
            self._init_schema(settings, store_text)
        except sqlite3.DatabaseError as e:
            self.close()
            raise IndexError_(f"{self.path}: not a neardup index ({e})") from e
        except BaseException:
            self.close()
            raise
        bands, rows = self.settings.bands, self.settings.rows
        self._bands, self._rows = bands, rows

    # --- connections ----------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=60.0
        )
        # a new file's page size (an existing one keeps its own): a ~7 KB row fits in one page,
        # with no overflow chain to allocate and walk
        con.execute(f"PRAGMA page_size={PAGE_SIZE}")
        con.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before add() returns (the service answers only then), so an
        # accepted document survives a power cut too; one fsync per batch costs little.
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA cache_size=-262144")  # 256 MiB of page cache per connection
        con.execute("PRAGMA mmap_size=8589934592")
        con.execute("PRAGMA temp_store=MEMORY")
        with self._connections_lock:
            self._connections.append(con)
        return con

    def _reader(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._connect()
            self._local.con = con
        return con

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for the duration of the block."""
        con = self._reader()
        con.execute("BEGIN")
        try:
            yield con
        finally:
            con.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: wholly committed or wholly rolled back."""
        with self._write_lock:
            con = self._writer
            con.execute("BEGIN IMMEDIATE")
            try:
                self._begin_blobs(con)
                self._postings.forget_unlisted(con)
                # this thread reads the side file through a mapping made on first use
                self._write_map = [threading.get_ident(), None]
                yield con
                self._blobs_on_disk()
            except BaseException:
                with suppress(OSError):
                    self._blobs_on_disk()
                con.execute("ROLLBACK")
                raise
            finally:
                self._end_write_map()
            con.execute("COMMIT")

    def _end_write_map(self) -> None:
        mapping = self._write_map[1]
        self._write_map = [0, None]
        if mapping is not None:
            try:
                mapping.close()
            except BufferError:
                # a numpy view of it handed to a kernel (`_gather_sets`) is still referenced,
                # likely from a traceback cycle of numba's first (compiling) call: collect
                # that, else it closes when the view goes. Safe to leave open: it covers
                # committed bytes only, which are never truncated.
                gc.collect()
                with suppress(BufferError):
                    mapping.close()

    def close(self) -> None:
        with self._connections_lock:
            for con in self._connections:
                with suppress(sqlite3.Error):
                    con.close()
            self._connections.clear()
        fd = getattr(self, "_blob_fd", -1)
        if fd >= 0:
            self._blob_fd = -1
            with suppress(OSError):
                os.close(fd)

    # --- the side file --------------------------------------------------------------------------
    # Shingle sets and compressed texts (~90% of a document's bytes) are appended to the side file
    # rather than stored in the rows: SQLite would write them twice (WAL, then checkpoint). A
    # batch appends at the committed end (`meta.blobs_end`, read inside the write transaction, so
    # no other writer is appending), flushes the file to disk (in a thread, while the batch is
    # matched) and records the new end in the same transaction, which commits only once the
    # flush is done. A writer killed before COMMIT leaves bytes past the committed end: no row
    # names them, readers never read them, and the next write transaction cuts them off.
    def _open_blobs(self, committed: int) -> None:
        path = Path(f"{self.path}{BLOBS_SUFFIX}")
        self.blobs_path = path
        flags = os.O_CLOEXEC | (os.O_CREAT if committed == 0 else 0)
        try:
            try:
                fd = os.open(path, os.O_RDWR | flags, 0o644)
            except PermissionError:  # a read-only copy: reading works
                fd = os.open(path, os.O_RDONLY | flags)
        except FileNotFoundError:
            raise IndexError_(
                f"{self.path}: its side file {path.name} is missing (an index is the file and "
                f"its {BLOBS_SUFFIX} file beside it: copy them together)"
            ) from None
        self._blob_fd = fd
        self._blob_end = self._blob_committed = committed
        self._blob_sync: list[Any] = []  # the flushing thread of this transaction, its error
        size = os.fstat(fd).st_size
        if size < committed:
            raise IndexError_(
                f"{path}: {size:,} bytes, shorter than the {committed:,} the index has committed"
                " (a side file of another index, or damaged)"
            )

    def _begin_blobs(self, con: sqlite3.Connection) -> None:
        """In a new write transaction: where this one appends; bytes a killed or rolled back
        writer left past the committed end are cut off."""
        end = int(con.execute("SELECT value FROM meta WHERE key='blobs_end'").fetchone()[0])
        if os.fstat(self._blob_fd).st_size > end:
            os.ftruncate(self._blob_fd, end)
        self._blob_end = self._blob_committed = end
        self._blob_sync = []

    def _append_blobs(self, con: sqlite3.Connection, parts: Sequence[Any]) -> int:
        """Append the buffers `parts` to the side file (once per transaction); returns the offset
        of the first. The writing and the flush to disk run in a thread (nothing reads these
        bytes before the COMMIT, which waits for it): a batch's ~45 MB of sets and texts are
        copied to the page cache while the batch is matched."""
        assert not self._blob_sync, "one append per transaction"
        views = [memoryview(part).cast("B") for part in parts]
        views = [v for v in views if len(v)]
        start = self._blob_end
        self._blob_end = start + sum(len(v) for v in views)
        con.execute("UPDATE meta SET value=? WHERE key='blobs_end'", (str(self._blob_end),))
        box: list[Any] = []
        fd = self._blob_fd

        def write_and_flush() -> None:
            try:
                at = start
                for k in range(0, len(views), _IOV_MAX):
                    group = views[k : k + _IOV_MAX]
                    while group:  # a short write leaves the rest of the group to write again
                        done = os.pwritev(fd, group, at)
                        at += done
                        while group and done >= len(group[0]):
                            done -= len(group[0])
                            group = group[1:]
                        if group and done:
                            group = [group[0][done:], *group[1:]]
                os.fdatasync(fd)
            except OSError as e:
                box.append(e)

        thread = threading.Thread(target=write_and_flush, name="neardup-index-flush", daemon=True)
        thread.start()
        self._blob_sync = [thread, box]
        return start

    def _blobs_on_disk(self) -> None:
        """Wait for this transaction's flush of the side file (raises its error)."""
        if not self._blob_sync:
            return
        thread, box = self._blob_sync
        self._blob_sync = []
        thread.join()
        if box:
            raise box[0]

    def _read_blob(self, at: int, size: int) -> bytes:
        data = b""
        if self._write_map[0] == threading.get_ident():
            data = self._mapped_blob(at, size)
        if len(data) != size:
            data = os.pread(self._blob_fd, size, at)
        if len(data) != size:
            raise IndexError_(
                f"{self.blobs_path}: {size:,} bytes at {at:,} cannot be read (the file is damaged)"
            )
        return data

    def _mapped_blob(self, at: int, size: int) -> bytes:
        """Bytes of the side file through a read-only mapping (the writer reads the sets of
        hundreds of indexed pages per site and batch for boilerplate detection: a slice costs
        a fraction of a pread). The mapping lives for one write transaction, so the pages it
        touched do not stay in the process's resident memory; it never reaches past the bytes
        committed before the transaction, which nothing truncates."""
        mapping = self._write_mapping()
        if mapping is None:
            return b""
        return mapping[at : at + size] if at + size <= len(mapping) else b""

    def _write_mapping(self) -> mmap.mmap | None:
        """The write transaction's read-only mapping of the side file (made on first use;
        None while the committed side file is empty)."""
        mapping = self._write_map[1]
        if mapping is None:
            length = min(self._blob_committed, os.fstat(self._blob_fd).st_size)
            if length == 0:
                return None
            mapping = mmap.mmap(self._blob_fd, length, access=mmap.ACCESS_READ)
            self._write_map[1] = mapping
        return mapping

    def _set_at(self, at: int, n: int) -> np.ndarray:
        return np.frombuffer(self._read_blob(at, 4 * n), np.uint32)

    def _gather_sets(
        self, at: Sequence[int], counts: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The shingle sets at side-file offsets `at` (counts[i] values each) as one ragged
        (values, offsets) pair. The writer copies them out of its mapping in one compiled pass
        (`neardup.index.kernels.gather_sets`); other threads read them one by one."""
        at_arr = np.asarray(at, np.int64)
        counts_arr = np.asarray(counts, np.int64)
        if len(at_arr) == 0:
            return np.zeros(0, np.uint32), np.zeros(1, np.int64)
        if self._write_map[0] == threading.get_ident():
            mapping = self._write_mapping()
            if mapping is not None and int((at_arr + 4 * counts_arr).max()) <= len(mapping):
                data = np.frombuffer(mapping, np.uint8)
                try:
                    return gather_sets(data, at_arr, counts_arr)
                finally:
                    del data  # the mapping closes at the end of the transaction: no view left
        sets = [
            self._set_at(a, n) for a, n in zip(at_arr.tolist(), counts_arr.tolist(), strict=True)
        ]
        offsets = np.zeros(len(sets) + 1, np.int64)
        np.cumsum(counts_arr, out=offsets[1:])
        return np.concatenate(sets).astype(np.uint32, copy=False), offsets

    def _sets_in_order(
        self, con: sqlite3.Connection, nums: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The shingle sets of the documents `nums` (sorted unique), in that order, as one
        ragged (values, offsets) pair."""
        rows = _select_in(
            con, "SELECT num, shingles_at, n_shingles FROM docs WHERE num IN ({marks})",
            nums.tolist(),
        )  # fmt: skip
        found = np.array(rows, np.int64).reshape(-1, 3)
        if len(found) != len(nums):
            missing = sorted(set(nums.tolist()) - set(found[:, 0].tolist()))
            raise IndexError_(f"{self.path}: documents {missing[:5]} have no row (damaged index)")
        found = found[np.argsort(found[:, 0], kind="stable")]
        return self._gather_sets(found[:, 1], found[:, 2])

    def _text_at(self, at: int | None, size: int | None) -> str | None:
        if at is None or size is None:
            return None
        return self._decompress(self._read_blob(at, size))

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- settings -------------------------------------------------------------------------------
    def _init_schema(self, settings: Settings | None, store_text: bool) -> None:
        con = self._writer
        with self._write_lock:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute(_SCHEMA.split(";")[0])  # meta: an older index's version is read first
                stored = dict(con.execute("SELECT key, value FROM meta").fetchall())
                if not stored or int(stored.get("format_version", -1)) == FORMAT_VERSION:
                    for statement in _SCHEMA.split(";")[1:]:
                        if statement.strip():
                            con.execute(statement)
                if not stored:
                    settings = settings or index_defaults()
                    now = repr(time.time())
                    con.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [
                            ("format_version", str(FORMAT_VERSION)),
                            ("settings", orjson.dumps(settings.matching_dict()).decode()),
                            ("store_text", "1" if store_text else "0"),
                            ("next_num", "0"),
                            ("next_cluster", "0"),
                            ("boilerplate_version", "0"),
                            ("blobs_end", "0"),
                            ("created", now),
                        ],
                    )
                    stored = dict(con.execute("SELECT key, value FROM meta").fetchall())
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        if int(stored.get("format_version", -1)) != FORMAT_VERSION:
            raise IndexError_(
                f"{self.path}: index format {stored.get('format_version')} is not supported "
                f"(this neardup reads format {FORMAT_VERSION}); build a new index from the corpus "
                "(`neardup index add NEW.ndx CORPUS`)"
            )
        self._open_blobs(int(stored["blobs_end"]))
        matching = orjson.loads(stored["settings"])
        base = settings or index_defaults()
        try:
            index_settings = base.replace(**matching)
        except (TypeError, ValueError) as e:
            raise IndexError_(f"{self.path}: stored settings are unreadable: {e}") from e
        if settings is not None:
            wanted = settings.matching_dict()
            differ = [k for k in wanted if matching.get(k) != wanted[k]]
            if differ:
                details = ", ".join(
                    f"{k}={wanted[k]!r} (index: {matching.get(k)!r})" for k in differ
                )
                raise SettingsMismatch(
                    f"{self.path} was built with other matching settings: {details}. Use the "
                    "index's settings (leave these options out) or build a new index."
                )
        self.settings: Settings = index_settings
        self.store_text = stored.get("store_text", "1") == "1"

    # --- adding ---------------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str] | None,
        metas: Sequence[dict[str, Any]] | None = None,
        *,
        strict: bool = False,
        prepared: Prepared | None = None,
    ) -> list[DocResult]:
        """Add a batch of documents in one transaction; return, per input, what happened and the
        document's new matches.

        strict=False (the command line): unusable documents are "skipped" with a reason, and an
        id already indexed is "exists" (same text) or "skipped" (different text).
        strict=True (the service): the first unusable document or conflicting id raises
        (InvalidDocument, DocumentConflict) and nothing is added.
        `prepared` may hold `prepare(texts, metas, index.settings, index.store_text)` computed
        ahead (in another thread or process); texts may then be None.
        """
        metas = metas if metas is not None else [{} for _ in ids]
        if prepared is None:
            if texts is None:
                raise ValueError("texts are needed unless the batch is prepared")
            if len(texts) != len(ids):
                raise ValueError("ids, texts and metas must have the same length")
        elif len(prepared) != len(ids):
            raise ValueError("the prepared batch is not the batch of these ids")
        if len(metas) != len(ids):
            raise ValueError("ids, texts and metas must have the same length")
        results: list[DocResult | None] = [None] * len(ids)
        seen: dict[str, int] = {}
        for i, doc_id in enumerate(ids):
            if doc_id in seen:
                if strict:
                    raise InvalidDocument(i, doc_id, f"the same id as document {seen[doc_id]}")
                results[i] = DocResult(
                    doc_id, "skipped", reason=f"duplicate id (also document {seen[doc_id]})"
                )
            else:
                seen[doc_id] = i
        if prepared is None:
            assert texts is not None
            prepared = prepare(texts, metas, self.settings, self.store_text)
        sk = prepared.sketches
        for i in range(len(ids)):
            if results[i] is None and sk.n_tokens[i] == 0:
                reason = "empty text (no words)" if prepared.blank[i] else "no words in text"
                if strict:
                    raise InvalidDocument(i, ids[i], reason)
                results[i] = DocResult(ids[i], "skipped", reason=reason)
        with self._write() as con:
            # ids already indexed: the same text is a harmless retry, another text a conflict
            pending = [i for i in range(len(ids)) if results[i] is None]
            existing = dict(
                _select_in(
                    con,
                    "SELECT id, content_hash FROM docs WHERE id IN ({marks})",
                    [ids[i] for i in pending],
                )
            )
            conflicts = []
            for i in pending:
                if ids[i] in existing:
                    same = existing[ids[i]] == int(sk.content_hash[i : i + 1].view(np.int64)[0])
                    if same:
                        results[i] = DocResult(ids[i], "exists")
                    else:
                        conflicts.append(i)
            if conflicts and strict:
                raise DocumentConflict([ids[i] for i in conflicts])
            for i in conflicts:
                results[i] = DocResult(
                    ids[i], "skipped", reason="id already in the index with a different text"
                )
            rows = np.array([i for i in range(len(ids)) if results[i] is None], np.int64)
            if len(rows):
                added = self._add_rows(con, prepared, rows, ids)
                for i, res in zip(rows.tolist(), added, strict=True):
                    results[i] = res
            # report the current cluster of retried documents too
            for res in results:
                if res is not None and res.status == "exists":
                    self._fill_doc_result(con, res)
        return [r for r in results if r is not None]

    def _add_rows(
        self,
        con: sqlite3.Connection,
        prepared: Prepared,
        rows: np.ndarray,
        ids: Sequence[str],
    ) -> list[DocResult]:
        first = int(con.execute("SELECT value FROM meta WHERE key='next_num'").fetchone()[0])
        sk = prepared.sketches
        new = _Sketches.from_batch(sk, prepared.keys, rows, first)
        rows_list = rows.tolist()
        # the shingle sets and texts go to the side file first: it is flushed while matching runs
        sets = np.ascontiguousarray(new.set_values, dtype=np.uint32)
        texts = [prepared.text_blobs[i] for i in rows_list] if self.store_text else []
        base = self._append_blobs(con, [sets, *(t for t in texts if t)])
        shingles_at = (base + 4 * new.set_offsets[:-1]).tolist()
        if texts:
            text_len = [len(t or b"") for t in texts]
            text_at = (base + sets.nbytes + np.cumsum([0, *text_len[:-1]])).tolist()
        else:
            text_len = text_at = [None] * len(rows_list)
        sites = self._site_ids(con, [prepared.sites[i] for i in rows_list])
        # boilerplate first: the batch may reveal a site's chrome, which must not match it
        looked_at = self._detect_boilerplate(con, new, sites)
        exclude = self._exclusion(con)
        if looked_at:
            self._reverify(con, looked_at, exclude)
        new.drop_anchors(exclude)
        rep, pairs = self._match(con, new, among_new=True, check_exact=True, exclude=exclude)
        n = len(new)
        now = time.time()
        # the new documents' clusters and scores go in with their rows: an UPDATE would rewrite
        # each ~7 KB row (its size changes) on top of the INSERT
        plan = self._plan_clusters(con, pairs)
        score = self._insert_pairs(con, pairs, new_from=first)
        p = prepared
        nums = new.nums.tolist()
        columns = (
            nums,
            [ids[i] for i in rows_list],
            [p.meta_json[i] for i in rows_list],
            [p.published[i] for i in rows_list],
            sk.n_tokens[rows].tolist(),
            np.diff(new.set_offsets).tolist(),
            np.diff(new.anchor_offsets).tolist(),
            new.content_hash.view(np.int64).tolist(),
            [None if r < 0 else r for r in rep.tolist()],
            [plan.cluster_of.get(x) for x in nums],
            [score.get(x, 0.0) for x in nums],
            [p.key_blobs[i] for i in rows_list],
            shingles_at,
            [p.anchor_blobs[i] for i in rows_list],
            text_at,
            text_len,
            [None if x < 0 else x for x in sites.tolist()],
            [now] * n,
        )
        con.executemany(
            "INSERT INTO docs (num, id, meta, published, n_tokens, n_shingles, n_anchors, "
            "content_hash, rep, cluster, score, band_keys, shingles_at, anchors, text_at, "
            "text_len, site, added) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            zip(*columns, strict=True),
        )
        self._insert_sketch_rows(con, new, np.flatnonzero(rep < 0))
        con.execute("UPDATE meta SET value=? WHERE key='next_num'", (str(first + n),))
        state = self._apply_clusters(con, plan, first, now)
        results = [DocResult(ids[i], "added") for i in rows_list]
        by_num = {nums[k]: results[k] for k in range(n)}
        self._fill_results(con, by_num, pairs, state)
        return results

    def _insert_sketch_rows(
        self, con: sqlite3.Connection, new: _Sketches, which: np.ndarray
    ) -> None:
        """The LSH and anchor rows of the documents new[which] (representatives only)."""
        if len(which) == 0:
            return
        self._postings.add(
            con, LSH, new.keys[which].ravel(), np.repeat(new.nums[which], self._bands)
        )
        counts = np.diff(new.anchor_offsets)[which]
        av, _ = _ragged_take(new.anchor_values, new.anchor_offsets, which)
        owners = np.repeat(new.nums[which], counts)
        self._postings.add(con, ANCHORS, av, owners, np.repeat(counts, counts))

    # --- boilerplate ----------------------------------------------------------------------------
    def _site_ids(self, con: sqlite3.Connection, names: Sequence[str | None]) -> np.ndarray:
        """Site number of each document from its site name (`Prepared.sites`; None: none, or
        boilerplate off, gives -1); new sites are added."""
        distinct = sorted({n for n in names if n is not None})
        if not distinct:
            return np.full(len(names), -1, np.int64)
        con.executemany("INSERT OR IGNORE INTO sites (name) VALUES (?)", [(n,) for n in distinct])
        ids = dict(_select_in(con, "SELECT name, id FROM sites WHERE name IN ({marks})", distinct))
        return np.array([-1 if n is None else ids[n] for n in names], np.int64)

    def _exclusion(self, con: sqlite3.Connection) -> np.ndarray:
        """Every site's boilerplate shingles (sorted uint32): what matching leaves out, as
        `find` leaves out the union of its sites' boilerplate."""
        version = con.execute("SELECT value FROM meta WHERE key='boilerplate_version'").fetchone()
        version = version[0] if version else "0"
        cached_version, values = self._boilerplate_cache
        if cached_version != version:
            values = np.array(
                [r[0] for r in con.execute("SELECT value FROM boilerplate ORDER BY value")],
                np.uint32,
            )
            self._boilerplate_cache = (version, values)
        return values

    def _detect_boilerplate(
        self, con: sqlite3.Connection, new: _Sketches, sites: np.ndarray
    ) -> list[int]:
        """Run `neardup.boilerplate.detect_site_boilerplate` on each site of the batch, over its
        new documents and its latest indexed ones (SITE_WINDOW in all); record the shingles
        found that were not boilerplate yet. Returns the indexed documents looked at for the
        sites whose boilerplate grew (their pairs must be measured again)."""
        s = self.settings
        if s.boilerplate == "off":
            return []
        known = Boilerplate(self._exclusion(con))
        looked_at: list[int] = []
        fresh_rows = []
        touched = sorted(set(sites.tolist()) - {-1})
        state = {
            site: (pages, pending)
            for site, pages, pending in _select_in(
                con, "SELECT id, pages, pending FROM sites WHERE id IN ({marks})", touched
            )
        }
        counts = []
        jobs = []  # (site, indexed pages looked at, their sets and the new ones)
        for site in touched:
            mine = np.flatnonzero(sites == site)
            pages, pending = state[site]
            due = pages < DETECT_ALWAYS_BELOW or pending + len(mine) >= DETECT_EVERY
            counts.append((pages + len(mine), 0 if due else pending + len(mine), site))
            if not due:
                continue
            window = con.execute(
                "SELECT num, shingles_at, n_shingles FROM docs WHERE site=? ORDER BY num DESC "
                "LIMIT ?",
                (site, max(s.boilerplate_min_contexts, SITE_WINDOW - len(mine))),
            ).fetchall()
            if len(window) + len(mine) < s.boilerplate_min_contexts:
                continue
            # the site's pages oldest first, then the batch's: one ragged array
            old = np.array(window[::-1], np.int64).reshape(-1, 3)
            old_values, old_offsets = self._gather_sets(old[:, 1], old[:, 2])
            new_values, new_offsets = _ragged_take(new.set_values, new.set_offsets, mine)
            values, offsets = concat_ragged([old_values, new_values], [old_offsets, new_offsets])
            size, sample = len(offsets) - 1, s.boilerplate_sample
            pages = np.arange(size, dtype=np.int64)
            if sample and size > sample:  # as `find` samples a large site: evenly spread pages
                pages = (np.arange(sample, dtype=np.int64) * size) // sample
            jobs.append((site, [num for num, _, _ in window], (values, offsets, pages)))

        def detect(
            job: tuple[int, list[int], tuple[np.ndarray, np.ndarray, np.ndarray]],
        ) -> np.ndarray:
            values, offsets, pages = job[2]
            return detect_site_boilerplate(values, offsets, pages, s)

        # the sites of a batch in threads (the kernels release the GIL), taken in site order
        for (site, window_nums, _), found in zip(jobs, _map_threads(detect, jobs), strict=True):
            fresh = found[~known.contains(found)]
            if len(fresh):
                looked_at += window_nums
                fresh_rows += [(v, site) for v in fresh.tolist()]
        con.executemany("UPDATE sites SET pages=?, pending=? WHERE id=?", counts)
        if fresh_rows:
            now = time.time()
            con.executemany(
                "INSERT OR IGNORE INTO boilerplate (value, site, added) VALUES (?, ?, ?)",
                [(v, site, now) for v, site in fresh_rows],
            )
            # a random version: a cache filled inside a rolled-back transaction never matches
            con.execute(
                "UPDATE meta SET value=? WHERE key='boilerplate_version'",
                (str(secrets.randbits(62)),),
            )
        return sorted(looked_at)

    def _reverify(self, con: sqlite3.Connection, nums: list[int], exclude: np.ndarray) -> None:
        """Measure again, without the grown boilerplate, the pairs of the documents `nums`
        (made when less of their site's chrome was known): pairs that no longer pass are
        removed, with the clusters they held together split; the others get their new scores."""
        found = _select_in(
            con, "SELECT a, b, a_in_b, b_in_a, rule FROM pairs WHERE a IN ({marks})", nums
        ) + _select_in(
            con, "SELECT a, b, a_in_b, b_in_a, rule FROM pairs WHERE b IN ({marks})", nums
        )
        old = np.array(sorted({r for r in found if r[4] != RULE_EXACT}), np.float64)
        if len(old) == 0:
            return
        pairs = old[:, :2].astype(np.int64)
        docs = unique(pairs.ravel())
        values, offsets = self._sets_in_order(con, docs)
        local = np.searchsorted(docs, pairs)
        kept = verify_pairs(local, values, offsets, self.settings, exclude=exclude)
        kept_code = set(zip(docs[kept.a].tolist(), docs[kept.b].tolist(), strict=True))
        dropped = [k for k, (a, b) in enumerate(pairs.tolist()) if (a, b) not in kept_code]
        # running "contains the others" scores: take out the old gains, add the new ones
        delta: dict[int, float] = {}
        for k in range(len(pairs)):
            a, b = int(pairs[k, 0]), int(pairs[k, 1])
            delta[a] = delta.get(a, 0.0) - old[k, 3]
            delta[b] = delta.get(b, 0.0) - old[k, 2]
        ka, kb = docs[kept.a].tolist(), docs[kept.b].tolist()
        for a, b, ab, ba in zip(ka, kb, kept.a_in_b.tolist(), kept.b_in_a.tolist(), strict=True):
            delta[a] = delta.get(a, 0.0) + ba
            delta[b] = delta.get(b, 0.0) + ab
        con.executemany(
            "UPDATE pairs SET jaccard=?, a_in_b=?, b_in_a=?, rule=? WHERE a=? AND b=?",
            zip(
                kept.jaccard.tolist(), kept.a_in_b.tolist(), kept.b_in_a.tolist(),
                kept.rule.tolist(), ka, kb, strict=True,
            ),
        )  # fmt: skip
        con.executemany(
            "DELETE FROM pairs WHERE a=? AND b=?", [tuple(pairs[k].tolist()) for k in dropped]
        )
        con.executemany(
            "UPDATE docs SET score = score + ? WHERE num=?", [(d, n) for n, d in delta.items()]
        )
        clusters = sorted(
            {
                c
                for (c,) in _select_in(
                    con,
                    "SELECT DISTINCT cluster FROM docs WHERE cluster IS NOT NULL AND num IN "
                    "({marks})",
                    docs.tolist(),
                )
            }
        )
        if dropped:
            members = {
                r[0]
                for r in _select_in(
                    con, "SELECT num FROM docs WHERE cluster IN ({marks})", clusters
                )
            }
            self._relabel(con, members)  # splits what dropped pairs held together
        else:
            self._refresh_clusters(con, clusters, time.time())

    # --- matching -------------------------------------------------------------------------------
    def _match(
        self,
        con: sqlite3.Connection,
        new: _Sketches,
        *,
        among_new: bool,
        check_exact: bool,
        exclude: np.ndarray,
    ) -> tuple[np.ndarray, VerifiedPairs]:
        """Verified pairs of the documents `new` (numbered after everything indexed) with the
        indexed documents and, if among_new, with each other.

        Returns (rep, pairs): rep[k] is the number of the document new[k] is an exact duplicate
        of (-1 if none; such a document is paired with it only, as in `find`); pairs are sorted
        with a < b and carry numbers.
        """
        n = len(new)
        first_new = int(new.nums[0]) if n else 0
        rep = np.full(n, -1, np.int64)
        exact_a: list[int] = []
        exact_b: list[int] = []
        if check_exact and n:
            hashes = _i64(new.content_hash)
            indexed = dict(
                _select_in(
                    con,
                    "SELECT content_hash, min(num) FROM docs WHERE rep IS NULL AND content_hash "
                    "IN ({marks}) GROUP BY content_hash",
                    list(set(hashes)),
                )
            )
            first_of: dict[int, int] = {}
            for k, h in enumerate(hashes):
                if h in indexed:
                    rep[k] = indexed[h]
                elif among_new and h in first_of:
                    rep[k] = first_of[h]
                else:
                    first_of[h] = int(new.nums[k])
                if rep[k] >= 0:
                    exact_a.append(int(rep[k]))
                    exact_b.append(int(new.nums[k]))
        ones = np.ones(len(exact_a))
        exact = VerifiedPairs(
            np.array(exact_a, np.int64),
            np.array(exact_b, np.int64),
            ones,
            ones.copy(),
            ones.copy(),
            np.full(len(exact_a), RULE_EXACT, np.int8),
        )
        reps = np.flatnonzero(rep < 0)
        if len(reps) == 0:
            return rep, exact.sorted()
        lsh = self._lsh_pairs(con, new, reps, first_new, among_new)
        anchored = self._anchor_pairs(con, new, reps, first_new, among_new)
        candidates = merge_pairs(lsh, anchored)
        verified = self._verify(con, new, candidates, first_new, exclude)
        return rep, VerifiedPairs.concat([exact, verified]).sorted()

    def _lsh_pairs(
        self,
        con: sqlite3.Connection,
        new: _Sketches,
        reps: np.ndarray,
        first_new: int,
        among_new: bool,
    ) -> np.ndarray:
        """Candidate pairs from shared LSH buckets, by `find`'s bucket rule over the indexed
        members of each bucket plus the new ones."""
        s = self.settings
        keys = new.keys[reps].ravel().astype(np.int64)
        members = np.repeat(new.nums[reps], self._bands)
        old = self._postings.lookup(con, LSH, unique(keys))
        if len(old.keys):
            keys = np.concatenate([old.keys, keys])
            members = np.concatenate([old.nums, members])
        a, b = pairs_sharing_keys(keys, members, s.max_bucket, max(1, s.max_bucket // 8))
        return _keep_new_pairs(a, b, first_new, among_new)

    def _anchor_pairs(
        self,
        con: sqlite3.Connection,
        new: _Sketches,
        reps: np.ndarray,
        first_new: int,
        among_new: bool,
    ) -> np.ndarray:
        """Candidate pairs by `find`'s anchor rule (`neardup.candidates.anchor_candidates`):
        shared anchors, each held by at most `anchor_max_df` documents, covering
        `anchor_min_ratio` of the smaller document's anchors."""
        s = self.settings
        values, offsets = _ragged_take(new.anchor_values, new.anchor_offsets, reps)
        counts = np.diff(offsets)
        if len(values) == 0:
            return np.zeros((0, 2), np.int64)
        owners = np.repeat(new.nums[reps], counts)
        n_of = np.repeat(counts, counts)
        old = self._postings.lookup(con, ANCHORS, unique(values))
        if len(old.keys):
            values = np.concatenate([old.keys, values.astype(np.int64)])
            owners = np.concatenate([old.nums, owners])
            n_of = np.concatenate([old.extra, n_of])
        # each new posting pairs with the documents of its anchor numbered before it, so every
        # pair is produced once, from its later member
        return anchor_pairs(
            values, owners, n_of, first_new, s.anchor_max_df, s.anchor_min_ratio, among_new
        )

    def _verify(
        self,
        con: sqlite3.Connection,
        new: _Sketches,
        candidates: np.ndarray,
        first_new: int,
        exclude: np.ndarray,
    ) -> VerifiedPairs:
        """Exact scores of the candidates on their shingle sets (`neardup.verify.verify_pairs`)."""
        if len(candidates) == 0:
            return VerifiedPairs.empty()
        n = len(new)
        old_nums = unique(candidates[candidates < first_new])
        old_values, old_offsets = self._sets_in_order(con, old_nums)
        values, offsets = concat_ragged(
            [new.set_values, old_values], [new.set_offsets, old_offsets]
        )
        # local numbering: the new documents first, then the indexed ones
        local = np.where(
            candidates >= first_new,
            candidates - first_new,
            n + np.searchsorted(old_nums, candidates),
        )
        # in a thread per core (the kernel releases the GIL), parts joined in order
        parts = np.array_split(local, max(1, min(default_workers(), len(local) // 2048)))
        v = VerifiedPairs.concat(
            _map_threads(
                lambda part: verify_pairs(part, values, offsets, self.settings, exclude=exclude),
                parts,
            )
        )
        back = np.concatenate([new.nums, old_nums])
        return VerifiedPairs(back[v.a], back[v.b], v.jaccard, v.a_in_b, v.b_in_a, v.rule)

    # --- pairs and clusters ---------------------------------------------------------------------
    def _insert_pairs(
        self, con: sqlite3.Connection, pairs: VerifiedPairs, new_from: int | None = None
    ) -> dict[int, float]:
        """Insert pairs and add their gains to each document's running "contains the others"
        score (`neardup.cluster.contained_scores`). The gains of documents numbered `new_from`
        or more (not inserted yet) are returned instead."""
        if len(pairs) == 0:
            return {}
        con.executemany(
            "INSERT OR REPLACE INTO pairs VALUES (?,?,?,?,?,?)",
            zip(
                pairs.a.tolist(),
                pairs.b.tolist(),
                pairs.jaccard.tolist(),
                pairs.a_in_b.tolist(),
                pairs.b_in_a.tolist(),
                pairs.rule.tolist(),
                strict=True,
            ),
        )
        nums = np.concatenate([pairs.a, pairs.b])
        gains = np.concatenate([pairs.b_in_a, pairs.a_in_b])
        order = np.argsort(nums, kind="stable")
        nums, gains = nums[order], gains[order]
        uniq, start = np.unique(nums, return_index=True)
        total = np.add.reduceat(gains, start) if len(nums) else gains
        old = uniq < new_from if new_from is not None else np.ones(len(uniq), bool)
        con.executemany(
            "UPDATE docs SET score = score + ? WHERE num = ?",
            zip(total[old].tolist(), uniq[old].tolist(), strict=True),
        )
        return dict(zip(uniq[~old].tolist(), total[~old].tolist(), strict=True))

    def _next_cluster(self, con: sqlite3.Connection) -> int:
        c = int(con.execute("SELECT value FROM meta WHERE key='next_cluster'").fetchone()[0])
        con.execute("UPDATE meta SET value=? WHERE key='next_cluster'", (str(c + 1),))
        return c

    def _plan_clusters(self, con: sqlite3.Connection, pairs: VerifiedPairs) -> _ClusterPlan:
        """How a batch's new pairs join, create and merge clusters (clusters never split here);
        read before the batch's documents are inserted (`_apply_clusters` writes it)."""
        plan = _ClusterPlan()
        if len(pairs) == 0:
            return plan
        nums = unique(np.concatenate([pairs.a, pairs.b]))
        cluster_of = {
            num: c
            for num, c in _select_in(
                con,
                "SELECT num, cluster FROM docs WHERE cluster IS NOT NULL AND num IN ({marks})",
                nums.tolist(),
            )
        }
        # union-find over nodes: one per existing cluster, one per document not in a cluster
        node_of: dict[tuple[str, int], int] = {}

        def node(num: int) -> int:
            key = ("c", cluster_of[num]) if num in cluster_of else ("d", num)
            if key not in node_of:
                node_of[key] = len(node_of)
            return node_of[key]

        a = np.array([node(x) for x in pairs.a.tolist()], np.int64)
        b = np.array([node(x) for x in pairs.b.tolist()], np.int64)
        labels = connected_components(len(node_of), a, b)
        groups: dict[int, dict[str, list[int]]] = {}
        for (kind, value), nd in node_of.items():
            g = groups.setdefault(int(labels[nd]), {"c": [], "d": []})
            g[kind].append(value)
        next_cluster = int(
            con.execute("SELECT value FROM meta WHERE key='next_cluster'").fetchone()[0]
        )
        # new clusters are numbered in the order of their first document, as `find` numbers them
        for g in sorted(groups.values(), key=lambda g: min(g["d"]) if not g["c"] else -1):
            if g["c"]:
                target = min(g["c"])
                plan.merges += [(o, target) for o in sorted(set(g["c"]) - {target})]
            else:
                target = next_cluster
                next_cluster += 1
                plan.created.append(target)
            for d in g["d"]:
                plan.cluster_of[d] = target
            plan.touched.add(target)
        plan.next_cluster = next_cluster
        return plan

    def _apply_clusters(
        self, con: sqlite3.Connection, plan: _ClusterPlan, new_from: int, now: float
    ) -> _ClusterState:
        """Write a `_plan_clusters` plan: the documents numbered `new_from` or more were
        inserted with their clusters already. Returns the touched clusters' new state."""
        if not plan.touched:
            return _ClusterState()
        # statements batched per kind: a batch touches thousands of clusters
        if plan.merges:
            con.executemany(
                "UPDATE docs SET cluster=? WHERE cluster=?", [(t, o) for o, t in plan.merges]
            )
            con.executemany("DELETE FROM clusters WHERE id=?", [(o,) for o, _ in plan.merges])
            con.executemany(
                "INSERT INTO cluster_events (kind, cluster, into_cluster, at) VALUES ('merged', ?, ?, ?)",
                [(o, t, now) for o, t in plan.merges],
            )
        if plan.created:
            con.executemany(
                "INSERT INTO clusters (id, original, rule, size, created, updated) VALUES (?, -1, '', 0, ?, ?)",
                [(c, now, now) for c in plan.created],
            )
            con.execute(
                "UPDATE meta SET value=? WHERE key='next_cluster'", (str(plan.next_cluster),)
            )
        con.executemany(
            "UPDATE docs SET cluster=? WHERE num=?",
            [(c, d) for d, c in plan.cluster_of.items() if d < new_from],
        )
        return self._refresh_clusters(con, sorted(plan.touched), now)

    def _refresh_clusters(
        self, con: sqlite3.Connection, clusters: list[int], now: float
    ) -> _ClusterState:
        """Recompute the size and original of clusters of two or more (`choose_original`);
        returns the members' clusters and the originals it read and chose."""
        rows = _select_in(
            con,
            "SELECT cluster, num, published, score, n_shingles FROM docs WHERE cluster IN ({marks}) "
            "ORDER BY cluster, num",
            clusters,
        )
        updates: list[tuple[Any, ...]] = []
        if rows:
            # one compiled pass over all the groups (rows by cluster, then arrival): nodes are row
            # positions, so "first in input" is the group's earliest arrival
            n = len(rows)
            cluster = np.fromiter((r[0] for r in rows), np.int64, n)
            published = np.fromiter(
                (math.nan if r[2] is None else r[2] for r in rows), np.float64, n
            )
            score = np.fromiter((r[3] for r in rows), np.float64, n)
            sizes = np.fromiter((r[4] for r in rows), np.float64, n)
            starts = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
            bounds = np.r_[starts, n].astype(np.int64)
            originals, rule_codes = choose_originals(
                np.arange(n, dtype=np.int64), bounds, published, score, sizes
            )
            updates = [
                (rows[o][1], RULES[r], hi - lo, now, rows[lo][0])
                for o, r, lo, hi in zip(
                    originals.tolist(), rule_codes.tolist(), bounds[:-1].tolist(),
                    bounds[1:].tolist(), strict=True,
                )
            ]  # fmt: skip
        con.executemany(
            "UPDATE clusters SET original=?, rule=?, size=?, updated=? WHERE id=?", updates
        )
        return _ClusterState(
            cluster_of={r[1]: r[0] for r in rows}, original_of={u[4]: u[0] for u in updates}
        )

    # --- results --------------------------------------------------------------------------------
    def _fill_results(
        self,
        con: sqlite3.Connection,
        by_num: dict[int, DocResult],
        pairs: VerifiedPairs,
        state: _ClusterState,
    ) -> None:
        """Matches, cluster and original of each result (from the batch's pairs; `state`: the
        clusters they touched, from `_apply_clusters`)."""
        # a new document without pairs is in no cluster: only the others are looked up, and of
        # those only the indexed ones' ids are read (the batch's are in `by_num`)
        in_pairs = {*pairs.a.tolist(), *pairs.b.tolist()}
        wanted = {x for x in in_pairs if x not in by_num}
        wanted |= {o for o in state.original_of.values() if o not in by_num}
        id_of = dict(
            _select_in(con, "SELECT num, id FROM docs WHERE num IN ({marks})", sorted(wanted))
        )
        id_of.update((num, res.id) for num, res in by_num.items())
        info = {}
        for num in in_pairs:
            cluster = state.cluster_of[num]
            info[num] = (id_of[num], cluster, id_of[state.original_of[cluster]])
        for a, b, j, ab, ba, r in _pair_rows(pairs):
            if a in by_num:
                by_num[a].matches.append(Match(info[b][0], j, ab, ba, RULE_NAMES[r], info[b][1]))
            if b in by_num:
                by_num[b].matches.append(Match(info[a][0], j, ba, ab, RULE_NAMES[r], info[a][1]))
        for num, res in by_num.items():
            _, res.cluster, original = info.get(num, (res.id, None, None))
            res.original = original if res.cluster is not None else res.id

    def _fill_doc_result(self, con: sqlite3.Connection, res: DocResult) -> None:
        row = con.execute(
            "SELECT d.cluster, o.id FROM docs d LEFT JOIN clusters c ON c.id = d.cluster "
            "LEFT JOIN docs o ON o.num = c.original WHERE d.id = ?",
            (res.id,),
        ).fetchone()
        if row:
            res.cluster = row[0]
            res.original = row[1] if row[0] is not None else res.id

    # --- querying -------------------------------------------------------------------------------
    def query(self, texts: Sequence[str], ids: Sequence[str] | None = None) -> list[DocResult]:
        """Match documents against the index without adding them (each against the index only,
        not against each other). `ids` only label the results."""
        ids = list(ids) if ids is not None else [str(i) for i in range(len(texts))]
        if not texts:
            return []
        sk = sketch_texts(list(texts), self.settings)
        results = [DocResult(ids[i], "queried") for i in range(len(texts))]
        rows = np.flatnonzero(sk.n_tokens > 0)
        for i in np.flatnonzero(sk.n_tokens == 0).tolist():
            results[i].status = "skipped"
            results[i].reason = (
                "empty text (no words)" if not texts[i].strip() else "no words in text"
            )
        if len(rows) == 0:
            return results
        with self._read() as con:
            self._postings.forget_unlisted(con)
            first = int(con.execute("SELECT value FROM meta WHERE key='next_num'").fetchone()[0])
            keys = band_keys32(sk.signatures, self._bands, self._rows)
            new = _Sketches.from_batch(sk, keys, rows, first)
            exclude = self._exclusion(con)
            new.drop_anchors(exclude)
            _, pairs = self._match(con, new, among_new=False, check_exact=True, exclude=exclude)
            by_num = {int(new.nums[k]): results[i] for k, i in enumerate(rows.tolist())}
            info = _doc_info(con, {x for x in pairs.a.tolist() if x < first})
        for a, b, j, ab, ba, r in _pair_rows(pairs):
            doc_id, cluster, original = info[a]
            res = by_num[b]
            res.matches.append(Match(doc_id, j, ba, ab, RULE_NAMES[r], cluster))
            # the cluster the document would join (the lowest id, as a merge would keep) and
            # that cluster's current original
            if cluster is not None and (res.cluster is None or cluster < res.cluster):
                res.cluster, res.original = cluster, original
        return results

    # --- removing -------------------------------------------------------------------------------
    def remove(self, ids: Sequence[str], *, strict: bool = True) -> list[str]:
        """Remove documents in one transaction; returns the ids removed. With strict=True an
        unknown id raises UnknownIds and nothing is removed; otherwise unknown ids are ignored.

        A removed document's pairs go with it; clusters it held together split (the part with the
        oldest document keeps the id); if it was the first of a set of exact duplicates, the next
        one takes its place and is matched against the index again."""
        with self._write() as con:
            found = dict(
                _select_in(con, "SELECT id, num FROM docs WHERE id IN ({marks})", list(ids))
            )
            missing = [i for i in ids if i not in found]
            if missing and strict:
                raise UnknownIds(missing)
            affected: set[int] = set()
            removed = []
            for doc_id in dict.fromkeys(i for i in ids if i in found):
                affected |= self._remove_one(con, found[doc_id])
                removed.append(doc_id)
            self._relabel(con, affected)
        return removed

    def _remove_one(self, con: sqlite3.Connection, num: int) -> set[int]:
        """Delete one document; returns the documents whose clusters must be recomputed."""
        rep, cluster = con.execute("SELECT rep, cluster FROM docs WHERE num=?", (num,)).fetchone()
        affected: set[int] = set()
        if cluster is not None:
            affected |= {
                r[0] for r in con.execute("SELECT num FROM docs WHERE cluster=?", (cluster,))
            }
        partner_rows = con.execute(
            "SELECT a, b, a_in_b, b_in_a FROM pairs WHERE a=? UNION ALL SELECT a, b, a_in_b, b_in_a FROM pairs WHERE b=?",
            (num, num),
        ).fetchall()
        for a, b, ab, ba in partner_rows:
            if a == num:
                con.execute("UPDATE docs SET score = score - ? WHERE num=?", (ab, b))
            else:
                con.execute("UPDATE docs SET score = score - ? WHERE num=?", (ba, a))
        con.execute("DELETE FROM pairs WHERE a=? OR b=?", (num, num))
        if rep is None:  # its postings are skipped from now on, and dropped by the next merge
            con.execute("INSERT OR IGNORE INTO dead (num) VALUES (?)", (num,))
        con.execute("DELETE FROM docs WHERE num=?", (num,))
        affected.discard(num)
        if rep is None:
            dups = [
                r[0] for r in con.execute("SELECT num FROM docs WHERE rep=? ORDER BY num", (num,))
            ]
            if dups:
                affected |= self._promote(con, dups[0], dups[1:])
        return affected

    def _promote(self, con: sqlite3.Connection, new_rep: int, others: list[int]) -> set[int]:
        """`new_rep` becomes the first of its exact duplicates: pair it with the others and match
        it against the index as `find` would match a representative."""
        con.execute("UPDATE docs SET rep=NULL WHERE num=?", (new_rep,))
        if others:
            marks = ",".join("?" * len(others))
            con.execute(f"UPDATE docs SET rep=? WHERE num IN ({marks})", (new_rep, *others))
        sig, shingles_at, n_shingles, anchors, chash = con.execute(
            "SELECT band_keys, shingles_at, n_shingles, anchors, content_hash FROM docs "
            "WHERE num=?",
            (new_rep,),
        ).fetchone()
        set_values = self._set_at(shingles_at, n_shingles)
        anchor_values = np.frombuffer(anchors, np.uint32)
        next_num = int(con.execute("SELECT value FROM meta WHERE key='next_num'").fetchone()[0])
        probe = _Sketches(
            nums=np.array([next_num], np.int64),
            keys=np.frombuffer(sig, np.uint32).reshape(1, -1),
            content_hash=np.array([chash], np.int64).view(np.uint64),
            set_values=set_values,
            set_offsets=np.array([0, len(set_values)], np.int64),
            anchor_values=anchor_values,
            anchor_offsets=np.array([0, len(anchor_values)], np.int64),
        )
        exclude = self._exclusion(con)
        probe.drop_anchors(exclude)
        con.execute("UPDATE docs SET n_anchors=? WHERE num=?", (len(probe.anchor_values), new_rep))
        _, found = self._match(con, probe, among_new=False, check_exact=False, exclude=exclude)
        # the probe stood in at number next_num; give the pairs the real number
        swap = lambda x: np.where(x == next_num, new_rep, x)  # noqa: E731
        a, b = swap(found.a), swap(found.b)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        flip = a > b
        ab = np.where(flip, found.b_in_a, found.a_in_b)
        ba = np.where(flip, found.a_in_b, found.b_in_a)
        ones = np.ones(len(others))
        pairs = VerifiedPairs.concat(
            [
                VerifiedPairs(lo, hi, found.jaccard, ab, ba, found.rule),
                VerifiedPairs(
                    np.full(len(others), new_rep, np.int64),
                    np.array(others, np.int64),
                    ones,
                    ones.copy(),
                    ones.copy(),
                    np.full(len(others), RULE_EXACT, np.int8),
                ),
            ]
        )
        self._insert_pairs(con, pairs)
        probe.nums = np.array([new_rep], np.int64)
        self._insert_sketch_rows(con, probe, np.array([0]))
        touched = {new_rep, *others, *pairs.a.tolist(), *pairs.b.tolist()}
        clusters = {
            c
            for (c,) in _select_in(
                con,
                "SELECT DISTINCT cluster FROM docs WHERE cluster IS NOT NULL AND num IN ({marks})",
                sorted(touched),
            )
        }
        for c in clusters:
            touched |= {r[0] for r in con.execute("SELECT num FROM docs WHERE cluster=?", (c,))}
        return touched

    def _relabel(self, con: sqlite3.Connection, docs: set[int]) -> None:
        """Recompute the clusters of `docs` (whole clusters, closed under pairs) from their pairs:
        each component of two or more keeps the lowest old id among its members (components
        taken oldest document first), or gets a new id; ids no longer used are dissolved."""
        if not docs:
            return
        nums = np.array(sorted(docs), np.int64)
        old = dict(
            _select_in(con, "SELECT num, cluster FROM docs WHERE num IN ({marks})", nums.tolist())
        )
        nums = np.array(sorted(old), np.int64)
        pair_rows = _select_in(con, "SELECT a, b FROM pairs WHERE a IN ({marks})", nums.tolist())
        pa_ = np.array([r[0] for r in pair_rows], np.int64)
        pb_ = np.array([r[1] for r in pair_rows], np.int64)
        inside = np.isin(pb_, nums)  # pairs never leave a cluster; stay safe if one did
        pa_, pb_ = pa_[inside], pb_[inside]
        labels = connected_components(
            len(nums), np.searchsorted(nums, pa_), np.searchsorted(nums, pb_)
        )
        components: dict[int, list[int]] = {}
        for i, lab in enumerate(labels.tolist()):
            components.setdefault(lab, []).append(int(nums[i]))
        now = time.time()
        old_ids = {c for c in old.values() if c is not None}
        used: set[int] = set()
        touched = []
        for members in sorted(components.values(), key=min):
            if len(members) < 2:
                con.execute("UPDATE docs SET cluster=NULL WHERE num=?", (members[0],))
                continue
            mine = sorted({old[m] for m in members if old[m] is not None} - used)
            if mine:
                cid = mine[0]
            else:
                cid = self._next_cluster(con)
                con.execute(
                    "INSERT INTO clusters (id, original, rule, size, created, updated) VALUES (?, -1, '', 0, ?, ?)",
                    (cid, now, now),
                )
            used.add(cid)
            for chunk in _chunks(members):
                marks = ",".join("?" * len(chunk))
                con.execute(f"UPDATE docs SET cluster=? WHERE num IN ({marks})", (cid, *chunk))
            touched.append(cid)
        for cid in sorted(old_ids - used):
            if con.execute("SELECT count(*) FROM docs WHERE cluster=?", (cid,)).fetchone()[0] == 0:
                con.execute("DELETE FROM clusters WHERE id=?", (cid,))
                con.execute(
                    "INSERT INTO cluster_events (kind, cluster, into_cluster, at) VALUES ('dissolved', ?, NULL, ?)",
                    (cid, now),
                )
        self._refresh_clusters(con, touched, now)

    # --- reading --------------------------------------------------------------------------------
    def get(self, doc_id: str, *, with_text: bool = True) -> dict[str, Any] | None:
        """A document: id, metadata, cluster, original, matches (and text when stored)."""
        with self._read() as con:
            row = con.execute(
                "SELECT num, meta, published, n_tokens, n_shingles, cluster, text_at, text_len, "
                "added, rep FROM docs WHERE id=?",
                (doc_id,),
            ).fetchone()
            if row is None:
                return None
            num, meta, _published, n_tokens, n_shingles, cluster, text_at, text_len = row[:8]
            added, rep = row[8:]
            original = None
            if cluster is not None:
                original = con.execute(
                    "SELECT o.id FROM clusters c JOIN docs o ON o.num = c.original WHERE c.id=?",
                    (cluster,),
                ).fetchone()[0]
            matches = self._matches_of(con, num)
        out: dict[str, Any] = {
            "id": doc_id,
            "meta": orjson.loads(meta),
            "tokens": n_tokens,
            "shingles": n_shingles,
            "cluster": cluster,
            "original": original if cluster is not None else doc_id,
            "exact_duplicate_of": None,
            "added": _iso(added),
            "matches": [m.to_dict() for m in matches],
        }
        if rep is not None:
            out["exact_duplicate_of"] = next((m.id for m in matches if m.rule == "exact"), None)
        if with_text:
            out["text"] = self._text_at(text_at, text_len)
        return out

    def _decompress(self, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        return zstandard.ZstdDecompressor().decompress(blob).decode("utf-8", "surrogatepass")

    def _matches_of(self, con: sqlite3.Connection, num: int) -> list[Match]:
        rows = con.execute(
            "SELECT d.id, p.jaccard, p.a_in_b, p.b_in_a, p.rule, d.cluster FROM pairs p "
            "JOIN docs d ON d.num = p.b WHERE p.a = ? "
            "UNION ALL SELECT d.id, p.jaccard, p.b_in_a, p.a_in_b, p.rule, d.cluster FROM pairs p "
            "JOIN docs d ON d.num = p.a WHERE p.b = ?",
            (num, num),
        ).fetchall()
        return [Match(r[0], r[1], r[2], r[3], RULE_NAMES[r[4]], r[5]) for r in rows]

    def texts(self, doc_ids: Sequence[str]) -> dict[str, str | None]:
        with self._read() as con:
            rows = _select_in(
                con, "SELECT id, text_at, text_len FROM docs WHERE id IN ({marks})", list(doc_ids)
            )
        return {doc_id: self._text_at(at, size) for doc_id, at, size in rows}

    def cluster(self, cluster_id: int) -> dict[str, Any] | None:
        """A cluster: members (in order of arrival), original, the rule that chose it, its
        pairs, and the ids merged into it. A merged id resolves to the cluster it was merged
        into; a dissolved one gives None."""
        with self._read() as con:
            requested = cluster_id
            for _ in range(10_000):  # follow merges (each points to a lower id, so this ends)
                row = con.execute(
                    "SELECT id, original, rule, size, created, updated FROM clusters WHERE id=?",
                    (cluster_id,),
                ).fetchone()
                if row is not None:
                    break
                merged = con.execute(
                    "SELECT into_cluster FROM cluster_events WHERE cluster=? AND kind='merged' "
                    "ORDER BY seq DESC LIMIT 1",
                    (cluster_id,),
                ).fetchone()
                if merged is None:
                    return None
                cluster_id = merged[0]
            else:  # pragma: no cover
                return None
            cid, original, rule, size, created, updated = row
            members = con.execute(
                "SELECT num, id, meta FROM docs WHERE cluster=? ORDER BY num", (cid,)
            ).fetchall()
            id_of = {m[0]: m[1] for m in members}
            pairs = _select_in(
                con,
                "SELECT a, b, jaccard, a_in_b, b_in_a, rule FROM pairs WHERE a IN ({marks}) ORDER BY a, b",
                list(id_of),
            )
            merged_from = [
                r[0]
                for r in con.execute(
                    "SELECT cluster FROM cluster_events WHERE into_cluster=? AND kind='merged' ORDER BY seq",
                    (cid,),
                )
            ]
        return {
            "id": cid,
            "requested": requested,
            "original": id_of[original],
            "original_rule": rule,
            "size": size,
            "members": [
                {"id": doc_id, "meta": orjson.loads(meta), "original": num == original}
                for num, doc_id, meta in members
            ],
            "pairs": [
                {
                    "a": id_of[a],
                    "b": id_of[b],
                    "jaccard": round(j, 6),
                    "containment_a_in_b": round(ab, 6),
                    "containment_b_in_a": round(ba, 6),
                    "rule": RULE_NAMES[r],
                }
                for a, b, j, ab, ba, r in pairs
            ],
            "merged_from": merged_from,
            "created": _iso(created),
            "updated": _iso(updated),
        }

    def stats(self) -> dict[str, Any]:
        with self._read() as con:
            n_docs = con.execute("SELECT count(*) FROM docs").fetchone()[0]
            n_dups = con.execute("SELECT count(*) FROM docs WHERE rep IS NOT NULL").fetchone()[0]
            n_clusters, in_clusters = con.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM clusters"
            ).fetchone()
            n_pairs = con.execute("SELECT count(*) FROM pairs").fetchone()[0]
            n_boilerplate = con.execute("SELECT count(*) FROM boilerplate").fetchone()[0]
            n_sites = con.execute("SELECT count(*) FROM sites").fetchone()[0]
            created = float(con.execute("SELECT value FROM meta WHERE key='created'").fetchone()[0])
        size = sum(
            p.stat().st_size
            for p in (
                self.path,
                Path(f"{self.path}-wal"),
                Path(f"{self.path}-shm"),
                self.blobs_path,
            )
            if p.exists()
        )
        return {
            "path": str(self.path),
            "documents": n_docs,
            "exact_duplicates": n_dups,
            "pairs": n_pairs,
            "clusters": n_clusters,
            "documents_in_clusters": in_clusters,
            "documents_kept": n_docs - (in_clusters - n_clusters),
            "sites": n_sites,
            "boilerplate_shingles": n_boilerplate,
            "size_bytes": size,
            "store_text": self.store_text,
            "created": _iso(created),
            "format_version": FORMAT_VERSION,
            "settings": self.settings.matching_dict(),
        }

    # --- iteration for export -------------------------------------------------------------------
    def iter_docs(self) -> Iterator[tuple[int, str, dict[str, Any], str | None, int | None]]:
        """(num, id, meta, text, cluster) of every document, in order of arrival."""
        with self._read() as con:
            for num, doc_id, meta, text_at, text_len, cluster in con.execute(
                "SELECT num, id, meta, text_at, text_len, cluster FROM docs ORDER BY num"
            ):
                yield num, doc_id, orjson.loads(meta), self._text_at(text_at, text_len), cluster

    def snapshot(self) -> IndexSnapshot:
        """Pairs, clusters and originals of everything indexed, as arrays (for export and tests)."""
        with self._read() as con:
            docs = con.execute("SELECT num, id, meta, cluster FROM docs ORDER BY num").fetchall()
            pairs = con.execute(
                "SELECT a, b, jaccard, a_in_b, b_in_a, rule FROM pairs ORDER BY a, b"
            ).fetchall()
            clusters = con.execute(
                "SELECT id, original, rule, size FROM clusters ORDER BY id"
            ).fetchall()
        return IndexSnapshot(docs, pairs, clusters)

    def check(self) -> list[str]:
        """Consistency problems of the index (none expected): every batch wholly in or out."""
        problems = []
        with self._read() as con:
            if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                problems.append("SQLite integrity check failed")
            reps = con.execute(
                "SELECT count(*), coalesce(sum(n_anchors), 0) FROM docs WHERE rep IS NULL"
            ).fetchone()
            n_lsh = self._postings.count_live(con, LSH)
            n_anchor_rows = self._postings.count_live(con, ANCHORS)
            # every representative has one LSH posting per band and one per anchor
            if n_lsh != reps[0] * self._bands:
                problems.append(
                    f"lsh rows {n_lsh} != {reps[0]} representatives x {self._bands} bands"
                )
            if n_anchor_rows != reps[1]:
                problems.append(
                    f"anchor rows {n_anchor_rows} != {reps[1]} anchors of representatives"
                )
            for sql, what in _CONSISTENCY_COUNTS:
                count = con.execute(sql).fetchone()[0]
                if count:
                    problems.append(f"{count} {what}")
            next_num = int(con.execute("SELECT value FROM meta WHERE key='next_num'").fetchone()[0])
            max_num = con.execute("SELECT coalesce(max(num), -1) FROM docs").fetchone()[0]
            if max_num >= next_num:
                problems.append(f"document number {max_num} >= next_num {next_num}")
        return problems


@dataclass
class IndexSnapshot:
    docs: list[tuple[int, str, str, int | None]]
    pairs: list[tuple[int, int, float, float, float, int]]
    clusters: list[tuple[int, int, str, int]]

    def id_of(self) -> dict[int, str]:
        return {num: doc_id for num, doc_id, _, _ in self.docs}


def _keep_new_pairs(a: np.ndarray, b: np.ndarray, first_new: int, among_new: bool) -> np.ndarray:
    """Pairs (as a sorted unique (n, 2) array) that involve a new document: with an indexed one,
    or also with another new one when among_new."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = (hi >= first_new) & (lo != hi)
    if not among_new:
        keep &= lo < first_new
    return merge_pairs(np.stack([lo[keep], hi[keep]], axis=1))


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def open_index(
    path: str | os.PathLike[str], settings: Settings | None = None, *, create: bool = True
) -> Index:
    """Open (or create) an index; `settings` None means "the index's own settings"."""
    return Index(path, settings, create=create)


def add_batches(
    index: Index,
    batches: Iterable[RecordBatch | JsonlBlock],
    *,
    commit_every: int = 10_000,
    on_result: Any = None,
    workers: int = 1,
    problems: ProblemLog | None = None,
) -> dict[str, int]:
    """Add the documents of `batches` (from `neardup.corpus.readers.Reader`: RecordBatches, or
    with `jsonl_blocks=True` JsonlBlocks, parsed by the workers) in transactions of exactly
    `commit_every` documents (the last may have fewer), whatever the number of workers.

    Parsing, sketching and serializing (`_prepare_worker`) run in `workers` processes
    (`neardup.engines.local.LocalEngine`, as `find` sketches); a thread feeds them and
    assembles the transactions while this thread writes the previous one, so the workers keep
    busy during writes. With one worker that thread does the preparing itself (the compiled
    kernels, zstd and SQLite release the GIL). The problems found parsing JsonlBlocks go to
    `problems` (default: the reader's own, when `batches` is a Reader), in reading order.
    `on_result(batch, k, result)` is called for each document, in input order."""
    counts = {"read": 0, "added": 0, "exists": 0, "skipped": 0, "with_matches": 0, "matches": 0}
    log = problems if problems is not None else getattr(batches, "problems", None)
    log = log if log is not None else ProblemLog()
    settings, store_text = index.settings, index.store_text
    engine = LocalEngine(workers, warmup=lambda: warm_up(settings))
    ready: queue.Queue[Any] = queue.Queue(maxsize=2)  # transactions ready to be written
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            with suppress(queue.Full):
                ready.put(item, timeout=0.1)
                return True
        return False

    def feed() -> None:
        _PARENT["pid"] = os.getpid()  # the workers are forked from this thread
        results = engine.map(_prepare_worker, batches, _prepare_payload, settings, store_text)
        groups = _transactions(results, commit_every, log)
        try:
            for group in groups:
                if not put(group):
                    return
            put(None)
        except BaseException as e:  # raised again in the writing thread
            put(e)
        finally:
            groups.close()
            results.close()  # waits for the blocks in flight
            _PARENT["pid"] = 0

    feeder = threading.Thread(target=feed, name="neardup-index-feed", daemon=True)
    feeder.start()
    try:
        while (group := ready.get()) is not None:
            if isinstance(group, BaseException):
                raise group
            _add_group(index, group, counts, on_result)
    finally:
        stop.set()
        while feeder.is_alive():
            with suppress(queue.Empty):
                ready.get(timeout=0.1)
        feeder.join()
    return counts


def _transactions(
    results: Iterable[tuple[Any, tuple[Prepared, ParsedBlock | None]]],
    size: int,
    problems: ProblemLog,
) -> Iterator[tuple[list[RecordBatch], Prepared]]:
    """The prepared blocks cut and joined into transactions of exactly `size` documents (the
    last may have fewer): the record batches (without texts) and their `Prepared`."""
    batches: list[RecordBatch] = []
    parts: list[Prepared] = []
    have = 0
    for item, (prep, parsed) in results:
        batch = parsed.batch if parsed is not None else item
        start = 0
        # with on_error="fail" the first bad record stops the run: the transactions completed by
        # the records before it are written first, as when reading record by record
        before = len(batch)
        if parsed is not None and parsed.skipped:
            before = bisect.bisect_left(batch.lines, parsed.skipped[0].line or 0)
        for end in (before, len(batch)):
            while start < end:
                stop = min(end, start + size - have)
                batches.append(_slice_batch(batch, start, stop))
                parts.append(prep if (start, stop) == (0, len(prep)) else prep.slice(start, stop))
                have += stop - start
                start = stop
                if have == size:
                    yield batches, Prepared.concat(parts)
                    batches, parts, have = [], [], 0
            if parsed is not None and end == before:
                # as `run_find`: the block's problems in reading order, then the source's
                parsed.report(problems, item.after)
    if batches:
        yield batches, Prepared.concat(parts)


def _slice_batch(batch: RecordBatch, start: int, stop: int) -> RecordBatch:
    """Records start..stop-1 of a RecordBatch, without their texts (prepared already)."""
    fields = ("ids", "meta", "ordinals", "lines")
    cut = {f: getattr(batch, f)[start:stop] for f in fields}
    return RecordBatch(batch.source_index, texts=[], **cut)


def _add_group(
    index: Index,
    group: tuple[list[RecordBatch], Prepared],
    counts: dict[str, int],
    on_result: Any,
) -> None:
    batches, prep = group
    ids = [i for b in batches for i in b.ids]
    metas = [m for b in batches for m in b.meta]
    results = index.add(ids, None, metas, prepared=prep)
    counts["read"] += len(ids)
    k = 0
    for batch in batches:
        for j in range(len(batch)):
            res = results[k]
            k += 1
            counts[res.status] = counts.get(res.status, 0) + 1
            if res.matches:
                counts["with_matches"] += 1
                counts["matches"] += len(res.matches)
            if on_result:
                on_result(batch, j, res)
