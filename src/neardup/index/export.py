"""Export an index as a `neardup find` results folder.

Writes the same files, with the same columns, as `FindResult.write` (`neardup.corpus.writers`):
pairs.parquet and pairs.jsonl, clusters.jsonl, deduplicated.jsonl (each singleton and each
cluster's original) and run.json. Two differences follow from what an index keeps: cluster ids
are the index's stable ids (not renumbered 0..n-1), and the deduplicated records are rebuilt from
what is stored (id, text and metadata fields), not copied byte for byte from the input files; an
index built without texts (`store_text=False`) writes records without a text.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from neardup.corpus.writers import atomic_path, write_json, write_jsonl, write_table
from neardup.index.store import Index
from neardup.verify import RULE_NAMES


def export_index(index: Index, out: str | os.PathLike[str]) -> dict[str, Any]:
    """Write the results folder for everything indexed; returns the run record."""
    started = time.perf_counter()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    snap = index.snapshot()
    id_of = snap.id_of()
    cluster_of = {num: c for num, _, _, c in snap.docs}
    table = pa.table(
        {
            "a": pa.array([id_of[p[0]] for p in snap.pairs], pa.string()),
            "b": pa.array([id_of[p[1]] for p in snap.pairs], pa.string()),
            "jaccard": pa.array([p[2] for p in snap.pairs], pa.float64()),
            "containment_a_in_b": pa.array([p[3] for p in snap.pairs], pa.float64()),
            "containment_b_in_a": pa.array([p[4] for p in snap.pairs], pa.float64()),
            "rule": pa.array([RULE_NAMES[p[5]] for p in snap.pairs], pa.string()),
            "cluster": pa.array([cluster_of[p[0]] for p in snap.pairs], pa.int64()),
        }
    )
    write_table(out_dir / "pairs.parquet", table)
    write_jsonl(out_dir / "pairs.jsonl", table.to_pylist())

    members: dict[int, list[tuple[int, str, dict[str, Any]]]] = {}
    for num, doc_id, meta, cluster in snap.docs:
        if cluster is not None:
            members.setdefault(cluster, []).append((num, doc_id, orjson.loads(meta)))
    originals = {cid: original for cid, original, _, _ in snap.clusters}

    def cluster_rows() -> Iterator[dict[str, Any]]:
        for cid, original, rule, size in snap.clusters:
            group = members.get(cid, [])
            yield {
                "cluster": cid,
                "size": size,
                "original": id_of[original],
                "original_rule": rule,
                "members": [
                    {"id": doc_id, **meta, "original": num == original}
                    for num, doc_id, meta in group
                ],
                "duplicates": [doc_id for num, doc_id, _ in group if num != original],
            }

    n_clusters = write_jsonl(out_dir / "clusters.jsonl", cluster_rows())
    kept = 0
    path = out_dir / "deduplicated.jsonl"
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for num, doc_id, meta, text, cluster in index.iter_docs():
            if cluster is not None and originals.get(cluster) != num:
                continue
            record: dict[str, Any] = {"id": doc_id}
            if text is not None:
                record["text"] = text
            record.update({k: v for k, v in meta.items() if k not in ("id", "text")})
            f.write(orjson.dumps(record, default=str) + b"\n")
            kept += 1
    stats = index.stats()
    in_clusters = sum(len(g) for g in members.values())
    run = {
        "command": "index export",
        "index": str(index.path),
        "settings": index.settings.to_dict(),
        "counts": {
            "documents": len(snap.docs),
            "exact_duplicates": sum(1 for p in snap.pairs if p[5] == 0),
            "pairs": len(snap.pairs),
            "clusters": n_clusters,
            "documents_in_clusters": in_clusters,
            "duplicates_removed": in_clusters - n_clusters,
            "documents_kept": kept,
            "boilerplate_shingles": stats["boilerplate_shingles"],
            "boilerplate_sites_analysed": stats["sites"],
        },
        "index_stats": stats,
        "outputs": [
            "pairs.parquet",
            "pairs.jsonl",
            "clusters.jsonl",
            "deduplicated.jsonl",
            "run.json",
        ],
        "timings_seconds": {"export": round(time.perf_counter() - started, 4)},
    }
    write_json(out_dir / "run.json", run)
    return run
