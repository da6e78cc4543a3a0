"""A persistent, incremental neardup index in one SQLite file (see `neardup.index.store`)."""

from neardup.index.store import (
    DocResult,
    DocumentConflict,
    Index,
    IndexError_,
    InvalidDocument,
    Match,
    SettingsMismatch,
    UnknownIds,
    add_batches,
    open_index,
)

__all__ = [
    "DocResult",
    "DocumentConflict",
    "Index",
    "IndexError_",
    "InvalidDocument",
    "Match",
    "SettingsMismatch",
    "UnknownIds",
    "add_batches",
    "open_index",
]
