"""The local engine: maps a stage over batches with a pool of worker processes.

Workers are forked after the compiled kernels are loaded, so they start at once. Results come
back in submission order and at most `IN_FLIGHT * workers` batches are in flight, so memory stays
bounded by a few batches whatever the corpus size, while a worker rarely waits for the parent to
take the oldest result. With one worker everything runs in this process.
Results do not depend on the number of workers: each batch is processed independently and
results are consumed in input order.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import multiprocessing as mp
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT = 4  # batches in flight per worker


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc
        return None


def release_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim).

    The stages allocate and free hundreds of megabytes of arrays of every size; glibc keeps
    what is freed inside its heap, so without this the resident size only grows from stage to
    stage, and forked workers start from a larger parent."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    if "pyarrow" in sys.modules:  # and Arrow's allocator its cached pages
        sys.modules["pyarrow"].default_memory_pool().release_unused()


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_WORKER_MMAP_THRESHOLD = 64 << 20
_WORKER_TRIM_THRESHOLD = 256 << 20


def _worker_malloc() -> None:
    """In a worker: keep freed memory for the next batch instead of handing it back.

    By default glibc serves allocations of a few megabytes (a batch's bytes, its numpy arrays)
    with fresh mmaps and trims the heap as soon as its top is free, so every batch touches new
    pages, and each page costs a fault: with 2 workers on 100,000 documents, ~250,000 more
    faults and about a second more of system time than one process doing the same work. A
    worker's heap then stays at its largest batch (tens of megabytes), which it reuses."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):  # not glibc
        return
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _WORKER_MMAP_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, _WORKER_TRIM_THRESHOLD)


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
        release_memory()
        # the parent's objects out of the collector's reach until the workers have forked (at
        # the first submit): a collection in a worker would otherwise write to every object's
        # header and so copy the parent's pages one by one
        gc.freeze()
        frozen = True
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_worker_malloc) as pool:
            pending: deque[tuple[T, Future[R]]] = deque()
            try:
                for item in items:
                    pending.append((item, pool.submit(fn, *args, payload(item))))
                    if frozen:
                        gc.unfreeze()
                        frozen = False
                    # drop our reference to the payload's source as soon as it is submitted
                    if len(pending) >= IN_FLIGHT * self.workers:
                        done_item, fut = pending.popleft()
                        yield done_item, fut.result()
            finally:
                if frozen:
                    gc.unfreeze()
            while pending:
                done_item, fut = pending.popleft()
                yield done_item, fut.result()
