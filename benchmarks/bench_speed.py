"""Speed benchmark of issue 4: neardup, datasketch and rensa side by side, in one run.

Every measured workload runs in a fresh process, and the runs of the tools are interleaved (round
1 of every tool, then round 2, ...) so that a noisy neighbour on the machine hits them alike; each
figure is the median of --repeats runs. Measured:

1. Signatures, one process (`benchmarks/peers.py signatures TOOL CORPUS`): documents/s of
   "read JSONL + normalize + tokenize + word 5-gram shingles + 128-hash MinHash" on a 10,000
   document corpus, for neardup, datasketch (xxhash, and its sha1 default), rensa (RMinHash per
   document, and its batch API) and two plain-Python baselines. Plus the accuracy of each tool's
   Jaccard estimate against the exact Jaccard of the shingle sets it sketched, over ~2,000
   labelled near-duplicate pairs.
2. End to end: `neardup find CORPUS --out DIR` (the CLI, all outputs) with 1 and 2 workers, and
   the peers' pipelines (MinHash + LSH at 0.5 + union-find + a clusters file,
   `benchmarks/peers.py pipeline`), on 10,000 and 100,000 documents (1,000,000 with --large):
   wall time, CPU time and peak memory.
3. Candidate recall of neardup (and the peers' clusters) against exact-Jaccard truth: all pairs
   within the generator's truth clusters plus neardup's verified pairs, exact Jaccard on
   neardup's own shingle sets; recall = share of the pairs with Jaccard >= 0.5 that neardup
   paired (pairs.jsonl) or put in one cluster.
4. neardup's per-stage profile, from run.json ("timings_seconds").

Peak memory is the larger of the kernel's record for the largest process of the run (ru_maxrss
from wait4) and the sampled footprint of the whole process tree (every 0.1 s: resident memory of
the main process plus the private memory of its workers, so pages shared by fork count once).

Usage::

    python benchmarks/bench_speed.py [--repeats 3] [--large] [--out benchmarks/RESULTS.md]

Corpora are written by `benchmarks/generate.py` (seed 7, 30% near duplicates) to
benchmarks/data/ on first use and reused. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402

SIGNATURES_TARGET = 25_000  # documents/s per core (issue 4)
E2E_WALL_TARGET = 10.0  # seconds, 100k documents, 2 workers
E2E_MEMORY_TARGET = 500.0  # MB
LARGE_WALL_TARGET = 120.0  # seconds, 1M documents
LARGE_MEMORY_TARGET = 2000.0  # MB
RECALL_TARGET = 0.99
SIGNATURE_LABELS = {
    "neardup": "neardup (`sketch_texts`, batches of 2,048)",
    "datasketch": "datasketch (MinHash, xxhash)",
    "datasketch-sha1": "datasketch (MinHash, default sha1)",
    "rensa": "rensa (RMinHash per document)",
    "rensa-bulk": "rensa (`digest_matrix_from_token_sets`, batches of 2,048)",
    "python-shingles": "plain Python: read JSON, regex-tokenize, build 5-gram shingles",
    "python-json": "plain Python: read and parse the JSON only",
}
PEER_SIGNATURES = ("datasketch", "datasketch-sha1", "rensa", "rensa-bulk")
ACCURACY_TOOLS = ("neardup", *PEER_SIGNATURES)


# --------------------------------------------------------------------------------------------
# Running one measured process
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    maxrss_mb: float
    sampled_mb: float
    returncode: int
    timed_out: bool
    result: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    compiled: bool = False


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _private_mb(pid: int) -> float:
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total / 1024


class TreeMemorySampler(threading.Thread):
    """Largest footprint of a process tree seen: the root's resident memory plus the private
    memory of its descendants (forked workers share the root's pages copy-on-write)."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.done.is_set():
            try:
                total = _rss_mb(self.pid)
                for child in psutil.Process(self.pid).children(recursive=True):
                    with contextlib.suppress(OSError):
                        total += _private_mb(child.pid)
                self.peak_mb = max(self.peak_mb, total)
            except (OSError, psutil.Error):
                pass
            self.done.wait(self.interval)


def run_measured(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> Run:
    """Run cmd in a fresh process (its own session); wall and CPU time, peak memory, its last
    stdout line parsed as JSON when it is one."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, cwd=ROOT, env=env, start_new_session=True
        )
        sampler = TreeMemorySampler(proc.pid)
        sampler.start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # our own child's process group

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    result: dict[str, Any] = {}
    lines = stdout.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):
            result = json.loads(lines[-1])
    # wait4's ru_maxrss: the largest process of the tree (Linux reports KiB); it starts from
    # this (small) process's resident memory, inherited across exec, hence the child's own
    # VmHWM where it reports one
    maxrss_mb = usage.ru_maxrss / 1024
    own_mb = result.get("peak_rss_mb", 0.0)
    return Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_mb=max(own_mb or maxrss_mb, sampler.peak_mb),
        maxrss_mb=maxrss_mb,
        sampled_mb=sampler.peak_mb,
        returncode=proc.returncode,
        timed_out=timed_out.is_set(),
        result=result,
        stderr_tail=stderr[-2000:],
        compiled="[cache] data saved to" in stdout,
    )


@dataclass
class Cell:
    """One measured configuration (a tool on a corpus) and its runs."""

    key: str
    name: str
    cmd: list[str]
    out_dir: Path | None = None
    warm_cmd: list[str] | None = None  # run untimed before each run (neardup's kernel cache)
    runs: list[Run] = field(default_factory=list)
    compiled_runs: int = 0  # runs discarded because they compiled kernels

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.returncode == 0 and not r.timed_out]

    def median(self, key: str) -> float:
        values = [getattr(r, key) for r in self.ok_runs]
        return statistics.median(values) if values else float("nan")

    def median_result(self, key: str) -> float:
        values = [r.result[key] for r in self.ok_runs if key in r.result]
        return statistics.median(values) if values else float("nan")

    @property
    def failure(self) -> str | None:
        bad = [r for r in self.runs if r.returncode != 0 or r.timed_out]
        if not bad:
            return None
        r = bad[-1]
        if r.timed_out:
            return f"timed out after {r.wall:.0f} s"
        return f"exit {r.returncode}: {r.stderr_tail.strip().splitlines()[-1:] or ''}"


# numba prints "[cache] data saved to ..." for every kernel it compiles and caches; neardup keys
# its cache by its sources, so any edit (other developers work in the same tree) invalidates it
NUMBA_REPORTING = {**os.environ, "NUMBA_DEBUG_CACHE": "1"}


def run_once(cell: Cell, timeout: float) -> Run:
    if cell.warm_cmd:  # a failure here shows again in the measured run
        subprocess.run(cell.warm_cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    if cell.out_dir is not None:
        shutil.rmtree(cell.out_dir, ignore_errors=True)
    return run_measured(cell.cmd, timeout, NUMBA_REPORTING if cell.warm_cmd else None)


def run_rounds(cells: list[Cell], repeats: int, budget: float, timeout: float) -> None:
    """Run every cell `repeats` times, interleaved; a cell whose runs have taken `budget`
    seconds (or would with one more) stops repeating after its first run."""
    for round_no in range(repeats):
        for cell in cells:
            spent = sum(r.wall for r in cell.runs)
            if cell.runs and (spent + cell.runs[-1].wall > budget or cell.failure):
                continue
            run = run_once(cell, timeout)
            if cell.warm_cmd and run.compiled:
                # the sources changed under us (other developers edit the package): the run
                # compiled neardup's kernels, which users pay once; measure it again
                cell.compiled_runs += 1
                log(f"  {cell.name}: the run compiled kernels ({run.wall:.1f} s); running again")
                run = run_once(cell, timeout)
            run_json = cell.out_dir / "run.json" if cell.out_dir is not None else None
            if run_json is not None and run_json.exists():  # neardup's own per-stage timings
                run.result["timings_seconds"] = json.loads(run_json.read_text()).get(
                    "timings_seconds", {}
                )
            cell.runs.append(run)
            status = "ok" if run.returncode == 0 and not run.timed_out else cell.failure
            log(
                f"  [{round_no + 1}/{repeats}] {cell.name}: {run.wall:.2f} s wall, "
                f"{run.cpu:.2f} s CPU, {run.peak_mb:,.0f} MB peak, "
                f"{run.result.get('seconds', float('nan')):.2f} s timed ({status})"
            )


# --------------------------------------------------------------------------------------------
# Corpora, machine, helpers
# --------------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {msg}", file=sys.stderr, flush=True)


def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            n += chunk.count(b"\n")
    return n


def corpus_path(data: Path, n_docs: int) -> Path:
    return data / f"news-{n_docs}.jsonl"


def generate_command(n_docs: int, out: Path, seed: int, dup_rate: float) -> list[str]:
    return [
        sys.executable,
        str(HERE / "generate.py"),
        "--docs",
        str(n_docs),
        "--dup-rate",
        str(dup_rate),
        "--seed",
        str(seed),
        "--out",
        str(out),
    ]


def ensure_corpus(data: Path, n_docs: int, seed: int, dup_rate: float) -> Path:
    """The generated corpus of n_docs documents (and its truth file), written on first use and
    again whenever the generator or its arguments change (a stamp file records them)."""
    path = corpus_path(data, n_docs)
    stamp_path = path.with_name(path.name.removesuffix(".jsonl") + ".stamp.json")
    stamp = {"generator": file_digest(HERE / "generate.py"), "seed": seed, "dup_rate": dup_rate}
    if (
        path.exists()
        and truth_path(path).exists()
        and stamp_path.exists()
        and json.loads(stamp_path.read_text()) == stamp
        and count_lines(path) == n_docs
    ):
        return path
    log(f"generating {n_docs:,} documents -> {rel(path)}")
    stamp_path.unlink(missing_ok=True)
    # --workers 2 renders in two processes; the output is the same as with one
    cmd = [*generate_command(n_docs, path, seed, dup_rate), "--workers", "2"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    stamp_path.write_text(json.dumps(stamp) + "\n")
    return path


def truth_path(corpus: Path) -> Path:
    return corpus.with_name(corpus.name.removesuffix(".jsonl") + ".truth.jsonl")


def machine() -> dict[str, Any]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    packages = {}
    for name in ("neardup", "numpy", "numba", "orjson", "datasketch", "rensa", "xxhash", "psutil"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "src", strip=False)
    return {
        "cpu": cpu_model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory": mem_total,
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": packages,
        "git_commit": commit,
        "src_modified": [line[3:] for line in dirty.splitlines()],
    }


def _git(*args: str, strip: bool = True) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        return out.strip() if strip else out
    except (OSError, subprocess.CalledProcessError):
        return ""


def neardup_exe() -> str:
    exe = Path(sys.executable).parent / "neardup"
    return str(exe) if exe.exists() else "neardup"


def neardup_find_cmd(corpus: Path, out_dir: Path, workers: int) -> list[str]:
    return [
        neardup_exe(),
        "find",
        str(corpus),
        "--out",
        str(out_dir),
        "--workers",
        str(workers),
        "--no-progress",
        "--quiet",
    ]


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def show_cmd(cmd: list[str]) -> str:
    parts = []
    for part in cmd:
        if part == sys.executable:
            part = "python"
        elif part.startswith(str(ROOT) + "/"):
            part = part[len(str(ROOT)) + 1 :]
        if part.endswith("/bin/neardup"):
            part = "neardup"
        parts.append(part)
    return " ".join(parts)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# 1. Signatures and accuracy
# --------------------------------------------------------------------------------------------


def signature_cells(corpus: Path) -> list[Cell]:
    return [
        Cell(
            tool,
            f"{tool} @ {corpus.name}",
            [sys.executable, str(HERE / "peers.py"), "signatures", tool, str(corpus)],
        )
        for tool in peers.SIGNATURE_TOOLS
    ]


def accuracy(corpus: Path, n_pairs: int) -> dict[str, dict[str, float]]:
    """Error of each tool's Jaccard estimate over labelled (copy, parent) pairs."""
    wanted: list[tuple[str, str]] = []
    with truth_path(corpus).open("rb") as f:
        for line in f:
            record = json.loads(line)
            if "exact" in record["edits"]:
                continue  # identical texts: every tool is exact on them
            wanted.append((record["id"], record["parent"]))
            if len(wanted) >= n_pairs:
                break
    need = {i for pair in wanted for i in pair}
    texts = {}
    for record in peers.read_records(corpus):
        if record["id"] in need:
            texts[record["id"]] = record["text"]
    pairs = [(a, b) for a, b in wanted if a in texts and b in texts]
    texts_a = [texts[a] for a, _ in pairs]
    texts_b = [texts[b] for _, b in pairs]
    out = {}
    for tool in ACCURACY_TOOLS:
        est, exact = peers.estimates(tool, texts_a, texts_b)
        errors = [e - x for e, x in zip(est, exact, strict=True)]
        out[tool] = {
            "pairs": len(pairs),
            "mean_exact_jaccard": statistics.fmean(exact),
            "mae": statistics.fmean(abs(e) for e in errors),
            "mae_standard_error": statistics.stdev(abs(e) for e in errors) / len(errors) ** 0.5,
            "rmse": statistics.fmean(e * e for e in errors) ** 0.5,
            "max_abs_error": max(abs(e) for e in errors),
            "bias": statistics.fmean(errors),
        }
        log(f"  accuracy {tool}: MAE {out[tool]['mae']:.4f} over {len(pairs)} pairs")
    return out


# --------------------------------------------------------------------------------------------
# 2. End to end, 3. recall, 4. profile
# --------------------------------------------------------------------------------------------


def e2e_cells(
    corpus: Path, runs_dir: Path, workers: list[int], with_peers: bool, warm_cmd: list[str]
) -> list[Cell]:
    n = corpus.name.removesuffix(".jsonl")
    cells = []
    for w in workers:
        out = runs_dir / f"neardup-w{w}-{n}"
        name = f"neardup find --workers {w} @ {n}"
        cells.append(
            Cell(f"neardup-w{w}", name, neardup_find_cmd(corpus, out, w), out, warm_cmd=warm_cmd)
        )
    if with_peers:
        for tool in peers.PIPELINE_TOOLS:
            out = runs_dir / f"{tool}-{n}"
            cmd = [sys.executable, str(HERE / "peers.py"), "pipeline", tool, str(corpus), str(out)]
            cells.append(Cell(tool, f"{tool} pipeline @ {n}", cmd, out))
    return cells


def neardup_counts(cell: Cell) -> dict[str, Any]:
    run_json = cell.out_dir / "run.json" if cell.out_dir else None
    if run_json is None or not run_json.exists():
        return {}
    return json.loads(run_json.read_text())


def neardup_profile(cell: Cell) -> dict[str, float]:
    """Median seconds per stage over the runs of the cell (run.json of each run)."""
    stages: dict[str, list[float]] = {}
    for run in cell.ok_runs:
        for stage, seconds in run.result.get("timings_seconds", {}).items():
            stages.setdefault(stage, []).append(seconds)
    return {stage: statistics.median(v) for stage, v in stages.items()}


def recall(corpus: Path, neardup_out: Path, peer_outs: dict[str, Path], threshold: float) -> dict:
    """Candidate recall of neardup (and the peers' clusters) against exact Jaccard truth."""
    import numpy as np

    from neardup.config import Settings
    from neardup.sketch import sketch_texts

    clusters_of_truth: dict[str, list[str]] = {}
    with truth_path(corpus).open("rb") as f:
        for line in f:
            record = json.loads(line)
            clusters_of_truth.setdefault(record["original"], [record["original"]]).append(
                record["id"]
            )
    truth_pairs = set()
    for members in clusters_of_truth.values():
        for a, b in itertools.combinations(sorted(set(members)), 2):
            truth_pairs.add((a, b))
    found_pairs = set()
    with (neardup_out / "pairs.jsonl").open("rb") as f:
        for line in f:
            record = json.loads(line)
            found_pairs.add(tuple(sorted((record["a"], record["b"]))))
    cluster_of = _clusters_of(neardup_out / "clusters.jsonl")
    universe = truth_pairs | found_pairs
    need = {i for pair in universe for i in pair}

    # exact Jaccard on neardup's own shingle sets (its normalization and tokenizer)
    settings = Settings()
    sets: dict[str, np.ndarray] = {}
    for records in peers.batched(peers.read_records(corpus), peers.BATCH):
        keep = [r for r in records if r["id"] in need]
        if not keep:
            continue
        sk = sketch_texts([r["text"] for r in keep], settings)
        for i, r in enumerate(keep):
            sets[r["id"]] = sk.shingle_set(i).copy()
    exact = {pair: peers.jaccard_sorted(sets[pair[0]], sets[pair[1]]) for pair in universe}
    positives = [pair for pair, j in exact.items() if j >= threshold]
    truth_positives = [pair for pair in truth_pairs if exact[pair] >= threshold]

    def share(pairs: list[tuple[str, str]], hit) -> float:
        return sum(1 for p in pairs if hit(p)) / len(pairs) if pairs else float("nan")

    def same_cluster(clusters: dict[str, int]):
        return lambda p: p[0] in clusters and clusters.get(p[0]) == clusters.get(p[1])

    in_pairs = found_pairs.__contains__
    nd_cluster = same_cluster(cluster_of)
    missed = [p for p in positives if not (in_pairs(p) or nd_cluster(p))]
    out = {
        "truth_clusters": len(clusters_of_truth),
        "truth_pairs": len(truth_pairs),
        "neardup_pairs": len(found_pairs),
        "pairs_scored": len(universe),
        "positives": len(positives),
        "truth_positives": len(truth_positives),
        "truth_pairs_below_threshold": len(truth_pairs) - len(truth_positives),
        "neardup_pairs_below_threshold": sum(1 for p in found_pairs if exact[p] < threshold),
        "recall_pairs": share(positives, in_pairs),
        "recall_pairs_or_cluster": share(positives, lambda p: in_pairs(p) or nd_cluster(p)),
        "recall_truth_only": share(truth_positives, lambda p: in_pairs(p) or nd_cluster(p)),
        "missed_examples": [
            {"a": a, "b": b, "jaccard": round(exact[(a, b)], 4)} for a, b in sorted(missed)[:10]
        ],
        "missed_jaccard_max": max((exact[p] for p in missed), default=float("nan")),
        "peers": {},
    }
    for tool, out_dir in peer_outs.items():
        clusters_file = out_dir / "clusters.jsonl"
        if clusters_file.exists():
            out["peers"][tool] = share(positives, same_cluster(_clusters_of(clusters_file)))
    return out


def _clusters_of(path: Path) -> dict[str, int]:
    cluster_of: dict[str, int] = {}
    with path.open("rb") as f:
        for k, line in enumerate(f):
            for member in json.loads(line)["members"]:
                cluster_of[member["id"] if isinstance(member, dict) else member] = k
    return cluster_of


def run_child_task(task: str, **kwargs: Any) -> dict[str, Any]:
    """Run accuracy or recall in a fresh process, so that this process stays small (a child's
    ru_maxrss starts from its parent's resident memory)."""
    payload = json.dumps({"task": task, **kwargs}, default=str)
    out = subprocess.run(
        [sys.executable, __file__, "--child", payload],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_main(payload: str) -> int:
    task = json.loads(payload)
    if task["task"] == "accuracy":
        result = accuracy(Path(task["corpus"]), task["pairs"])
    elif task["task"] == "recall":
        result = recall(
            Path(task["corpus"]),
            Path(task["neardup_out"]),
            {k: Path(v) for k, v in task["peer_outs"].items()},
            task["threshold"],
        )
    else:
        raise SystemExit(f"unknown task {task['task']!r}")
    print(json.dumps(result))
    return 0


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def fmt_int(x: float) -> str:
    return "n/a" if x != x else f"{x:,.0f}"


def fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{x:,.{digits}f}"


def ratio(a: float, b: float) -> str:
    if a != a or b != b or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def shortfall(measured: float, target: float, higher_is_better: bool) -> str:
    if measured != measured:
        return "not measured"
    if higher_is_better:
        return "met" if measured >= target else f"missed: {target / measured:.1f}x short"
    return "met" if measured <= target else f"missed: {measured / target:.1f}x over"


def write_report(path: Path, data: dict[str, Any]) -> None:
    m = data["machine"]
    lines = [
        "# Speed benchmark (issue 4): neardup, datasketch and rensa in one run",
        "",
        f"Written by `benchmarks/bench_speed.py` on {data['started']} (UTC), "
        f"{data['elapsed_minutes']:.1f} minutes; neardup at commit `{m['git_commit']}`"
        + (
            f" with uncommitted changes to {', '.join(m['src_modified'])}"
            if m["src_modified"]
            else ""
        )
        + ". Every figure is the median of the runs shown (each run a fresh process); the tools'"
        " runs were interleaved.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu']} |",
        f"| cores | {m['usable_cpus']} usable ({m['logical_cpus']} logical) |",
        f"| memory | {m['memory']} |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        "| packages | " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + " |",
        f"| load average (1 min) | {data['load_start']:.1f} at the start, "
        f"{data['load_end']:.1f} at the end |",
        "",
    ]
    # the load at the end includes the benchmark's own last runs: judge by the start
    if data["load_start"] > m["usable_cpus"]:
        lines += [
            f"**The machine was busy** (load average above its {m['usable_cpus']} cores): other "
            "processes took CPU time from the measured ones, so wall times are longer and "
            "throughputs lower than on an idle machine. The ratios between tools are fairer than "
            "the absolute figures, since the tools' runs were interleaved; CPU seconds are shown "
            "beside wall seconds.",
            "",
        ]
    lines += ["## Commands", "", "```"]
    lines += data["commands"]
    lines += ["```", ""]

    # 1. signatures
    for size, sig in data["signatures"].items():
        nd = sig["neardup"]["docs_per_s"]
        lines += [
            f"## 1. Signatures, one process ({int(size):,} documents, "
            f"{data['corpus_mb'][size]:,.1f} MB)",
            "",
            "Read JSONL + normalize + tokenize + word 5-gram shingles + 128-hash MinHash; "
            "documents per second of the timed part (imports and kernel loading excluded).",
            "",
            "| tool | documents/s | MB/s | documents per CPU-second | peak memory MB | runs "
            "| neardup / tool (documents/s) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for tool, row in sig.items():
            lines.append(
                f"| {SIGNATURE_LABELS[tool]} | {fmt_int(row['docs_per_s'])} | "
                f"{fmt(row['mb_per_s'], 1)} | {fmt_int(row['docs_per_cpu_s'])} | "
                f"{fmt_int(row['peak_mb'])} | "
                f"{row['runs']} | {ratio(nd, row['docs_per_s']) if tool != 'neardup' else ''} |"
                + (f" {row['failure']}" if row.get("failure") else "")
            )
        lines.append("")
    if data.get("accuracy"):
        acc = data["accuracy"]
        n_pairs = next(iter(acc.values()))["pairs"]
        lines += [
            f"### Accuracy of the Jaccard estimate ({n_pairs:,} labelled near-duplicate pairs)",
            "",
            "Estimate from the 128-value signatures against the exact Jaccard of the word "
            "5-gram sets each tool sketched (the peers share one tokenization; neardup's "
            "normalization differs, hence its own exact values).",
            "",
            "| tool | mean exact Jaccard | mean absolute error (± standard error) | RMSE "
            "| max error | bias |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for tool, row in acc.items():
            lines.append(
                f"| {SIGNATURE_LABELS[tool]} | {row['mean_exact_jaccard']:.3f} | "
                f"{row['mae']:.4f} ± {row.get('mae_standard_error', float('nan')):.4f} | "
                f"{row['rmse']:.4f} | {row['max_abs_error']:.3f} | "
                f"{row['bias']:+.4f} |"
            )
        lines.append("")

    # 2. end to end
    for size, e2e in data["e2e"].items():
        ref = e2e.get("neardup-w2") or e2e.get("neardup-w1") or {}
        ref_wall = ref.get("wall", float("nan"))
        lines += [
            f"## 2. End to end ({int(size):,} documents, {data['corpus_mb'][size]:,.0f} MB)",
            "",
            "Wall time of the whole process (start-up included); peak memory of the run "
            "(see the notes). neardup writes all its outputs (pairs, clusters, deduplicated "
            "corpus, alignments, report); the peers write their clusters.",
            "",
            "| run | wall s | CPU s | documents/s | peak memory MB | runs | tool wall / neardup "
            "(2 workers) wall | clusters | documents in clusters |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in e2e.values():
            lines.append(
                f"| {row['label']} | {fmt(row['wall'])} | {fmt(row['cpu'])} | "
                f"{fmt_int(row['docs_per_s'])} | {fmt_int(row['peak_mb'])} | {row['runs']} | "
                f"{ratio(row['wall'], ref_wall)} | {fmt_int(row.get('clusters', float('nan')))} | "
                f"{fmt_int(row.get('documents_in_clusters', float('nan')))} |"
                + (f" {row['failure']}" if row.get("failure") else "")
            )
        lines.append("")
        w1, w2 = e2e.get("neardup-w1"), e2e.get("neardup-w2")
        if w1 and w2:
            lines.append(
                f"Scaling: 2 workers run {ratio(w1['wall'], w2['wall'])} as fast as 1 worker. "
                f"Determinism: pairs.jsonl and clusters.jsonl of the two are "
                f"{'identical' if w1.get('digests') == w2.get('digests') else 'DIFFERENT'}."
            )
            lines.append("")

    # cost per document as the corpus grows
    sizes = [size for size in data["e2e"] if "neardup-w1" in data["e2e"][size]]
    if len(sizes) > 1:
        lines += [
            "### neardup's cost as the corpus grows",
            "",
            "| documents | " + " | ".join(f"{int(x):,}" for x in sizes) + " |",
            "|---|" + "---:|" * len(sizes),
        ]
        for key in ("neardup-w1", "neardup-w2"):
            label = key.replace("neardup-w", "workers ")
            cells = [data["e2e"][x].get(key, {}) for x in sizes]
            per_doc = [
                fmt(c.get("wall", float("nan")) / int(x) * 1000, 3)
                for c, x in zip(cells, sizes, strict=True)
            ]
            memory = [fmt_int(c.get("peak_mb", float("nan"))) for c in cells]
            lines.append(f"| {label}: ms per document | " + " | ".join(per_doc) + " |")
            lines.append(f"| {label}: peak memory MB | " + " | ".join(memory) + " |")
        lines.append("")

    # 3. recall
    if data.get("recall"):
        r = data["recall"]
        lines += [
            f"## 3. Candidate recall ({int(r['size']):,} documents)",
            "",
            f"Pairs scored: all {r['truth_pairs']:,} pairs within the {r['truth_clusters']:,} "
            f"truth clusters of the generator plus neardup's {r['neardup_pairs']:,} pairs "
            f"({r['pairs_scored']:,} distinct), exact Jaccard of neardup's word 5-gram sets; "
            f"{r['positives']:,} have Jaccard >= {r['threshold']} "
            f"({r['truth_pairs_below_threshold']:,} truth pairs fall below it: heavy edits, "
            f"abridged copies; {r['neardup_pairs_below_threshold']:,} of neardup's pairs were "
            "made by its containment rule below that Jaccard).",
            "",
            "| | recall |",
            "|---|---:|",
            f"| neardup, pair in pairs.jsonl | {r['recall_pairs']:.4f} |",
            f"| neardup, pair in pairs.jsonl or both in one cluster | "
            f"{r['recall_pairs_or_cluster']:.4f} |",
            f"| neardup, truth-cluster pairs only (pair or cluster) | {r['recall_truth_only']:.4f} |",
        ]
        for tool, value in r["peers"].items():
            lines.append(
                f"| {tool} pipeline, both in one cluster (LSH, no verification) | {value:.4f} |"
            )
        lines.append("")
        if r["missed_examples"]:
            lines.append(
                "Missed pairs (first ones; max Jaccard {:.3f}): ".format(r["missed_jaccard_max"])
                + ", ".join(f"{x['a']}/{x['b']} ({x['jaccard']})" for x in r["missed_examples"])
            )
            lines.append("")

    # 4. profile
    if data.get("profile"):
        lines += [
            "## 4. neardup per-stage profile",
            "",
            "From run.json `timings_seconds`, median over the runs; share of the stages' sum. "
            "`write` (pairs, clusters, deduplicated corpus) runs in a thread while the workers of "
            "`align_and_report` align, so its seconds overlap that stage's.",
            "",
        ]
        for name, stages in data["profile"].items():
            total = sum(stages.values()) or float("nan")
            lines += [f"**{name}**", "", "| stage | seconds | share |", "|---|---:|---:|"]
            for stage, seconds in stages.items():
                lines.append(f"| {stage} | {seconds:.2f} | {seconds / total:.0%} |")
            lines.append(f"| sum | {total:.2f} | |")
            lines.append("")

    # targets
    lines += ["## Issue 4 targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for row in data["targets"]:
        lines.append(f"| {row['target']} | {row['measured']} | {row['verdict']} |")
    lines += [
        "",
        "## Notes",
        "",
        "- Peak memory: the larger of ru_maxrss of the largest process (wait4) and the sampled "
        "(0.1 s) footprint of the process tree: resident memory of the main process plus private "
        "memory of its workers.",
        "- The peers' pipelines take LSH candidates as duplicates (as their documentation shows); "
        "neardup verifies every candidate on exact shingle sets, and writes much more (alignments, "
        "report). datasketch's MinHashLSH picks 25 bands x 5 rows at 0.5; rensa needs the bands "
        f"to divide 128, so {peers.RENSA_BANDS} bands; the pipelines hash with xxhash (datasketch)"
        " and rensa's own hash.",
        "- A cell whose runs took more than the time budget stops after fewer runs (`runs` column).",
        "- Before each `neardup find` run, an untimed run on 200 documents loads (or compiles) "
        "its kernels; a run that compiled kernels all the same (the package's sources changed "
        "meanwhile: other developers edit them) is discarded and run again"
        + (
            ": " + ", ".join(f"{k} ({v})" for k, v in data["compiled_runs"].items())
            if data.get("compiled_runs")
            else "; none was."
        ),
        "",
    ]
    path.write_text("\n".join(lines))


def largest_stage(data: dict[str, Any], size: str) -> str:
    """'; largest stage: X' from neardup's profile of the 2-worker run on that corpus."""
    stages = data.get("profile", {}).get(f"neardup find --workers 2, {int(size):,} documents")
    if not stages:
        return ""
    total = sum(stages.values())
    stage, seconds = max(stages.items(), key=lambda kv: kv[1])
    return f"; largest stage: {stage}, {seconds:.1f} s ({seconds / total:.0%} of the stages)"


def build_targets(data: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    sig = next(iter(data["signatures"].values()), None)
    if sig:
        nd = sig["neardup"]["docs_per_s"]
        rows.append(
            {
                "target": f">= {SIGNATURES_TARGET:,} documents/s per core (signatures)",
                "measured": f"{fmt_int(nd)} documents/s",
                "verdict": shortfall(nd, SIGNATURES_TARGET, True),
            }
        )
        # on a busy machine the process waits for a core: per CPU-second is the idle-core figure
        nd_cpu = sig["neardup"].get("docs_per_cpu_s", float("nan"))
        rows.append(
            {
                "target": "... counted per CPU-second (what one idle core would do)",
                "measured": f"{fmt_int(nd_cpu)} documents per CPU-second",
                "verdict": shortfall(nd_cpu, SIGNATURES_TARGET, True),
            }
        )
        if "python-json" in sig:
            rows.append(
                {
                    "target": "(the bound: reading and parsing the JSON alone)",
                    "measured": f"{fmt_int(sig['python-json']['docs_per_s'])} documents/s, "
                    f"{fmt_int(sig['python-json'].get('docs_per_cpu_s', float('nan')))} "
                    "per CPU-second",
                    "verdict": "",
                }
            )
        for tool, factor in (
            ("rensa", 6),
            ("rensa-bulk", 6),
            ("datasketch", 10),
            ("datasketch-sha1", 10),
        ):
            if tool in sig:
                x = nd / sig[tool]["docs_per_s"]
                rows.append(
                    {
                        "target": f">= {factor}x {SIGNATURE_LABELS[tool]}",
                        "measured": f"{x:.2f}x",
                        "verdict": shortfall(x, factor, True),
                    }
                )
        acc = data.get("accuracy") or {}
        if "neardup" in acc:
            # worse only beyond the noise of the two means (2 standard errors of the difference)
            nd_acc = acc["neardup"]
            worse = [
                t
                for t in PEER_SIGNATURES
                if t in acc
                and nd_acc["mae"] - acc[t]["mae"]
                > 2
                * (
                    nd_acc.get("mae_standard_error", 0.0) ** 2
                    + acc[t].get("mae_standard_error", 0.0) ** 2
                )
                ** 0.5
            ]
            rows.append(
                {
                    "target": "Jaccard estimate as accurate as the peers' (mean absolute error)",
                    "measured": f"neardup {acc['neardup']['mae']:.4f}; "
                    + ", ".join(f"{t} {acc[t]['mae']:.4f}" for t in PEER_SIGNATURES if t in acc),
                    "verdict": "met"
                    if not worse
                    else "missed: less accurate than " + ", ".join(worse),
                }
            )
    for size, wall_target, mem_target in (
        ("100000", E2E_WALL_TARGET, E2E_MEMORY_TARGET),
        ("1000000", LARGE_WALL_TARGET, LARGE_MEMORY_TARGET),
    ):
        e2e = data["e2e"].get(size, {})
        w2 = e2e.get("neardup-w2")
        if not w2:
            continue
        rows.append(
            {
                "target": f"`neardup find` on {int(size):,} documents, 2 workers: <= {wall_target:.0f} s wall",
                "measured": f"{fmt(w2['wall'])} s ({fmt(w2['cpu'])} CPU-s)",
                "verdict": shortfall(w2["wall"], wall_target, False) + largest_stage(data, size),
            }
        )
        rows.append(
            {
                "target": f"... and <= {mem_target:,.0f} MB peak memory",
                "measured": f"{fmt_int(w2['peak_mb'])} MB",
                "verdict": shortfall(w2["peak_mb"], mem_target, False),
            }
        )
        w1 = e2e.get("neardup-w1")
        if w1:
            speedup = w1["wall"] / w2["wall"]
            rows.append(
                {
                    "target": "near-linear scaling, 1 -> 2 workers",
                    "measured": f"{speedup:.2f}x",
                    "verdict": "met" if speedup >= 1.8 else f"missed: {speedup:.2f}x of 2x",
                }
            )
    if data.get("recall"):
        r = data["recall"]["recall_pairs_or_cluster"]
        rows.append(
            {
                "target": f"candidate recall >= {RECALL_TARGET} for pairs with Jaccard >= 0.5",
                "measured": f"{r:.4f}",
                "verdict": "met" if r >= RECALL_TARGET else f"missed by {RECALL_TARGET - r:.4f}",
            }
        )
    return rows


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument(
        "--signature-docs",
        default="10000",
        help="corpus sizes for the signature throughput, comma-separated",
    )
    ap.add_argument(
        "--e2e-docs",
        default="10000,100000",
        help="corpus sizes for the end-to-end runs, comma-separated",
    )
    ap.add_argument(
        "--large",
        action="store_true",
        help="also run neardup end to end on 1,000,000 documents (4 GB)",
    )
    ap.add_argument(
        "--large-peers",
        action="store_true",
        help="with --large, run the peers' pipelines on 1,000,000 documents too",
    )
    ap.add_argument("--workers", default="1,2", help="neardup worker counts, comma-separated")
    ap.add_argument("--accuracy-pairs", type=int, default=2000)
    ap.add_argument(
        "--budget",
        type=float,
        default=200.0,
        help="seconds: a measurement whose runs took this long is not repeated",
    )
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    ap.add_argument("--seed", type=int, default=7, help="corpus generator seed")
    ap.add_argument("--dup-rate", type=float, default=0.3)
    ap.add_argument("--data", type=Path, default=HERE / "data", help="corpora and run outputs")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--skip", default="", help="sections to skip: signatures,accuracy,e2e,recall")
    ap.add_argument("--report-from", type=Path, help="only rewrite --out from a RESULTS.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: accuracy/recall in a process
    args = ap.parse_args(argv)
    if args.child:
        return child_main(args.child)
    if args.report_from:
        data = json.loads(args.report_from.read_text())
        data["targets"] = build_targets(data)
        write_report(args.out, data)
        return 0
    skip = set(filter(None, args.skip.split(",")))
    sig_sizes = [int(x) for x in args.signature_docs.split(",") if x]
    e2e_sizes = [int(x) for x in args.e2e_docs.split(",") if x]
    if args.large and 1_000_000 not in e2e_sizes:
        e2e_sizes.append(1_000_000)
    workers = [int(x) for x in args.workers.split(",")]
    runs_dir = args.data / "runs"
    started = time.time()
    data: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "load_start": os.getloadavg()[0],
        "arguments": vars(args) | {"data": rel(args.data), "out": rel(args.out)},
        "signatures": {},
        "e2e": {},
        "corpus_mb": {},
        "profile": {},
    }
    commands = [
        "# the whole benchmark (make bench runs it with the defaults)",
        show_cmd([sys.executable, str(HERE / "bench_speed.py"), *(argv or sys.argv[1:])]),
        "# corpora (written on first use)",
    ]
    corpora = {}
    for n in sorted(set(sig_sizes) | set(e2e_sizes)):
        corpora[n] = ensure_corpus(args.data, n, args.seed, args.dup_rate)
        data["corpus_mb"][str(n)] = corpora[n].stat().st_size / 1e6
        commands.append(show_cmd(generate_command(n, corpora[n], args.seed, args.dup_rate)))

    # neardup compiles its kernels on first use after a source change: do that untimed
    warm = args.data / "warm-up.jsonl"
    with corpora[min(corpora)].open("rb") as f, warm.open("wb") as w:
        w.writelines(itertools.islice(f, 200))
    warm_cmd = neardup_find_cmd(warm, runs_dir / "warm-up", 1)
    log("warming up neardup's compiled kernels (untimed)")
    subprocess.run(warm_cmd, cwd=ROOT)

    if "signatures" not in skip:
        commands.append(
            "# 1. signatures: each tool in a fresh process, for TOOL in "
            + " ".join(peers.SIGNATURE_TOOLS)
        )
        for n in sig_sizes:
            log(f"signatures on {n:,} documents")
            cells = signature_cells(corpora[n])
            commands.append(show_cmd(cells[0].cmd).replace(" neardup ", " TOOL "))
            run_rounds(cells, args.repeats, args.budget, args.timeout)
            rows = {}
            for tool, cell in zip(peers.SIGNATURE_TOOLS, cells, strict=True):
                seconds = cell.median_result("seconds")
                docs = cell.median_result("docs")
                rows[tool] = {
                    "docs_per_s": docs / seconds,
                    "docs_per_cpu_s": docs / cell.median_result("cpu_seconds"),
                    "mb_per_s": corpora[n].stat().st_size / 1e6 / seconds,
                    "seconds": seconds,
                    "cpu": cell.median("cpu"),
                    "peak_mb": cell.median("peak_mb"),
                    "runs": len(cell.ok_runs),
                    "failure": cell.failure,
                    "all_seconds": [r.result.get("seconds") for r in cell.runs],
                }
            data["signatures"][str(n)] = rows
    if "accuracy" not in skip:
        n = sig_sizes[0]
        log(f"accuracy of the Jaccard estimates on {n:,} documents")
        data["accuracy"] = run_child_task("accuracy", corpus=corpora[n], pairs=args.accuracy_pairs)

    e2e_cells_by_size: dict[int, list[Cell]] = {}
    if "e2e" not in skip:
        commands.append(
            "# 2. end to end: neardup's CLI, and the peers' pipelines (TOOL: "
            + " ".join(peers.PIPELINE_TOOLS)
            + ")"
        )
        for n in e2e_sizes:
            with_peers = n < 1_000_000 or args.large_peers
            cells = e2e_cells(corpora[n], runs_dir, workers, with_peers, warm_cmd)
            e2e_cells_by_size[n] = cells
            commands += [show_cmd(c.cmd) for c in cells]
            log(f"end to end on {n:,} documents")
            repeats = args.repeats if n < 1_000_000 else 1
            run_rounds(cells, repeats, args.budget, args.timeout)
            rows = {}
            for cell in cells:
                key = cell.key
                row: dict[str, Any] = {
                    "label": cell.name.split(" @ ")[0],
                    "wall": cell.median("wall"),
                    "cpu": cell.median("cpu"),
                    "peak_mb": cell.median("peak_mb"),
                    "maxrss_mb": cell.median("maxrss_mb"),
                    "sampled_mb": cell.median("sampled_mb"),
                    "docs_per_s": n / cell.median("wall"),
                    "runs": len(cell.ok_runs),
                    "failure": cell.failure,
                    "all_walls": [r.wall for r in cell.runs],
                    "compiled_runs_discarded": cell.compiled_runs,
                }
                if cell.compiled_runs:
                    data.setdefault("compiled_runs", {})[cell.name] = cell.compiled_runs
                if key.startswith("neardup"):
                    run_json = neardup_counts(cell)
                    counts = run_json.get("counts", {})
                    row["clusters"] = counts.get("clusters", float("nan"))
                    row["documents_in_clusters"] = counts.get("documents_in_clusters", float("nan"))
                    row["counts"] = counts
                    if (cell.out_dir / "pairs.jsonl").exists():
                        row["digests"] = [
                            file_digest(cell.out_dir / name)
                            for name in ("pairs.jsonl", "clusters.jsonl")
                        ]
                    timings = neardup_profile(cell)
                    if timings:
                        data["profile"][f"{cell.name.split(' @ ')[0]}, {n:,} documents"] = timings
                else:
                    row["clusters"] = cell.median_result("clusters")
                    row["documents_in_clusters"] = cell.median_result("documents_in_clusters")
                rows[key] = row
            data["e2e"][str(n)] = rows

    recall_size = 100_000 if 100_000 in e2e_cells_by_size else max(e2e_cells_by_size, default=0)
    if "recall" not in skip and recall_size:
        cells = e2e_cells_by_size[recall_size]
        nd = next((c for c in cells if c.name.startswith("neardup") and c.ok_runs), None)
        if nd is not None:
            log(f"candidate recall on {recall_size:,} documents")
            peer_outs = {
                c.name.split(" ")[0]: c.out_dir
                for c in cells
                if not c.name.startswith("neardup") and c.ok_runs
            }
            data["recall"] = run_child_task(
                "recall",
                corpus=corpora[recall_size],
                neardup_out=nd.out_dir,
                peer_outs=peer_outs,
                threshold=0.5,
            )
            data["recall"].update(size=recall_size, threshold=0.5)

    data["load_end"] = os.getloadavg()[0]
    data["elapsed_minutes"] = (time.time() - started) / 60
    data["commands"] = commands
    data["targets"] = build_targets(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(args.out, data)
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    log(
        f"wrote {rel(args.out)} and {rel(args.out.with_suffix('.json'))} "
        f"in {data['elapsed_minutes']:.1f} minutes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
