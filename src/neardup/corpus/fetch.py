"""Reading texts back after a find run, for the documents that need them (alignment, report).

A find run keeps no text: only (source index, ordinal) per document. To show what was copied we
read the sources again with the same `Reader` (so ordinals, ids, text fields and decoding are
exactly those of the first pass) and keep only the texts of the documents asked for.

`iter_group_texts` hands them out group by group (a group is a cluster). Records of plain
(uncompressed) JSONL files are read back where they are: the first pass noted each line's byte
offset and length, so a group's members are read with one `pread` each and parsed as the
`Reader` parses them, and nothing else of the file is touched. Other records come from a second
pass over their sources: a group is yielded as soon as the last of its members has been read and
its texts are then dropped, so memory holds the texts of the groups still open, never the corpus.
When those groups together hold more characters than `max_chars_in_memory`, they are split into
rounds, one pass over the sources each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from neardup.config import Settings
from neardup.corpus.readers import ProblemLog, Reader, parse_jsonl_record
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
    byte_offset: np.ndarray | None = None,
    byte_length: np.ndarray | None = None,
) -> Iterator[tuple[int, dict[int, str]]]:
    """Yield (group number, {document number: text}) for every group of document numbers.

    With `byte_offset` and `byte_length` (per document; -1 where unknown), the groups whose
    members all have one come first, in group order, read at those offsets. The others come when
    complete, in reading order of their last member; with `n_chars` (the length of each document)
    they are read in rounds of at most `max_chars_in_memory` characters. Documents that cannot
    be read again (a source changed since the run: with `n_chars`, a text of another length
    counts as changed) leave their group incomplete; such groups are yielded at the end of the
    round with the texts found.
    """
    streamed: Sequence[int] = range(len(groups))
    if (
        byte_offset is not None
        and byte_length is not None
        and len(byte_offset) == len(byte_length) == len(source_index)
    ):
        direct = [g for g, members in enumerate(groups) if (byte_offset[members] >= 0).all()]
        yield from _read_at_offsets(
            sources, settings, source_index, groups, direct, byte_offset, byte_length, n_chars
        )
        at_offsets = set(direct)
        streamed = [g for g in range(len(groups)) if g not in at_offsets]
    rounds: list[list[int]] = [[]]
    total = 0
    for g in streamed:
        members = groups[g]
        size = int(n_chars[members].sum()) if n_chars is not None else 0
        if rounds[-1] and total + size > max_chars_in_memory:
            rounds.append([])
            total = 0
        rounds[-1].append(g)
        total += size
    for round_groups in rounds:
        if round_groups:
            yield from _one_round(sources, settings, source_index, ordinal, groups, round_groups)


def _read_at_offsets(
    sources: list[Source],
    settings: Settings,
    source_index: np.ndarray,
    groups: Sequence[np.ndarray],
    wanted_groups: list[int],
    byte_offset: np.ndarray,
    byte_length: np.ndarray,
    n_chars: np.ndarray | None,
) -> Iterator[tuple[int, dict[int, str]]]:
    paths = [str(s.path) for s in sources]
    with RecordFiles(paths) as files:
        for g in wanted_groups:
            members = np.unique(groups[g])
            refs = record_refs(members, source_index, byte_offset, byte_length, n_chars)
            yield g, files.read_texts(refs, settings)


Ref = tuple[int, int, int, int, int]  # (document, source number, byte offset, length, n_chars)


def record_refs(
    docs: np.ndarray,
    source_index: np.ndarray,
    byte_offset: np.ndarray,
    byte_length: np.ndarray,
    n_chars: np.ndarray | None,
) -> list[Ref]:
    """Where the records of `docs` are (see `RecordFiles.read_texts`), in file order."""
    docs = np.asarray(docs, np.int64)
    docs = docs[np.lexsort((byte_offset[docs], source_index[docs]))]
    chars = n_chars[docs] if n_chars is not None else np.full(len(docs), -1, np.int64)
    return list(
        zip(
            docs.tolist(),
            source_index[docs].tolist(),
            byte_offset[docs].tolist(),
            byte_length[docs].tolist(),
            chars.tolist(),
            strict=True,
        )
    )


class RecordFiles:
    """Plain JSONL files open for reading records at known byte offsets (a worker process opens
    its own: only paths and offsets travel between processes, never texts)."""

    def __init__(self, paths: Sequence[str]):
        self.paths = list(paths)
        self._fds: dict[int, int] = {}

    def __enter__(self) -> RecordFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._fds.values():
            if fd >= 0:
                os.close(fd)
        self._fds.clear()

    def read_texts(self, refs: Sequence[Ref], settings: Settings) -> dict[int, str]:
        """{document: text} for the records found as they were (a line that no longer parses,
        or whose text has another length than `n_chars`, was changed since: left out)."""
        texts: dict[int, str] = {}
        for d, s, offset, length, chars in refs:
            if s not in self._fds:
                try:
                    self._fds[s] = os.open(self.paths[s], os.O_RDONLY)
                except OSError:
                    self._fds[s] = -1
            if self._fds[s] < 0:
                continue
            try:
                raw = os.pread(self._fds[s], length, offset)
            except OSError:
                continue
            text = parse_jsonl_record(raw, settings)
            if text is not None and (chars < 0 or len(text) == chars):
                texts[d] = text
        return texts


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
