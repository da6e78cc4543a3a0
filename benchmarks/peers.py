"""The measured workloads of the speed benchmark: neardup, datasketch, rensa and two baselines.

Each workload is one stage a user runs, written the way the library's documentation shows it:

* signatures (documents/s, one process): read the JSONL corpus (orjson, one record a line),
  then normalize, tokenize, build word 5-gram shingles and a 128-hash MinHash signature per
  document. The peers and the baselines share one tokenization: lower-case, regex ``\\w+`` word
  tokens, 5-grams joined by spaces (`shingles`); neardup uses its own (Unicode folding and word
  tokens in a compiled kernel, `neardup.sketch.sketch_texts`, batches of 2,048 texts).
* pipelines (end to end, one process): signatures, then MinHash LSH at threshold 0.5 (query each
  document against the documents before it, then insert it), union-find over the candidate pairs,
  and the clusters written to a JSONL file. As users run them, the peers' pipelines take the LSH
  candidates as duplicates (no verification); neardup's end to end is its CLI, `neardup find`.

The benchmark (`bench_speed.py`) runs each workload in a fresh process as::

    python benchmarks/peers.py signatures TOOL CORPUS
    python benchmarks/peers.py pipeline TOOL CORPUS OUT_DIR

which prints one JSON line: documents, the wall and CPU seconds of the timed part (imports and
neardup's kernel loading are outside it), the process's peak resident memory (VmHWM) and what
was produced.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

NUM_PERM = 128
NGRAM = 5
SEED = 42
LSH_THRESHOLD = 0.5
RENSA_BANDS = 32  # rensa needs bands dividing num_perm; 32 x 4 is nearest datasketch's 25 x 5
BATCH = 2048  # neardup's default batch size (Settings.batch_size)

WORD = re.compile(r"\w+")

SIGNATURE_TOOLS = (
    "neardup",
    "datasketch",
    "datasketch-sha1",
    "rensa",
    "rensa-bulk",
    "python-shingles",
    "python-json",
)
PIPELINE_TOOLS = ("datasketch", "rensa")


def shingles(text: str, n: int = NGRAM) -> list[str]:
    """Word n-grams of the lower-cased text (regex word tokens joined by spaces); a text with
    fewer than n words is one shingle."""
    tokens = WORD.findall(text.lower())
    if len(tokens) < n:
        return [" ".join(tokens)] if tokens else []
    return list(map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False)))


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)


def read_texts(path: str | Path) -> Iterator[str]:
    for record in read_records(path):
        yield record["text"]


def batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(items, size)):
        yield chunk


# --------------------------------------------------------------------------------------------
# Signatures: each function consumes the corpus and returns (documents, what it kept)
# --------------------------------------------------------------------------------------------


def _datasketch_hashfunc(variant: str) -> tuple[Callable[[Any], int], Callable[[str], Any]]:
    """(hash function, shingle encoder): both hash bytes, so shingles are UTF-8 encoded."""
    if variant == "sha1":
        from datasketch.hashfunc import sha1_hash32

        return sha1_hash32, str.encode
    import xxhash

    return xxhash.xxh32_intdigest, str.encode


def signatures_neardup(path: str) -> int:
    import numpy as np

    from neardup.config import Settings
    from neardup.sketch import sketch_texts

    settings = Settings(num_perm=NUM_PERM, ngram=NGRAM)
    kept = [sketch_texts(texts, settings).signatures for texts in batched(read_texts(path), BATCH)]
    return len(np.concatenate(kept))


def signatures_datasketch(path: str, variant: str = "xxhash") -> int:
    from datasketch import MinHash

    hashfunc, encode = _datasketch_hashfunc(variant)
    # MinHash.generator is datasketch's bulk path: one MinHash per document, update_batch over
    # its shingles, the permutations built once
    sets = ([encode(s) for s in shingles(t)] for t in read_texts(path))
    kept = list(MinHash.generator(sets, num_perm=NUM_PERM, hashfunc=hashfunc))
    return len(kept)


def signatures_rensa(path: str) -> int:
    from rensa import RMinHash

    kept = []
    for text in read_texts(path):
        m = RMinHash(num_perm=NUM_PERM, seed=SEED)
        m.update(shingles(text))
        kept.append(m)
    return len(kept)


def signatures_rensa_bulk(path: str) -> int:
    """rensa's batch API (one call per 2,048 documents, compact digest matrix)."""
    from rensa import RMinHash

    n = 0
    kept = []
    for texts in batched(read_texts(path), BATCH):
        matrix = RMinHash.digest_matrix_from_token_sets(
            [shingles(t) for t in texts], NUM_PERM, SEED
        )
        kept.append(matrix)
        n += len(texts)
    return n


def signatures_python_shingles(path: str) -> int:
    return sum(1 for t in read_texts(path) if shingles(t) is not None)


def signatures_python_json(path: str) -> int:
    return sum(1 for t in read_texts(path) if t is not None)


SIGNATURES: dict[str, Callable[[str], int]] = {
    "neardup": signatures_neardup,
    "datasketch": signatures_datasketch,
    "datasketch-sha1": lambda path: signatures_datasketch(path, "sha1"),
    "rensa": signatures_rensa,
    "rensa-bulk": signatures_rensa_bulk,
    "python-shingles": signatures_python_shingles,
    "python-json": signatures_python_json,
}


def warm_up(tool: str) -> None:
    """Imports and compiled-kernel loading, kept out of the timed part for every tool."""
    if tool == "neardup":
        from neardup.config import Settings
        from neardup.sketch import sketch_texts

        sketch_texts(["warm up the kernels of the sketch stage"], Settings())
    elif tool.startswith("datasketch"):
        import datasketch  # noqa: F401
        import xxhash  # noqa: F401
    elif tool.startswith("rensa"):
        import rensa  # noqa: F401


