"""The index writer's compiled helpers give what the plain numpy code they replaced gave."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neardup.index.kernels import anchor_pairs, gather_sets


def reference_anchor_pairs(values, owners, n_of, first_new, max_df, min_ratio, among_new):
    """The numpy version the index used before `anchor_pairs` (sessions 3-4)."""
    order = np.argsort((values.astype(np.uint64) << np.uint64(32)) | owners.astype(np.uint64))
    values, owners, n_of = values[order], owners[order], n_of[order]
    size = len(values)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    group_len = np.diff(np.r_[starts, size])
    group_start = np.repeat(starts, group_len)
    df = np.repeat(group_len, group_len)
    pos = np.arange(size)
    mine = (owners >= first_new) & (df >= 2) & (df <= max_df)
    src = pos[mine]
    n_partners = src - group_start[mine]
    if n_partners.sum() == 0:
        return np.zeros((0, 2), np.int64)
    later = np.repeat(src, n_partners)
    base = np.repeat(group_start[mine], n_partners)
    step = np.arange(len(later)) - np.repeat(np.cumsum(n_partners) - n_partners, n_partners)
    earlier = base + step
    a, b = owners[earlier], owners[later]
    if not among_new:
        keep = a < first_new
        a, b, earlier, later = a[keep], b[keep], earlier[keep], later[keep]
    code = (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)
    code, first_at, shared = np.unique(code, return_index=True, return_counts=True)
    smaller = np.minimum(n_of[earlier[first_at]], n_of[later[first_at]])
    keep = shared >= np.maximum(1, np.ceil(min_ratio * smaller))
    return np.stack([a[first_at][keep], b[first_at][keep]], axis=1).astype(np.int64)


@pytest.mark.parametrize("among_new", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_anchor_pairs_match_the_numpy_reference(seed: int, among_new: bool) -> None:
    rng = np.random.default_rng(seed)
    n_docs = int(rng.integers(2, 400))
    # sparse document numbers (old ones removed, big numbers), few distinct anchors so that
    # documents share many of them and some anchors pass max_df
    nums = np.sort(rng.choice(5_000_000, n_docs, replace=False)).astype(np.int64)
    first_new = int(nums[rng.integers(0, n_docs)])
    values, owners, n_of = [], [], []
    for d in nums.tolist():
        k = int(rng.integers(0, 30))
        mine = rng.choice(200 + seed * 50, k, replace=False)
        values.append(mine)
        owners.append(np.full(k, d))
        n_of.append(np.full(k, k))
    v, o, c = (np.concatenate(x).astype(np.int64) for x in (values, owners, n_of))
    shuffle = rng.permutation(len(v))
    v, o, c = v[shuffle], o[shuffle], c[shuffle]
    for max_df, ratio in ((500, 0.5), (12, 0.3), (3, 0.9)):
        got = anchor_pairs(v, o, c, first_new, max_df, ratio, among_new)
        want = reference_anchor_pairs(v, o, c, first_new, max_df, ratio, among_new)
        assert np.array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), max_size=30),
    pad=st.lists(st.integers(0, 7), min_size=30, max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_gather_sets_reads_each_set_where_it_is_stored(sizes, pad, seed) -> None:
    """Sets written end to end at any byte offset (texts between them leave them unaligned)
    come back in the order asked, as slices of the file would give them."""
    rng = np.random.default_rng(seed)
    sets = [rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32) for n in sizes]
    blob, at = bytearray(), []
    for k, values in enumerate(sets):
        blob += bytes(pad[k])  # unaligned: bytes of other blobs before each set
        at.append(len(blob))
        blob += values.tobytes()
    order = rng.permutation(len(sets))
    data = np.frombuffer(bytes(blob), np.uint8)
    values, offsets = gather_sets(data, np.array(at)[order], np.array(sizes, np.int64)[order])
    assert values.dtype == np.uint32 and offsets[0] == 0 and len(offsets) == len(sets) + 1
    for k, i in enumerate(order.tolist()):
        assert np.array_equal(values[offsets[k] : offsets[k + 1]], sets[i])
