"""Reading texts back after a find run, for the documents that need them (alignment, report).

A find run keeps no text: only (source index, ordinal) per document. To show what was copied we
read the sources again with the same `Reader` (so ordinals, ids, text fields and decoding are
exactly those of the first pass) and keep only the texts of the documents asked for.

`iter_group_texts` hands them out group by group (a group is a cluster): a group is yielded as
soon as the last of its members has been read and its texts are then dropped, so memory holds the
texts of the groups still open, never the corpus. When the groups together hold more characters
than `max_chars_in_memory`, they are split into rounds, one pass over the sources each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from neardup.config import Settings
from neardup.corpus.readers import ProblemLog, Reader
from neardup.corpus.sources import Source

DEFAULT_MAX_CHARS_IN_MEMORY = 100_000_000


def iter_group_texts(
    sources: list[Source],
    settings: Settings,
    source_index: np.ndarray,
    ordinal: np.ndarray,
    groups: Sequence[np.ndarray],
    n_chars: np.ndarray | None = None,
    max_chars_in_memory: int = DEFAULT_MAX_CHARS_IN_MEMORY,
) -> Iterator[tuple[int, dict[int, str]]]:
    """Yield (group number, {document number: text}) for every group of document numbers.

    Groups come out when complete, in reading order of their last member; with `n_chars` (the
    length of each document) they are read in rounds of at most `max_chars_in_memory`
    characters. Documents that cannot be read again (a source changed since the run) leave their
    group incomplete; such groups are yielded at the end of the round with the texts found.
    """
    rounds: list[list[int]] = [[]]
    total = 0
    for g, members in enumerate(groups):
        size = int(n_chars[members].sum()) if n_chars is not None else 0
        if rounds[-1] and total + size > max_chars_in_memory:
            rounds.append([])
            total = 0
        rounds[-1].append(g)
        total += size
    for round_groups in rounds:
        if round_groups:
            yield from _one_round(sources, settings, source_index, ordinal, groups, round_groups)


def _one_round(
    sources: list[Source],
    settings: Settings,
    source_index: np.ndarray,
    ordinal: np.ndarray,
    groups: Sequence[np.ndarray],
    round_groups: list[int],
) -> Iterator[tuple[int, dict[int, str]]]:
    wanted: dict[tuple[int, int], list[int]] = {}  # (source, ordinal) -> [document number]
    group_of: dict[int, list[int]] = {}
    remaining: dict[int, int] = {}
    for g in round_groups:
        members = groups[g].tolist()
        remaining[g] = len(set(members))
        for d in set(members):
            group_of.setdefault(d, []).append(g)
            wanted.setdefault((int(source_index[d]), int(ordinal[d])), []).append(d)
    needed_sources = {s for s, _ in wanted}
    texts: dict[int, str] = {}
    reader = Reader(
        [src for i, src in enumerate(sources) if i in needed_sources],
        settings,
        ProblemLog("skip"),
    )
    # the reader numbers the sources it is given from 0: map back to the run's numbers
    numbers = [i for i in range(len(sources)) if i in needed_sources]
    for batch in reader:
        s = numbers[batch.source_index]
        for k, o in enumerate(batch.ordinals):
            docs = wanted.get((s, o))
            if not docs:
                continue
            for d in docs:
                texts[d] = batch.texts[k]
                for g in group_of[d]:
                    remaining[g] -= 1
                    if remaining[g] == 0:
                        yield g, {m: texts[m] for m in groups[g].tolist() if m in texts}
                        _release(g, groups, group_of, remaining, texts)
    for g in round_groups:
        if remaining.get(g, 0) > 0:
            yield g, {m: texts[m] for m in groups[g].tolist() if m in texts}


def _release(
    g: int,
    groups: Sequence[np.ndarray],
    group_of: dict[int, list[int]],
    remaining: dict[int, int],
    texts: dict[int, str],
) -> None:
    """Drop the texts no open group needs any more."""
    del remaining[g]
    for m in groups[g].tolist():
        if m in texts and all(other not in remaining for other in group_of[m]):
            del texts[m]