# --------------------------------------------------------------------------------------------
# Signatures of chosen documents, for the accuracy of the Jaccard estimate
# --------------------------------------------------------------------------------------------


def estimates(tool: str, texts_a: list[str], texts_b: list[str]) -> tuple[list[float], list[float]]:
    """(estimated Jaccard, exact Jaccard of the shingle sets the tool sketched) per pair."""
    import numpy as np

    if tool == "neardup":
        from neardup.config import Settings
        from neardup.sketch import estimate_jaccard, sketch_texts

        settings = Settings(num_perm=NUM_PERM, ngram=NGRAM)
        sa, sb = sketch_texts(texts_a, settings), sketch_texts(texts_b, settings)
        est, exact = [], []
        for i in range(len(texts_a)):
            est.append(estimate_jaccard(sa.signatures[i], sb.signatures[i]))
            exact.append(jaccard_sorted(sa.shingle_set(i), sb.shingle_set(i)))
        return est, exact
    sets_a = [shingles(t) for t in texts_a]
    sets_b = [shingles(t) for t in texts_b]
    exact = [jaccard_sets(set(a), set(b)) for a, b in zip(sets_a, sets_b, strict=True)]
    if tool.startswith("datasketch"):
        from datasketch import MinHash

        hashfunc, encode = _datasketch_hashfunc("sha1" if tool.endswith("sha1") else "xxhash")
        ma = MinHash.bulk(
            [[encode(s) for s in x] for x in sets_a], num_perm=NUM_PERM, hashfunc=hashfunc
        )
        mb = MinHash.bulk(
            [[encode(s) for s in x] for x in sets_b], num_perm=NUM_PERM, hashfunc=hashfunc
        )
        return [a.jaccard(b) for a, b in zip(ma, mb, strict=True)], exact
    if tool.startswith("rensa"):
        from rensa import RMinHash

        if tool == "rensa-bulk":
            da = np.asarray(
                RMinHash.digest_matrix_from_token_sets(sets_a, NUM_PERM, SEED).to_rows()
            )
            db = np.asarray(
                RMinHash.digest_matrix_from_token_sets(sets_b, NUM_PERM, SEED).to_rows()
            )
            return list(np.mean(da == db, axis=1)), exact
        est = []
        for a, b in zip(sets_a, sets_b, strict=True):
            ma, mb = RMinHash(num_perm=NUM_PERM, seed=SEED), RMinHash(num_perm=NUM_PERM, seed=SEED)
            ma.update(a)
            mb.update(b)
            est.append(ma.jaccard(mb))
        return est, exact
    raise ValueError(f"no signatures for {tool!r}")


def jaccard_sets(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def jaccard_sorted(a: Any, b: Any) -> float:
    """Exact Jaccard of two sorted arrays of unique values."""
    import numpy as np

    union = len(a) + len(b)
    if union == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (union - inter)


# --------------------------------------------------------------------------------------------
# End-to-end pipelines of the peers
# --------------------------------------------------------------------------------------------


class UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []

    def add(self) -> None:
        self.parent.append(len(self.parent))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def pipeline(tool: str, path: str, out_dir: str) -> dict[str, Any]:
    """Signatures, LSH (query, then insert, document by document), union-find, clusters file."""
    ids: list[str] = []
    uf = UnionFind()
    n_candidates = 0
    if tool == "datasketch":
        from datasketch import MinHash, MinHashLSH

        hashfunc, encode = _datasketch_hashfunc("xxhash")
        lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        records = read_records(path)

        def shingle_lists() -> Iterator[list[Any]]:
            for record in records:
                ids.append(record["id"])
                yield [encode(s) for s in shingles(record["text"])]

        for i, m in enumerate(
            MinHash.generator(shingle_lists(), num_perm=NUM_PERM, hashfunc=hashfunc)
        ):
            uf.add()
            for j in lsh.query(m):
                uf.union(i, j)
                n_candidates += 1
            lsh.insert(i, m, check_duplication=False)
    elif tool == "rensa":
        from rensa import RMinHash, RMinHashLSH

        lsh = RMinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM, num_bands=RENSA_BANDS)
        for i, record in enumerate(read_records(path)):
            ids.append(record["id"])
            m = RMinHash(num_perm=NUM_PERM, seed=SEED)
            m.update(shingles(record["text"]))
            uf.add()
            for j in lsh.query(m):
                uf.union(i, j)
                n_candidates += 1
            lsh.insert(i, m)
    else:
        raise ValueError(f"no pipeline for {tool!r}")
    clusters: dict[int, list[int]] = {}
    for i in range(len(ids)):
        clusters.setdefault(uf.find(i), []).append(i)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_clusters = in_clusters = 0
    with (out / "clusters.jsonl").open("wb") as f:
        for members in clusters.values():
            if len(members) > 1:
                n_clusters += 1
                in_clusters += len(members)
                f.write(orjson.dumps({"members": [ids[i] for i in members]}) + b"\n")
    return {
        "docs": len(ids),
        "candidate_pairs": n_candidates,
        "clusters": n_clusters,
        "documents_in_clusters": in_clusters,
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it is not inherited from
    the parent across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str]) -> int:
    mode, tool, path = argv[:3]
    warm_up(tool)
    started = time.perf_counter()
    cpu_started = time.process_time()
    if mode == "signatures":
        docs = SIGNATURES[tool](path)
        result: dict[str, Any] = {"docs": docs}
    elif mode == "pipeline":
        result = pipeline(tool, path, argv[3])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - cpu_started
    result["peak_rss_mb"] = peak_rss_mb()
    result["bytes"] = Path(path).stat().st_size
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
