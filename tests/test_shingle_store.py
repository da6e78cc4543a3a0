"""The on-disk store of shingle sets: sets appended by this process and sets spooled by workers
(with documents left out) read back as they were given."""

from __future__ import annotations

import numpy as np

from neardup.verify import ShingleStore, spool_sets


def _batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    sets = [
        np.unique(rng.integers(0, 2**32, rng.integers(0, 50), dtype=np.uint64)).astype(np.uint32)
        for _ in range(n)
    ]
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum([len(x) for x in sets], out=offsets[1:])
    values = np.concatenate(sets) if n else np.zeros(0, np.uint32)
    return values, offsets, sets


def test_appended_and_spooled_sets_read_back_in_document_order() -> None:
    rng = np.random.default_rng(5)
    store = ShingleStore()
    try:
        expected: list[np.ndarray] = []
        for k in range(6):
            values, offsets, sets = _batch(rng, 40)
            if k % 2:  # a worker's batch, some of whose documents were not kept
                rows = np.flatnonzero(rng.random(40) < 0.8)
                store.append_spooled(spool_sets(store.directory, values), offsets, rows)
                expected += [sets[r] for r in rows]
            else:
                store.append(values, offsets)
                expected += sets
        assert np.array_equal(store.sizes(), [len(x) for x in expected])
        docs = rng.permutation(len(expected))[:70]
        got, got_offsets = store.gather(docs)
        for k, d in enumerate(docs):
            assert np.array_equal(got[got_offsets[k] : got_offsets[k + 1]], expected[d])
        everything, _ = store.gather(np.arange(len(expected)))
        assert np.array_equal(everything, np.concatenate(expected))
        assert np.array_equal(store.get(3), expected[3])
    finally:
        store.close()


def test_threads_gathering_at_once_from_a_fresh_store_read_the_same() -> None:
    import sys
    import threading
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(6)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: a race, if any, shows
    try:
        for _ in range(10):  # the first gathers join the store's per-batch arrays
            store = ShingleStore()
            try:
                expected: list[np.ndarray] = []
                for k in range(300):
                    values, offsets, sets = _batch(rng, 3)
                    if k % 2:
                        spooled = spool_sets(store.directory, values)
                        store.append_spooled(spooled, offsets, np.arange(3))
                    else:
                        store.append(values, offsets)
                    expected += sets
                docs = [rng.permutation(len(expected))[:50] for _ in range(8)]
                start = threading.Barrier(8)

                def gather(wanted: np.ndarray, store: ShingleStore = store, start=start) -> tuple:
                    start.wait()
                    return store.gather(wanted)

                with ThreadPoolExecutor(8) as pool:
                    results = list(pool.map(gather, docs))
                for wanted, (got, got_offsets) in zip(docs, results, strict=True):
                    for k, d in enumerate(wanted):
                        assert np.array_equal(got[got_offsets[k] : got_offsets[k + 1]], expected[d])
            finally:
                store.close()
    finally:
        sys.setswitchinterval(interval)
