"""Benchmark of the persistent index: adding speed, query latency, size on disk, memory.

Builds one index incrementally up to each size in --sizes (100,000 and 1,000,000 documents by
default) from a synthetic news corpus (`benchmarks/generate.py`), and at each size measures:

- documents per second added (`neardup.index.add_batches`, one transaction per --commit-every
  documents, JSONL parsed and sketched in --workers processes, as `neardup index add` does), with
  `neardup find` (same workers) on the first size for reference;
- the latency of single-document queries (`Index.query`, one new article at a time, articles the
  index has not seen: a share of them are copies of indexed ones) in a separate process, so its
  peak memory is the query process's own: median, p90, p99 and max;
- the index size on disk (after a WAL checkpoint) and the peak resident memory of the building
  and of the querying process.

Usage::

    python benchmarks/bench_index.py --sizes 100000,1000000 --out benchmarks/RESULTS-index.md

The corpus is written once to --workdir (about 3.7 KB a document) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
N_QUERIES = 1000
N_SINGLE_ADDS = 300


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it is not inherited from
    the parent across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_corpus(path: Path, n_docs: int) -> None:
    """Write the synthetic corpus (n_docs documents) unless a long enough one exists."""
    if path.exists():
        with path.open("rb") as f:
            have = sum(1 for _ in f)
        if have >= n_docs:
            return
    print(f"generating {n_docs:,} documents -> {path}", file=sys.stderr, flush=True)
    subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--docs", str(n_docs), "--seed", "11",
         "--out", str(path)],
        check=True,
    )  # fmt: skip


def _cpu_with_children() -> float:
    """CPU seconds (user + sys) of this process and its finished children (find's workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


# the files of an index: the database, its WAL and shared memory, the side file of shingle sets
# and texts (`neardup.index.store.BLOBS_SUFFIX`)
SUFFIXES = ("", "-wal", "-shm", "-blobs")


def index_size(path: Path) -> int:
    return sum(p.stat().st_size for s in SUFFIXES if (p := Path(f"{path}{s}")).exists())


def remove_index(path: Path) -> None:
    for suffix in SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def measure_queries(index_path: Path, corpus: Path, start: int, n: int) -> dict[str, Any]:
    """Query latency, measured in a fresh process (`--query-only`)."""
    out = subprocess.run(
        [sys.executable, __file__, "--query-only", str(index_path), "--corpus", str(corpus),
         "--query-start", str(start), "--queries", str(n)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def single_adds(index_path: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency and CPU time of adding documents one `Index.add` call at a time (the service's
    case), to a copy of the index (the measured one stays as built)."""
    from neardup.index import Index

    copy = index_path.with_suffix(".single.ndx")
    for suffix in ("", "-wal", "-blobs"):
        source = Path(f"{index_path}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{copy}{suffix}")
    index = Index(copy, create=False)
    latencies = []
    cpu = time.process_time()
    for r in records:
        meta = {k: v for k, v in r.items() if k not in ("id", "text")}
        t = time.perf_counter()
        index.add([r["id"]], [r["text"]], [meta])
        latencies.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu
    index.close()
    remove_index(copy)
    ms = np.array(latencies) * 1000
    return {
        "single_adds": len(ms),
        "single_median_ms": round(float(np.median(ms)), 3),
        "single_p90_ms": round(float(np.percentile(ms, 90)), 3),
        "single_cpu_ms": round(1000 * cpu / len(ms), 3),
    }


def query_only(index_path: Path, corpus: Path, start: int, n: int) -> None:
    import orjson

    from neardup.index import Index

    records = []
    with corpus.open("rb") as f:
        for line in islice(f, start, start + n):
            records.append(orjson.loads(line))
    texts = [r["text"] for r in records]
    index = Index(index_path, create=False)
    t = time.perf_counter()
    index.query([texts[0]])  # loads the compiled kernels and opens the connection
    first_ms = (time.perf_counter() - t) * 1000
    latencies = []
    matched = 0
    for text in texts:
        t = time.perf_counter()
        (res,) = index.query([text])
        latencies.append(time.perf_counter() - t)
        matched += bool(res.matches)
    ms = np.array(latencies) * 1000
    index.close()
    single = single_adds(index_path, records[:N_SINGLE_ADDS])
    print(
        json.dumps(
            {
                **single,
                "queries": len(ms),
                "with_matches": matched,
                "first_ms": round(first_ms, 1),
                "median_ms": round(float(np.median(ms)), 3),
                "p90_ms": round(float(np.percentile(ms, 90)), 3),
                "p99_ms": round(float(np.percentile(ms, 99)), 3),
                "max_ms": round(float(ms.max()), 3),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="index sizes to measure at")
    ap.add_argument("--queries", type=int, default=N_QUERIES)
    ap.add_argument("--commit-every", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=0, help="worker processes (default: all cores)")
    ap.add_argument("--workdir", type=Path, default=HERE / "data")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS-index.md")
    ap.add_argument("--no-find", action="store_true", help="skip the `neardup find` reference")
    ap.add_argument(
        "--boilerplate", default=None, help="site|corpus|off (default: the index's default)"
    )
    ap.add_argument("--query-only", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--query-start", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.query_only:
        query_only(args.query_only, args.corpus, args.query_start, args.queries)
        return 0

    from neardup.corpus.readers import ProblemLog, Reader
    from neardup.corpus.sources import open_source
    from neardup.engines.local import default_workers
    from neardup.index import Index, add_batches
    from neardup.index.store import index_defaults

    args.workers = args.workers or default_workers()

    sizes = sorted(int(x) for x in args.sizes.split(","))
    top = sizes[-1]
    args.workdir.mkdir(parents=True, exist_ok=True)
    # the corpus holds the indexed documents plus unseen ones to query with
    corpus = args.workdir / f"index-bench-{top}.jsonl"
    ensure_corpus(corpus, top + args.queries)
    index_path = args.workdir / f"index-bench-{top}.ndx"
    remove_index(index_path)

    settings = index_defaults().replace(batch_size=1000)  # find's defaults
    if args.boilerplate:
        settings = settings.replace(boilerplate=args.boilerplate)
    args.settings = settings
    args.load_start = os.getloadavg()
    rows: list[dict[str, Any]] = []
    find_rate = None
    # compile (or load) every kernel of both paths before any clock starts: the numba cache is
    # keyed by the sources' times, so after an edit the first run compiles for ~20 s
    warm = args.workdir / "index-bench-warm.jsonl"
    with corpus.open("rb") as f, warm.open("wb") as out:
        out.writelines(islice(f, 3000))
    warm_index = args.workdir / "index-bench-warm.ndx"
    remove_index(warm_index)
    with Index(warm_index, settings) as w:
        add_batches(w, Reader([open_source(warm)], settings, ProblemLog()), commit_every=1000)
    remove_index(warm_index)
    if not args.no_find:
        import neardup

        neardup.find([warm], settings, workers=args.workers)
        head = args.workdir / f"index-bench-head-{sizes[0]}.jsonl"
        with corpus.open("rb") as f, head.open("wb") as out:
            out.writelines(islice(f, sizes[0]))
        from neardup.api import find_sources

        # three ways: the default command (all outputs: pairs, clusters, deduplicated.jsonl,
        # alignments.jsonl, report.html), `--no-report` (no alignments or report), and the
        # matching alone (`neardup.find` without `out`: nothing written)
        results_dir = args.workdir / "index-bench-find-out"
        runs = (
            ("all outputs", dict(report=True, out=results_dir)),
            ("--no-report", dict(report=False, out=results_dir)),
            ("nothing written", dict(report=False, out=None)),
        )
        args.find_runs = []
        for name, how in runs:
            shutil.rmtree(results_dir, ignore_errors=True)
            t = time.perf_counter()
            cpu = _cpu_with_children()
            find_sources([open_source(head)], settings, workers=args.workers, **how)
            seconds = time.perf_counter() - t
            cpu = _cpu_with_children() - cpu
            args.find_runs.append((name, sizes[0] / seconds, 1000 * cpu / sizes[0]))
            print(f"find ({name}): {sizes[0] / seconds:,.0f} docs/s", file=sys.stderr, flush=True)
        shutil.rmtree(results_dir, ignore_errors=True)
        find_rate = args.find_runs[0][1]
        args.find_cpu = args.find_runs[0][2] * sizes[0] / 1000
        head.unlink()
    warm.unlink()

    index = Index(index_path, settings)
    done = 0
    total_seconds = 0.0
    with corpus.open("rb") as lines:
        for size in sizes:
            # this step's documents, as a file of their own (JSONL is parsed in the workers, in
            # blocks of bytes: a reader cannot stop after a number of records)
            part = args.workdir / f"index-bench-part-{size}.jsonl"
            with part.open("wb") as out:
                out.writelines(islice(lines, size - done))
            reader = Reader([open_source(part)], settings, ProblemLog(), jsonl_blocks=True)
            t = time.perf_counter()
            cpu = _cpu_with_children()
            counts = add_batches(
                index, reader, commit_every=args.commit_every, workers=args.workers
            )
            seconds = time.perf_counter() - t
            cpu = _cpu_with_children() - cpu
            part.unlink()
            total_seconds += seconds
            done += counts["read"]
            index._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            stats = index.stats()
            # the articles that come right after the indexed ones: new, and often copies of them
            q = measure_queries(index_path, corpus, done, args.queries)
            row = {
                "size": done,
                "segment_docs_per_s": counts["read"] / seconds,
                "overall_docs_per_s": done / total_seconds,
                "cpu_per_1000": 1000 * cpu / counts["read"],
                "boilerplate_shingles": stats["boilerplate_shingles"],
                "size_bytes": index_size(index_path),
                "build_peak_rss_mb": peak_rss_mb(),
                "clusters": stats["clusters"],
                "pairs": stats["pairs"],
                **{f"q_{k}": v for k, v in q.items()},
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            write_results(args.out, rows, find_rate, args)
    index.close()
    return 0


def write_results(
    out: Path, rows: list[dict[str, Any]], find_rate: float | None, args: Any
) -> None:
    lines = [
        "# Index benchmark",
        "",
        "Written by `benchmarks/bench_index.py` (rerun: `.venv/bin/python benchmarks/bench_index.py"
        f" --sizes {args.sizes} --commit-every {args.commit_every} --workers {args.workers}"
        + (f" --boilerplate {args.boilerplate}" if args.boilerplate else "")
        + "`).",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}."
        f" Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Load average (1, 5, 15"
        f" min) at the start: {', '.join(f'{x:.2f}' for x in args.load_start)}; at the end:"
        f" {', '.join(f'{x:.2f}' for x in os.getloadavg())}. Settings: boilerplate="
        f"{args.settings.boilerplate}, otherwise `find`'s defaults.",
        "",
        "Corpus: `benchmarks/generate.py --seed 11` (synthetic news, ~605 words a document, 30%"
        " copies). The index is built incrementally, JSONL parsed and sketched in"
        f" {args.workers} worker process(es), one transaction per"
        f" {args.commit_every:,} documents, default settings, texts stored. Queries: {args.queries:,}"
        " single-document `Index.query` calls with the articles that follow the indexed ones in the corpus (not yet indexed), in a fresh"
        " process (warm: the first query, which loads the kernels, is reported apart). Single"
        f" adds: then the first {N_SINGLE_ADDS} of those articles added one `Index.add` call at"
        " a time (the service's case) to a copy of the index, in the same process.",
        "",
        "| indexed documents | docs/s added (this step) | docs/s added (overall) | CPU s/1000 docs | boilerplate shingles | query median | query p90 | query p99 | query max | first query | queries with a match | single add median | single add p90 | single add CPU | index on disk | peak RSS, build | peak RSS, query process |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']:,} | {r['segment_docs_per_s']:,.0f} | {r['overall_docs_per_s']:,.0f} "
            f"| {r['cpu_per_1000']:.3f} | {r['boilerplate_shingles']:,} "
            f"| {r['q_median_ms']:.2f} ms | {r['q_p90_ms']:.2f} ms | {r['q_p99_ms']:.2f} ms "
            f"| {r['q_max_ms']:.1f} ms | {r['q_first_ms']:.0f} ms | {r['q_with_matches']}/{r['q_queries']} "
            f"| {r['q_single_median_ms']:.1f} ms | {r['q_single_p90_ms']:.1f} ms "
            f"| {r['q_single_cpu_ms']:.1f} ms "
            f"| {r['size_bytes'] / 1e9:.2f} GB ({r['size_bytes'] / r['size']:,.0f} B/doc) "
            f"| {r['build_peak_rss_mb']:,.0f} MB | {r['q_peak_rss_mb']:,.0f} MB |"
        )
    if find_rate and rows:
        lines += [
            "",
            f"Reference: `neardup find` (same settings) on the first {rows[0]['size']:,}"
            f" documents with {args.workers} worker process(es), in the same run, before the"
            " index is built (CPU includes its worker processes, as the adding figures do):",
            "",
            "| `find` | docs/s | CPU s/1000 docs | first step added / `find` docs/s |",
            "|---|---|---|---|",
        ]
        for name, rate, cpu in args.find_runs:
            lines.append(
                f"| {name} | {rate:,.0f} | {cpu:.3f} | {rows[0]['segment_docs_per_s'] / rate:.2f} |"
            )
    lines += [
        "",
        "Peak RSS counts the pages of the database file mapped into memory (SQLite mmap), which"
        " the operating system shares and can drop; it is an upper bound on what the process needs.",
        "",
    ]
    out.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
