"""The originals chosen for all clusters at once agree with `choose_original`, cluster by cluster."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neardup.cluster import RULES, choose_original, choose_originals

# few distinct values, so that ties (and all-unknown dates) are common
dates = st.sampled_from([np.nan, 1.0, 2.0, 3.0])
scores = st.sampled_from([0.0, 0.5, 0.5 + 1e-12, 1.0])
lengths = st.sampled_from([10, 20, 30])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(2, 6), min_size=1, max_size=8),
    st.data(),
)
def test_vectorised_originals_match_the_rule_cluster_by_cluster(sizes, data) -> None:
    n = sum(sizes)
    published = np.array(data.draw(st.lists(dates, min_size=n, max_size=n)), np.float64)
    score = np.array(data.draw(st.lists(scores, min_size=n, max_size=n)), np.float64)
    length = np.array(data.draw(st.lists(lengths, min_size=n, max_size=n)), np.int64)
    nodes = np.arange(n, dtype=np.int64)
    bounds = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    originals, rules = choose_originals(nodes, bounds, published, score, length.astype(float))
    for c in range(len(sizes)):
        members = nodes[bounds[c] : bounds[c + 1]]
        assert (int(originals[c]), RULES[rules[c]]) == choose_original(
            members, published, score, length
        )
