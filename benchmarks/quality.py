"""Precision and recall of neardup's matching rules on labelled data; writes benchmarks/QUALITY.md.

    python benchmarks/quality.py [--docs 20000] [--out benchmarks/QUALITY.md]

Datasets:
- examples: the bundled example corpus (examples/corpus.jsonl, truth in examples/expected.json);
- generated: a corpus from benchmarks/generate.py (news-like, ~30% copies with realistic edits);
- counter-dev: ../shared/data/counter-dev (real Urdu news reuse, hand-labelled pairs), when present.

Metrics. For the two clustered datasets: pairwise precision / recall of the clustering (a pair of
documents counts when both are in one predicted cluster; it is right when both are in one true
cluster). For counter-dev, per labelled (agency, newspaper) pair: predicted a duplicate when the
two documents end up in one cluster; positives are "wholly" and "partially derived".

Method. For each n-gram size, one permissive run (threshold 0.2, containment 0.4) gives every
candidate pair with its exact scores; each grid point (threshold, containment) then keeps the
pairs its rule accepts and clusters them. The row marked "default run" is a full run with the
default settings, so its candidate generation is the real one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import neardup  # noqa: E402
from neardup.cluster import connected_components  # noqa: E402
from neardup.config import Settings  # noqa: E402

COUNTER = ROOT.parent / "shared" / "data" / "counter-dev"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
CONTAINMENTS = (0.6, 0.7, 0.8, 0.9, None)
NGRAMS = (3, 4, 5, 6)


def pair_count(sizes: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def clustering_scores(pred: dict[str, str], truth: dict[str, str]) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering (doc -> label) against the truth."""
    ids = list(truth)
    pred_sizes = Counter(pred.get(i, i) for i in ids)
    truth_sizes = Counter(truth[i] for i in ids)
    both = Counter((pred.get(i, i), truth[i]) for i in ids)
    tp = pair_count(both)
    pp, tt = pair_count(pred_sizes), pair_count(truth_sizes)
    return (tp / pp if pp else 1.0), (tp / tt if tt else 1.0)


def labelled_pair_scores(pred: dict[str, str], pairs: list[dict]) -> tuple[float, float, float]:
    """Precision, recall (all derived), recall (wholly derived) over labelled pairs."""
    same = [pred.get(p["a"], p["a"]) == pred.get(p["b"], p["b"]) for p in pairs]
    tp = sum(s and p["dup"] == 1 for s, p in zip(same, pairs, strict=True))
    fp = sum(s and p["dup"] == 0 for s, p in zip(same, pairs, strict=True))
    pos = sum(p["dup"] == 1 for p in pairs)
    wd = [s for s, p in zip(same, pairs, strict=True) if p["label"] == "wholly_derived"]
    return (tp / (tp + fp) if tp + fp else 1.0), tp / pos, (sum(wd) / len(wd) if wd else 0.0)


def clusters_of(ids: list[str], a: np.ndarray, b: np.ndarray) -> dict[str, str]:
    labels = connected_components(len(ids), a, b)
    return {ids[i]: ids[labels[i]] for i in range(len(ids))}


class Dataset:
    def __init__(
        self, name: str, path: Path, truth: dict[str, str] | None, pairs: list[dict] | None
    ):
        self.name, self.path, self.truth, self.pairs = name, path, truth, pairs

    def is_negative(self, a: str, b: str) -> bool:
        """A known wrong pair: different true clusters, or a pair labelled non-derived."""
        if self.truth is not None:
            return self.truth.get(a, a) != self.truth.get(b, b)
        assert self.pairs is not None
        if not hasattr(self, "_negative"):
            self._negative = {frozenset((p["a"], p["b"])) for p in self.pairs if p["dup"] == 0}
        return frozenset((a, b)) in self._negative

    def score(self, pred: dict[str, str]) -> dict[str, float]:
        if self.truth is not None:
            p, r = clustering_scores(pred, self.truth)
            return {"precision": p, "recall": r}
        assert self.pairs is not None
        p, r, rw = labelled_pair_scores(pred, self.pairs)
        return {"precision": p, "recall": r, "recall_wholly": rw}


def load_datasets(docs: int, data_dir: Path) -> list[Dataset]:
    out = []
    expected = json.loads((ROOT / "examples" / "expected.json").read_text())
    truth = {}
    for c in expected["clusters"]:
        for m in c["members"]:
            truth[m] = c["original"]
    for line in (ROOT / "examples" / "corpus.jsonl").read_text().splitlines():
        d = json.loads(line)
        truth.setdefault(d["id"], d["id"])
    out.append(Dataset("examples", ROOT / "examples" / "corpus.jsonl", truth, None))

    from generate import write_corpus

    path = data_dir / f"quality-{docs}.jsonl"
    truth_path = data_dir / f"quality-{docs}.truth.jsonl"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_corpus(path, docs, dup_rate=0.3, seed=7, truth_path=truth_path)
    truth = {}
    for line in path.open():
        d = json.loads(line)
        truth[d["id"]] = d["id"]
    for line in truth_path.open():
        t = json.loads(line)
        truth[t["id"]] = t["original"]
    out.append(Dataset("generated", path, truth, None))

    if (COUNTER / "docs.jsonl").exists():
        pairs = [json.loads(line) for line in (COUNTER / "pairs.jsonl").open()]
        out.append(Dataset("counter-dev", COUNTER / "docs.jsonl", None, pairs))
    return out


