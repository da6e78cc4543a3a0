"""How the report's workers get their work does not change what they write: forked workers get
cluster numbers and build their jobs from the run they inherited; elsewhere (no fork) the parent
builds the jobs; texts are read at their offsets or passed along."""

from __future__ import annotations

import gzip
import multiprocessing
from pathlib import Path

import pytest

import neardup
from neardup.report import write_alignments_and_report
from tests.test_report import _generated_corpus, embedded_json


@pytest.mark.parametrize("name", ["corpus.jsonl", "corpus.jsonl.gz"])
def test_jobs_built_by_the_workers_or_by_the_parent_give_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    corpus = tmp_path / name  # plain: texts read at offsets; gzip: passed from a second pass
    _generated_corpus(tmp_path / "corpus.jsonl.gz", stories=30, copies=2)
    if name == "corpus.jsonl":
        corpus.write_bytes(gzip.decompress((tmp_path / "corpus.jsonl.gz").read_bytes()))
    result = neardup.find([corpus])
    outputs = []
    for label in ("forked view", "parent jobs"):
        if label == "parent jobs":
            monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
        out = tmp_path / label.replace(" ", "-")
        out.mkdir()
        write_alignments_and_report(result, out, workers=2)
        page = (out / "report.html").read_text(encoding="utf-8")
        outputs.append(((out / "alignments.jsonl").read_bytes(), embedded_json(page, "nd-index")))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].count(b"\n") == len(result.pairs) > 0
