"""One settings object for every stage and engine; every output records it.

`Settings` is frozen and hashable, so a run, an index or a worker process can hold it and compare
it cheaply. `Settings.to_dict()` is what `run.json` and the index store; `Settings.from_dict()`
reads it back and refuses unknown keys, so a typo never silently falls back to a default.

The LSH banding (bands x rows) is *derived* from the threshold and the number of hashes rather than
set by hand: see `lsh_params`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

OnError = Literal["skip", "fail"]


@dataclass(frozen=True)
class Settings:
    """Matching and input settings. Defaults were chosen by measurement (benchmarks/QUALITY.md)."""

    # --- matching -------------------------------------------------------------------------------
    ngram: int = 5
    """Shingle size in tokens (words; single characters for scripts written without spaces)."""
    threshold: float = 0.5
    """A pair is a duplicate when the Jaccard similarity of its shingle sets reaches this..."""
    containment: float = 0.7
    """...or when this share of one document's shingles is found in the other."""
    min_containment_shingles: int = 15
    """The contained document needs at least this many shingles for the containment rule, so a
    one-line snippet that occurs inside many articles does not tie them together."""
    num_perm: int = 128
    """MinHash signature length (one-permutation hashing bins)."""
    seed: int = 1
    """Seed of every hash; the same seed gives the same signatures on every machine."""
    anchor_rate: int = 16
    """One shingle in `anchor_rate` (chosen by hash, so the same in every document) is an anchor
    of the containment index; must be a power of two."""
    anchor_min_ratio: float = 0.5
    """Candidate when the shared anchors cover this share of the smaller document's anchors."""
    anchor_max_df: int = 500
    """Anchors that occur in more documents than this are too common to pair documents on."""
    lsh_target_recall: float = 0.98
    """LSH bands are chosen so that a pair exactly at `threshold` is proposed with at least this
    probability (the anchor index then covers much of the rest)."""
    max_bucket: int = 64
    """An LSH bucket larger than this proposes each member with its next few neighbours only,
    rather than every pair (which would grow quadratically)."""
    boilerplate: str = "site"
    """Text that recurs around unrelated documents (site chrome, press-release boilerplate,
    template wording) does not count toward similarity (see neardup.boilerplate): "site" finds it
    per site (the document's url host, else its `site` or `source`), "corpus" treats the whole
    corpus as one site, "off" turns it off."""
    boilerplate_min_contexts: int = 3
    """A shingle is boilerplate when it occurs next to at least this many different texts of a
    site."""
    boilerplate_min_context_shingles: int = 10
    """A document's own text (shingles rare in its site) must have this many shingles to count as
    a context."""
    boilerplate_sample: int = 5000
    """Documents of a site analysed for its boilerplate, at most (spread evenly over the site's
    documents in input order; 0: all). Chrome is on most of a site's pages, so a sample finds it,
    and the memory and time of detection stay bounded for very large sites."""

    # --- input ----------------------------------------------------------------------------------
    id_field: str = "id"
    text_field: str = "text"
    published_field: str = "published"
    max_chars: int = 10_000_000
    """Documents longer than this (in characters) are skipped and reported; 0 means no limit."""
    on_error: OnError = "skip"
    extract: str = "trafilatura"
    """HTML and WARC input: "trafilatura" keeps each page's main text, "none" all its visible text."""

    # --- execution (does not change results) -------------------------------------------------------
    batch_size: int = 2048
    extract_workers: int = 1
    """Processes extracting the text of HTML and WARC pages (`neardup find` uses --workers)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        problems = []
        if self.ngram < 1:
            problems.append(f"ngram must be at least 1, got {self.ngram}")
        if not 0.0 < self.threshold <= 1.0:
            problems.append(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 < self.containment <= 1.0:
            problems.append(f"containment must be in (0, 1], got {self.containment}")
        if self.num_perm < 8 or self.num_perm > 1024:
            problems.append(f"num_perm must be between 8 and 1024, got {self.num_perm}")
        if self.anchor_rate < 1 or self.anchor_rate & (self.anchor_rate - 1):
            problems.append(f"anchor_rate must be a power of two, got {self.anchor_rate}")
        if self.on_error not in ("skip", "fail"):
            problems.append(f"on_error must be 'skip' or 'fail', got {self.on_error!r}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be positive, got {self.batch_size}")
        if self.max_chars < 0:
            problems.append(f"max_chars must be 0 (no limit) or positive, got {self.max_chars}")
        if self.boilerplate not in ("site", "corpus", "off"):
            problems.append(
                f"boilerplate must be 'site', 'corpus' or 'off', got {self.boilerplate!r}"
            )
        if self.boilerplate_min_contexts < 2:
            problems.append(
                f"boilerplate_min_contexts must be at least 2, got {self.boilerplate_min_contexts}"
            )
        if self.boilerplate_sample and self.boilerplate_sample < self.boilerplate_min_contexts:
            problems.append(
                "boilerplate_sample must be 0 (all documents) or at least "
                f"boilerplate_min_contexts, got {self.boilerplate_sample}"
            )
        if self.boilerplate_min_context_shingles < 1:
            problems.append(
                "boilerplate_min_context_shingles must be positive, "
                f"got {self.boilerplate_min_context_shingles}"
            )
        if self.extract_workers < 1:
            problems.append(f"extract_workers must be positive, got {self.extract_workers}")
        if self.extract not in ("trafilatura", "none"):
            problems.append(f"extract must be 'trafilatura' or 'none', got {self.extract!r}")
        if problems:
            raise ValueError("invalid settings: " + "; ".join(problems))

    # Settings that change which pairs are found; an index refuses requests that differ in these.
    MATCHING_FIELDS = (
        "ngram",
        "threshold",
        "containment",
        "min_containment_shingles",
        "num_perm",
        "seed",
        "anchor_rate",
        "anchor_min_ratio",
        "anchor_max_df",
        "lsh_target_recall",
        "max_bucket",
        "boilerplate",
        "boilerplate_min_contexts",
        "boilerplate_min_context_shingles",
        "boilerplate_sample",
    )

    @property
    def bands(self) -> int:
        return lsh_params(self.threshold, self.num_perm, self.lsh_target_recall)[0]

    @property
    def rows(self) -> int:
        return lsh_params(self.threshold, self.num_perm, self.lsh_target_recall)[1]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("extra")
        d["lsh_bands"], d["lsh_rows"] = self.bands, self.rows
        return d

    def matching_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.MATCHING_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        d = {k: v for k, v in d.items() if k not in ("lsh_bands", "lsh_rows")}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        return cls(**d)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def band_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that LSH with `bands` bands of `rows` rows proposes a pair of that Jaccard."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def lsh_params(threshold: float, num_perm: int, target_recall: float = 0.98) -> tuple[int, int]:
    """Bands and rows for a threshold: the most selective banding that still proposes a pair at
    the threshold with probability >= target_recall.

    With b bands of r rows, a pair of Jaccard s shares at least one band with probability
    1 - (1 - s^r)^b. More rows per band means fewer false candidates, so we take the largest r
    (with b = num_perm // r) whose probability at the threshold reaches the target; if none does,
    r = 1 (every hash its own band).
    """
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if bands < 1:
            break
        if band_probability(threshold, bands, rows) >= target_recall:
            best = (bands, rows)
    return best


def minhash_error_bound(similarity: float, num_perm: int, z: float = 4.0) -> float:
    """A bound on |estimate - Jaccard| that MinHash with `num_perm` hashes exceeds with
    probability below ~1e-4 (z standard deviations of the binomial estimate, plus one bin)."""
    return z * math.sqrt(max(similarity * (1 - similarity), 0.0) / num_perm) + 1.0 / num_perm
