"""Clusters and originals.

Clusters are the connected components of the verified pairs (exact duplicates included): if B
copies A and C copies B, all three are one story. Each cluster names one original, by the first
rule that tells its members apart:

1. "earliest_published": the earliest `published` date among the members that have one;
2. "contains_most": the member that contains most of the others, i.e. the largest sum over its
   verified pairs of the share of the other document found in it. A syndicated copy drops the
   headline, byline and credits and adds ads; the wire story contains more of the copy than the
   copy contains of it;
3. "longest": the member with the most shingles;
4. "first_in_input": the member read first (exact duplicates end here).

Cluster numbers follow the input order of each cluster's first member, so they are stable for the
same input whatever the engine or the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from neardup.verify import VerifiedPairs


@nb.njit(cache=True)
def _components(n, a, b):
    parent = np.arange(n)
    for p in range(len(a)):
        x, y = a[p], b[p]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y
    for i in range(n):
        r = i
        while parent[r] != r:
            r = parent[r]
        parent[i] = r
    return parent


def connected_components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label of each of n nodes: the smallest node number of its component."""
    return _components(n, a.astype(np.int64), b.astype(np.int64))


@dataclass
class ClusterTable:
    """Clusters of two or more documents, numbered 0.. in input order of their first member."""

    members: list[np.ndarray]  # document numbers, ascending
    original: np.ndarray  # document number of each cluster's original
    rule: list[str]

    def __len__(self) -> int:
        return len(self.members)


def contained_scores(n: int, pairs: VerifiedPairs) -> np.ndarray:
    """Per document: the sum over its pairs of the share of the other document it contains."""
    score = np.zeros(n, np.float64)
    np.add.at(score, pairs.a, pairs.b_in_a)
    np.add.at(score, pairs.b, pairs.a_in_b)
    return score


def build_clusters(
    n: int, pairs: VerifiedPairs, published: np.ndarray, sizes: np.ndarray
) -> ClusterTable:
    """Connected components of the pairs, each with its original and the rule that chose it.

    published: seconds since the epoch per document (NaN where unknown); sizes: shingle counts.
    """
    labels = connected_components(n, pairs.a, pairs.b)
    in_pairs = np.zeros(n, bool)
    in_pairs[pairs.a] = True
    in_pairs[pairs.b] = True
    nodes = np.flatnonzero(in_pairs)
    if len(nodes) == 0:
        return ClusterTable([], np.zeros(0, np.int64), [])
    order = np.lexsort((nodes, labels[nodes]))
    nodes = nodes[order]
    cuts = np.flatnonzero(np.diff(labels[nodes])) + 1
    groups = np.split(nodes, cuts)
    score = contained_scores(n, pairs)
    bounds = np.r_[0, cuts, len(nodes)].astype(np.int64)
    originals, rule_codes = choose_originals(
        nodes, bounds, np.asarray(published, np.float64), score, np.asarray(sizes, np.float64)
    )
    return ClusterTable(groups, originals, [RULES[r] for r in rule_codes.tolist()])


RULES = ("earliest_published", "contains_most", "longest", "first_in_input")


@nb.njit(cache=True)
def choose_originals(nodes, bounds, published, score, sizes):
    """`choose_original` of each cluster nodes[bounds[c]:bounds[c + 1]], in one pass: (original,
    index of its rule in RULES) per cluster.

    nodes (int64): the members of each cluster in input order, bounds (int64): where each cluster
    starts, then len(nodes); published, score and sizes (float64, indexed by node): the date (NaN
    where unknown), the contained score and the shingle count. The rule: the earliest published
    member ("earliest_published"); among ties (or all when no member has a date), the largest
    score within 1e-9 ("contains_most"); then the largest size within 1e-9 ("longest"); then the
    first of them in nodes' order ("first_in_input").
    """
    k = len(bounds) - 1
    originals = np.empty(k, np.int64)
    rules = np.empty(k, np.int8)
    cand = np.empty(len(nodes), np.int64)
    for c in range(k):
        lo, hi = bounds[c], bounds[c + 1]
        m = 0
        earliest = np.inf
        for i in range(lo, hi):
            d = published[nodes[i]]
            if not np.isnan(d) and d < earliest:
                earliest = d
        if earliest < np.inf:
            for i in range(lo, hi):
                if published[nodes[i]] == earliest:
                    cand[m] = nodes[i]
                    m += 1
        else:
            for i in range(lo, hi):
                cand[m] = nodes[i]
                m += 1
        rule = 0
        if m > 1 or earliest == np.inf:
            rule = 3
            for r in range(2):
                values = score if r == 0 else sizes
                best = -np.inf
                for j in range(m):
                    best = max(best, values[cand[j]])
                kept = 0
                for j in range(m):
                    # sums of floats: values within 1e-9 are equal, so ties stay ties
                    if values[cand[j]] >= best - 1e-9:
                        cand[kept] = cand[j]
                        kept += 1
                m = kept
                if m == 1:
                    rule = r + 1
                    break
        originals[c] = cand[0]
        rules[c] = rule
    return originals, rules


def choose_original(
    members: np.ndarray, published: np.ndarray, score: np.ndarray, sizes: np.ndarray
) -> tuple[int, str]:
    """The original among `members` (ascending document numbers) and the rule that decided."""
    candidates = members
    dates = published[candidates]
    if not np.all(np.isnan(dates)):
        earliest = np.nanmin(dates)
        candidates = candidates[dates == earliest]
        if len(candidates) == 1:
            return int(candidates[0]), "earliest_published"
    for rule, values in (("contains_most", score), ("longest", sizes)):
        v = values[candidates]
        best = v.max()
        # scores are sums of floats: treat values within 1e-9 as equal so ties stay ties
        candidates = candidates[v >= best - 1e-9]
        if len(candidates) == 1:
            return int(candidates[0]), rule
    return int(candidates[0]), "first_in_input"
