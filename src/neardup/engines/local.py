"""The local engine: maps a stage over batches with a pool of worker processes.

Workers are forked after the compiled kernels are loaded, so they start at once. Results come
back in submission order and at most `IN_FLIGHT * workers` batches are in flight, so memory stays
bounded by a few batches whatever the corpus size, while a worker rarely waits for the parent to
take the oldest result. With one worker everything runs in this process.
Results do not depend on the number of workers: each batch is processed independently and
results are consumed in input order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT = 4  # batches in flight per worker


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class LocalEngine:
    """Runs `fn(*args, payload(item))` for each item, in parallel, yielding (item, result)."""

    name = "local"

    def __init__(self, workers: int | None = None, warmup: Callable[[], Any] | None = None):
        self.workers = workers or default_workers()
        self._warmup = warmup

    def map(
        self,
        fn: Callable[..., R],
        items: Iterable[T],
        payload: Callable[[T], Any],
        *args: Any,
    ) -> Iterator[tuple[T, R]]:
        if self._warmup:
            self._warmup()
        if self.workers <= 1:
            for item in items:
                yield item, fn(*args, payload(item))
            return
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        with ProcessPoolExecutor(self.workers, mp_context=ctx) as pool:
            pending: deque[tuple[T, Future[R]]] = deque()
            for item in items:
                pending.append((item, pool.submit(fn, *args, payload(item))))
                # drop our reference to the payload's source as soon as it is submitted
                if len(pending) >= IN_FLIGHT * self.workers:
                    done_item, fut = pending.popleft()
                    yield done_item, fut.result()
            while pending:
                done_item, fut = pending.popleft()
                yield done_item, fut.result()
