"""Alignment speed: 10,000 pairs of news-length texts, and one pair of 100,000-word documents.

    .venv/bin/python benchmarks/bench_align.py            # writes benchmarks/RESULTS-align.md

Texts are generated (fictional words, so no third-party text): an original of about 600 words in
10 paragraphs with a headline, byline and credit line, and a copy that drops those lines, applies
house style (abbreviation dots, lower-cased names, straight quotes), scrapes an ad into the middle
of a paragraph, rewords a sentence and drops a paragraph, as syndicated copies do. The long pair
is 1,000 paragraphs (about 100,000 words) and a copy with its paragraphs moved around in blocks,
an ad in the middle and the same kinds of edits. Times are wall-clock in one process (median of
`--repeat` runs), after a warm-up call that loads the compiled kernels.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import neardup
from neardup.align import align
from neardup.report import write_alignments_and_report

SYLLABLES = (
    "ka lo mi ra tun ve sol dar en bri co fa nel ost pra qui sen tor ul var wen yel zor".split()
)
COMMON = "the of and to in a that said on for with as was by at from its will has have".split()
NAMES = ["U.S.", "Justice Department", "City Council", "Harbor Authority", "Finance Director"]


def words(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            out.append(rng.choice(COMMON))
        elif r < 0.38:
            out.append(rng.choice(NAMES))
        elif r < 0.40:
            out.append("“" + "".join(rng.choice(SYLLABLES) for _ in range(2)) + "”")
        else:
            out.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))))
    return out


def paragraph(rng: random.Random, n: int) -> str:
    w = words(rng, n)
    sentences = [" ".join(w[i : i + 15]) for i in range(0, len(w), 15)]
    return " ".join(s[0].upper() + s[1:] + "." for s in sentences)


def house_style(text: str) -> str:
    return (
        text.replace("U.S.", "US")
        .replace("Justice Department", "justice department")
        .replace("City Council", "city council")
        .replace("“", '"')
        .replace("”", '"')
    )


def news_pair(rng: random.Random) -> tuple[str, str]:
    body = [paragraph(rng, 60) for _ in range(10)]
    original = "\n\n".join(
        [
            "Headline " + " ".join(words(rng, 8)),
            "By " + " ".join(words(rng, 2)),
            *body,
            "(Reporting by "
            + " ".join(words(rng, 2))
            + "; Editing by "
            + " ".join(words(rng, 2))
            + ")",
        ]
    )
    copy_body = [house_style(p) for p in body]
    del copy_body[rng.randrange(1, 10)]
    p = rng.randrange(len(copy_body))
    sentences = copy_body[p].split(". ")
    sentences[len(sentences) // 2] = (
        "Sponsored Links You May Like "
        + " ".join(words(rng, 10))
        + " "
        + sentences[len(sentences) // 2]
    )
    copy_body[p] = ". ".join(sentences)
    q = rng.randrange(len(copy_body))
    reworded = copy_body[q].split(". ")
    reworded[0] = paragraph(rng, 12).rstrip(".")
    copy_body[q] = ". ".join(reworded)
    return original, "\n ".join(copy_body)


def long_pair(rng: random.Random, paragraphs: int = 1000) -> tuple[str, str]:
    body = [paragraph(rng, 100) for _ in range(paragraphs)]
    original = "\n\n".join(body)
    blocks = [body[i : i + 50] for i in range(0, len(body), 50)]
    rng.shuffle(blocks)
    copy_body = [house_style(p) for block in blocks for p in block]
    copy_body.insert(len(copy_body) // 2, "Advertisement " + " ".join(words(rng, 20)))
    for _ in range(50):
        i = rng.randrange(len(copy_body))
        ws = copy_body[i].split(" ")
        ws[rng.randrange(len(ws))] = "changed"
        copy_body[i] = " ".join(ws)
    return original, "\n\n".join(copy_body)


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall-clock and CPU seconds of `repeat` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def corpus_figures(n_docs: int) -> list[str]:
    """Time the alignment and report stage of `neardup find` (one process) on a generated corpus."""
    sys.path.insert(0, str(Path(__file__).parent))
    from generate import write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        write_corpus(corpus, n_docs, dup_rate=0.3, seed=7)
        result = neardup.find([corpus], workers=2)
        out = Path(tmp) / "out"
        out.mkdir()
        wall, cpu = time.perf_counter(), time.process_time()
        write_alignments_and_report(result, out, workers=1)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        page = (out / "report.html").stat().st_size
        sidecar = (
            sum(f.stat().st_size for f in (out / "report-data").glob("*"))
            if (out / "report-data").exists()
            else 0
        )
        jsonl = (out / "alignments.jsonl").stat().st_size
        n_pairs, n_clusters = len(result.pairs), len(result.clusters)
    return [
        f"## alignments.jsonl and report.html of a find run ({n_docs:,} generated documents)",
        "",
        f"`benchmarks/generate.py` corpus of {n_docs:,} news-like documents with 30% copies: {n_pairs:,} pairs in "
        f"{n_clusters:,} clusters. Reading the clustered documents again, aligning every pair and each copy "
        f"with its original, and writing alignments.jsonl and report.html took {cpu:.2f} s of CPU "
        f"({wall:.2f} s wall) in one process, i.e. {1000 * cpu / max(n_pairs, 1):.2f} ms of CPU per pair, all "
        "included. "
        f"`neardup find` runs this stage on all cores from 2,000 pairs up. Sizes: alignments.jsonl "
        f"{jsonl / 1e6:.1f} MB, report.html {page / 1e6:.1f} MB, report-data/ {sidecar / 1e6:.1f} MB.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--corpus-docs",
        type=int,
        default=20_000,
        help="also time alignments.jsonl + report.html of a find run on a generated corpus of this "
        "many documents (benchmarks/generate.py, 30%% copies); 0 to skip",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS-align.md"))
    args = parser.parse_args()

    rng = random.Random(20240620)
    pairs = [news_pair(rng) for _ in range(args.pairs)]
    words_per_text = statistics.mean(len(a.split()) for a, _ in pairs[:200])
    chars_per_text = statistics.mean(len(a) for a, _ in pairs[:200])
    big_a, big_b = long_pair(random.Random(7))
    align(*pairs[0])  # load the compiled kernels

    def run_news():
        return [align(a, b) for a, b in pairs]

    news_time, news_cpu, alignments = timed(run_news, args.repeat)
    ads = sum(
        any(s.text.startswith("Sponsored Links") for s in aln.insertions) for aln in alignments
    )
    big_time, big_cpu, big = timed(lambda: align(big_a, big_b), args.repeat)
    half_a, half_b = long_pair(random.Random(7), paragraphs=500)
    half_time, half_cpu, half = timed(lambda: align(half_a, half_b), args.repeat)

    corpus_lines: list[str] = []
    if args.corpus_docs:
        corpus_lines = corpus_figures(args.corpus_docs)

    load = os.getloadavg()
    lines = [
        "# Alignment speed",
        "",
        f"Produced by `python benchmarks/bench_align.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}: other work was running on the "
        "machine, so wall times are upper bounds; CPU times are this process's own). One process, median of "
        f"{args.repeat} runs. See the docstring of the script for the texts.",
        "",
        "| workload | texts | wall time | CPU time | per pair (CPU) |",
        "|---|---|---|---|---|",
        f"| {args.pairs:,} news-length pairs | ~{words_per_text:.0f} words, ~{chars_per_text:,.0f} chars each | "
        f"{news_time:.2f} s | {news_cpu:.2f} s ({args.pairs / news_cpu:,.0f} pairs/s) | "
        f"{1000 * news_cpu / args.pairs:.3f} ms |",
        f"| 1 long pair | {big.a_tokens:,} and {big.b_tokens:,} words | {big_time:.3f} s | {big_cpu:.3f} s | |",
        f"| 1 pair half as long | {half.a_tokens:,} and {half.b_tokens:,} words | {half_time:.3f} s | "
        f"{half_cpu:.3f} s | |",
        "",
        f"The long pair takes {big_cpu / half_cpu:.2f}x the CPU time of the pair half as long (2x is linear, 4x "
        "quadratic): "
        "the work grows with the length of the texts, not with its square.",
        "",
        f"Checks: the injected ad came out as an insertion in {ads:,} of {args.pairs:,} news pairs; the long pair has "
        f"{len(big.passages):,} passages, {len(big.insertions):,} insertion(s), {len(big.removals):,} removal(s), "
        f"{len(big.substitutions):,} substitutions; aligned shares {big.scores()}.",
        "",
    ]
    lines += corpus_lines
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
