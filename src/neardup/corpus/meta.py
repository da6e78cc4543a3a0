"""Per-document metadata (title, source, url, published, ...) kept compactly in Arrow arrays.

A corpus of a million documents would hold a million small dicts as Python objects (about half a
kilobyte each); Arrow string arrays hold the same in the bytes of the strings plus offsets. Reads
give back a plain dict per document, so callers see a sequence of dicts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa


class MetaColumns(Sequence[dict[str, str]]):
    """An append-only sequence of metadata dicts, stored one Arrow table per batch."""

    def __init__(self) -> None:
        self._tables: list[pa.Table] = []
        self._starts: list[int] = []
        self._len = 0

    @staticmethod
    def table(metas: Sequence[dict[str, str]]) -> pa.Table:
        """The Arrow table of a batch's metadata (what `extend` stores; a worker process can
        build it and send it instead of the dicts)."""
        keys = list(dict.fromkeys(k for m in metas for k in m))
        if not keys:
            return pa.table({"_": pa.nulls(len(metas), pa.string())})
        return pa.table({k: pa.array([m.get(k) for m in metas], pa.string()) for k in keys})

    def extend(self, metas: Sequence[dict[str, str]]) -> None:
        if metas:
            self.extend_table(self.table(metas))

    def extend_table(self, table: pa.Table) -> None:
        """Append the rows of a `table(metas)`."""
        if not table.num_rows:
            return
        self._tables.append(table)
        self._starts.append(self._len)
        self._len += table.num_rows

    def append(self, meta: dict[str, str]) -> None:
        self.extend([meta])

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._len))]
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(i)
        t = bisect.bisect_right(self._starts, i) - 1
        table, row = self._tables[t], i - self._starts[t]
        out = {}
        for name, column in zip(table.column_names, table.columns, strict=True):
            value = column[row].as_py()
            if value is not None and name != "_":
                out[name] = value
        return out

    def rows(self, indices: Sequence[int]) -> list[dict[str, str]]:
        """The metadata of many documents at once (one Arrow `take` per batch table): much
        faster than indexing one by one."""
        positions = np.asarray(indices, np.int64)
        out: list[dict[str, str]] = [{} for _ in range(len(positions))]
        if len(positions) == 0:
            return out
        if len(self._tables) > 1:
            self.compact()
        if positions.min() < 0 or positions.max() >= self._len:
            raise IndexError("metadata row out of range")
        table_of = np.searchsorted(np.asarray(self._starts, np.int64), positions, side="right") - 1
        for t in np.unique(table_of).tolist():
            where = np.flatnonzero(table_of == t)
            table = self._tables[t]
            taken = table.take(pa.array(positions[where] - self._starts[t]))
            names = taken.column_names
            columns = [c.to_pylist() for c in taken.columns]
            for k, w in enumerate(where.tolist()):
                out[w] = {
                    n: col[k]
                    for n, col in zip(names, columns, strict=True)
                    if col[k] is not None and n != "_"
                }
        return out

    def compact(self) -> None:
        """One table for all batches (columns a batch lacks are null), so that a `take` of rows
        from anywhere is one call."""
        if len(self._tables) <= 1:
            return
        table = pa.concat_tables(self._tables, promote_options="default").combine_chunks()
        self._tables = [table]
        self._starts = [0]

    def __iter__(self) -> Iterator[dict[str, str]]:
        for table in self._tables:
            names = table.column_names
            columns = [c.to_pylist() for c in table.columns]
            for row in range(table.num_rows):
                yield {
                    n: col[row]
                    for n, col in zip(names, columns, strict=True)
                    if col[row] is not None and n != "_"
                }

    def column(self, name: str) -> list[str | None]:
        """One field for every document (None where absent)."""
        out: list[str | None] = []
        for table in self._tables:
            if name in table.column_names:
                out.extend(table.column(name).to_pylist())
            else:
                out.extend([None] * table.num_rows)
        return out
