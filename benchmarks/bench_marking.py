"""What marking boilerplate in alignments.jsonl and report.html costs (issue 6).

On the speed benchmark's news corpus (`generate.py`, seed 7, 30% near duplicates; documents carry
a `source`, so boilerplate is detected per outlet), `neardup.find` runs once, then the
alignment-and-report stage (`write_alignments_and_report`, one process) runs `--repeats` times
with the run's boilerplate and as many times without it (the same stage with nothing to mark),
interleaved, each going first in every other repeat. Reported, in CPU seconds of this process:

- the stage with and without marking (median and minimum): on a shared machine these vary by
  +-10% from run to run, more than marking costs, so the difference of the two is a rough figure;
- the marking work itself, timed inside the marked runs: the prefilter over the members' shingle
  sets (`count_boilerplate_shingles`), the boilerplate spans of the members that may have some
  (`BoilerplateMarker.text_spans`) and the marks of each pair (`BoilerplateMarker.mark`), as a
  share of the marked stage. Building the extra JSON fields is not in it (see the sizes).

    .venv/bin/python benchmarks/bench_marking.py                 # 100,000 documents, 3 repeats
    .venv/bin/python benchmarks/bench_marking.py --docs 10000 --repeats 5

Writes benchmarks/RESULTS-marking.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neardup
from neardup.boilerplate import Boilerplate, BoilerplateMarker
from neardup.report import build

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def ensure_corpus(n_docs: int) -> Path:
    path = HERE / "data" / f"news-{n_docs}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(HERE / "generate.py"), "--docs", str(n_docs)]
        subprocess.run([*cmd, "--seed", "7", "--dup-rate", "0.3", "--out", str(path)], check=True)
    return path


class Timers:
    """CPU time spent inside some functions, by name (wrappers are set for a marked run)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.process_time() - t
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed


def count_marked(path: Path) -> tuple[int, int, int]:
    """Records, records with boilerplate in either text, parts flagged as boilerplate."""
    records = with_spans = flagged = 0
    with open(path, "rb") as f:
        for line in f:
            record = json.loads(line)
            records += 1
            b = record.get("boilerplate")
            if b and (b["a"] or b["b"]):
                with_spans += 1
            for key in ("passages", "insertions", "removals"):
                flagged += sum(bool(p.get("boilerplate")) for p in record.get(key, []))
    return records, with_spans, flagged


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS-marking.md")
    args = ap.parse_args(argv)

    corpus = ensure_corpus(args.docs)
    result = neardup.find([corpus])
    found = result._state.boilerplate
    assert found is not None
    stage: dict[str, list[float]] = {"marked": [], "unmarked": []}
    parts: dict[str, list[float]] = {"prefilter": [], "spans": [], "marks": []}
    sizes: dict[str, int] = {}
    calls: dict[str, int] = {}
    records = with_spans = flagged = 0
    originals = (
        build.count_boilerplate_shingles,
        BoilerplateMarker.text_spans,
        BoilerplateMarker.mark,
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        build.write_alignments_and_report(result, out, workers=1)  # load the kernels
        for repeat in range(args.repeats):
            # alternate which goes first, so that a slow spell of the machine hits both alike
            order = ("unmarked", "marked") if repeat % 2 == 0 else ("marked", "unmarked")
            for mode in order:
                result._state.boilerplate = found if mode == "marked" else Boilerplate.empty()
                timers = Timers()
                if mode == "marked":
                    build.count_boilerplate_shingles = timers.wrap("prefilter", originals[0])
                    BoilerplateMarker.text_spans = timers.wrap("spans", originals[1])
                    BoilerplateMarker.mark = timers.wrap("marks", originals[2])
                t = time.process_time()
                build.write_alignments_and_report(result, out, workers=1)
                stage[mode].append(time.process_time() - t)
                (
                    build.count_boilerplate_shingles,
                    BoilerplateMarker.text_spans,
                    BoilerplateMarker.mark,
                ) = originals
                if mode == "marked":
                    for name in parts:
                        parts[name].append(timers.seconds.get(name, 0.0))
                    calls = timers.calls
                    records, with_spans, flagged = count_marked(out / "alignments.jsonl")
                sizes[mode] = (out / "alignments.jsonl").stat().st_size
                sizes[mode + "_report"] = (out / "report.html").stat().st_size + sum(
                    p.stat().st_size for p in out.glob("report-data/*")
                )
        result._state.boilerplate = found
    med = {k: statistics.median(v) for k, v in stage.items()}
    low = {k: min(v) for k, v in stage.items()}
    work = {k: statistics.median(v) for k, v in parts.items()}
    total_work = sum(work.values())
    lines = [
        "# Marking boilerplate in the alignments and the report: cost",
        "",
        f"`.venv/bin/python benchmarks/bench_marking.py --docs {args.docs} "
        f"--repeats {args.repeats}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        "CPU seconds of one process, so other load on the machine counts less than in wall "
        "time but still some).",
        "",
        f"Corpus: `benchmarks/data/news-{args.docs}.jsonl` ({result.counts['documents']:,} "
        f"documents, {len(result._state.pairs):,} pairs, {len(found):,} boilerplate shingles "
        f"over {found.sites_analysed:,} sources). alignments.jsonl: {records:,} records, "
        f"{with_spans:,} of them with boilerplate in either text, {flagged:,} passages, "
        "insertions and removals marked as boilerplate.",
        "",
        "| alignment-and-report stage | median | min | runs |",
        "|---|---:|---:|---|",
        f"| without marking | {med['unmarked']:.2f} | {low['unmarked']:.2f} | "
        + ", ".join(f"{x:.2f}" for x in stage["unmarked"])
        + " |",
        f"| with marking | {med['marked']:.2f} | {low['marked']:.2f} | "
        + ", ".join(f"{x:.2f}" for x in stage["marked"])
        + " |",
        f"| difference | {100 * (med['marked'] / med['unmarked'] - 1):+.1f}% | "
        f"{100 * (low['marked'] / low['unmarked'] - 1):+.1f}% | |",
        "",
        "The runs of one configuration spread by "
        f"{100 * (max(stage['unmarked']) / low['unmarked'] - 1):.0f}% (without) and "
        f"{100 * (max(stage['marked']) / low['marked'] - 1):.0f}% (with marking) on this machine "
        "(load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}); when that is more than the "
        "difference, the work timed inside the marked runs (below) is the firmer figure.",
        "",
        "| marking work, inside the marked runs | CPU s (median) | calls | share of the stage |",
        "|---|---:|---:|---:|",
    ]
    names = {
        "prefilter": "prefilter: boilerplate values in each member's shingle set",
        "spans": "boilerplate spans of the members that may have some",
        "marks": "marks of the pairs with boilerplate in either text",
    }
    for name, label in names.items():
        lines.append(
            f"| {label} | {work[name]:.3f} | {calls.get(name, 0):,} | "
            f"{100 * work[name] / med['marked']:.1f}% |"
        )
    lines += [
        f"| all | {total_work:.3f} | | {100 * total_work / med['marked']:.1f}% |",
        "",
        f"Output sizes: alignments.jsonl {sizes['unmarked'] / 1e6:.1f} MB without marking, "
        f"{sizes['marked'] / 1e6:.1f} MB with it; report.html and report-data "
        f"{sizes['unmarked_report'] / 1e6:.1f} MB and {sizes['marked_report'] / 1e6:.1f} MB.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
