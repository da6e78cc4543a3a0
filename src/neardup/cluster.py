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
    groups = np.split(nodes, np.flatnonzero(np.diff(labels[nodes])) + 1)
    score = contained_scores(n, pairs)
    originals = np.empty(len(groups), np.int64)
    rules = []
    for c, members in enumerate(groups):
        original, rule = choose_original(members, published, score, sizes)
        originals[c] = original
        rules.append(rule)
    return ClusterTable(groups, originals, rules)


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