def evaluate(ds: Dataset) -> list[dict]:
    rows = []
    for ngram in NGRAMS:
        permissive = Settings(ngram=ngram, threshold=0.2, containment=0.4, anchor_min_ratio=0.25)
        res = neardup.find([ds.path], permissive, workers=2)
        ids = res.ids
        number = {d: i for i, d in enumerate(ids)}
        tab = res.pairs_table().to_pydict()
        a = np.array([number[x] for x in tab["a"]], np.int64)
        b = np.array([number[x] for x in tab["b"]], np.int64)
        j = np.array(tab["jaccard"])
        cab = np.array(tab["containment_a_in_b"])
        cba = np.array(tab["containment_b_in_a"])
        exact = np.array([r == "exact" for r in tab["rule"]])
        if ngram == Settings().ngram:
            negative = np.array(
                [ds.is_negative(x, y) for x, y in zip(tab["a"], tab["b"], strict=True)], bool
            )
            closest = {
                "max_jaccard": float(j[negative].max()) if negative.any() else 0.0,
                "max_containment": float(np.maximum(cab, cba)[negative].max())
                if negative.any()
                else 0.0,
            }
        for t in THRESHOLDS:
            for c in CONTAINMENTS:
                keep = exact | (j >= t)
                if c is not None:
                    keep |= (cab >= c) | (cba >= c)
                pred = clusters_of(ids, a[keep], b[keep])
                rows.append({"ngram": ngram, "threshold": t, "containment": c, **ds.score(pred)})
    default = Settings()
    t0 = time.perf_counter()
    res = neardup.find([ds.path], default, workers=2)
    elapsed = time.perf_counter() - t0
    pred = {}
    for cl in res.clusters:
        for m in cl.members:
            pred[m] = cl.original
    row = {"ngram": default.ngram, "threshold": default.threshold, "containment": default.containment,
           **ds.score(pred), "default_run": True, "seconds": elapsed, "documents": len(res.ids)}  # fmt: skip
    row["closest_negative"] = closest
    if ds.truth is not None:
        right = sum(1 for cl in res.clusters if ds.truth.get(cl.original) == cl.original)
        row["originals_right"] = right / max(1, len(res.clusters))
    rows.append(row)
    return rows


def fmt(x: float | None) -> str:
    return "off" if x is None else f"{x:.2f}"


def write_report(results: dict[str, list[dict]], out: Path, command: str) -> None:
    lines = [
        "# Matching quality of neardup's rules",
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d')}.",
        "Pairwise precision/recall of the clusters (examples, generated); labelled-pair",
        "precision/recall for counter-dev (positives: wholly and partially derived). See the",
        "docstring of benchmarks/quality.py for the method.",
        "",
        "Why the defaults are ngram 5, threshold 0.5, containment 0.7: no grid point loses precision on",
        "these datasets, so the choice is about recall and margin. Containment is what recovers copies",
        "with many small edits and abridged copies (on the generated corpus, recall 0.78 with the",
        "containment rule off, 0.95 at 0.8, 0.99 at 0.7); below 0.7 the gain is tiny while the closest",
        "hand-labelled non-derived pair of counter-dev already sits at containment 0.55. Shorter",
        "n-grams (3, 4) raise recall a little but match more stock phrases; 5 keeps most of the recall.",
        "counter-dev is mostly rewritten reuse: lexical matching reaches only the near-verbatim part of",
        "it (recall ~0.1 of derived pairs, ~0.3 of wholly derived) and never a non-derived pair.",
        "",
    ]
    d = Settings()
    for name, rows in results.items():
        lines += [f"## {name}", ""]
        default = next(r for r in rows if r.get("default_run"))
        extra = "".join(
            f", {k} {v:.3f}"
            for k, v in default.items()
            if k in ("recall_wholly", "originals_right")
        )
        lines += [
            f"Default run (ngram {d.ngram}, threshold {d.threshold}, containment {d.containment}): "
            f"precision **{default['precision']:.3f}**, recall **{default['recall']:.3f}**{extra}; "
            f"{default['documents']:,} documents in {default['seconds']:.1f} s.",
            "",
            "Closest known-wrong pair among the candidates of the permissive ngram-5 run: Jaccard "
            f"{default['closest_negative']['max_jaccard']:.3f}, containment "
            f"{default['closest_negative']['max_containment']:.3f}.",
            "",
        ]
        grid = [r for r in rows if not r.get("default_run")]
        keys = [k for k in ("precision", "recall", "recall_wholly") if k in grid[0]]
        lines.append("| ngram | threshold | containment | " + " | ".join(keys) + " | F1 |")
        lines.append("|---|---|---|" + "---|" * (len(keys) + 1))
        for r in grid:
            show = (r["ngram"] == d.ngram) or (
                r["threshold"] == d.threshold and r["containment"] == d.containment
            )
            if not show:
                continue
            p, rc = r["precision"], r["recall"]
            f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
            mark = (
                " **default**"
                if (r["ngram"], r["threshold"], r["containment"])
                == (d.ngram, d.threshold, d.containment)
                else ""
            )
            lines.append(
                f"| {r['ngram']} | {fmt(r['threshold'])} | {fmt(r['containment'])} | "
                + " | ".join(f"{r[k]:.3f}" for k in keys)
                + f" | {f1:.3f}{mark} |"
            )
        lines.append("")
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=20000, help="size of the generated corpus")
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "QUALITY.md")
    args = ap.parse_args(argv)
    results = {}
    for ds in load_datasets(args.docs, args.data):
        print(f"evaluating {ds.name} ...", file=sys.stderr)
        results[ds.name] = evaluate(ds)
    command = "python benchmarks/quality.py" + (
        "" if args.docs == 20000 else f" --docs {args.docs}"
    )
    write_report(results, args.out, command)
    (args.out.with_suffix(".json")).write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
