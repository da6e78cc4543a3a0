"""Command-line options and settings handling shared by `neardup index` and `neardup serve`.

Matching options (threshold, containment, ngram, num_perm, seed, boilerplate) default to None,
meaning "the index's own" for an existing index and `find`'s defaults for a new one; a value that
differs from an existing index's is refused with a message naming it (`open_index`). Input options
(fields, limits, error handling) may differ from run to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

err = Console(stderr=True, highlight=False, soft_wrap=True)

CorpusArg = Annotated[
    list[str],
    typer.Argument(
        help="Folders of .txt files, JSONL/CSV/Parquet files (.gz/.zst ok), or - for JSONL on stdin.",
        show_default=False,
    ),
]
IndexArg = Annotated[Path, typer.Argument(help="The index file (created by the first `add`).")]
Threshold = Annotated[
    float | None,
    typer.Option(help="Jaccard similarity that makes a pair (new index: 0.5; else the index's)."),
]
Containment = Annotated[
    float | None, typer.Option(help="Share of one document found in the other that makes a pair.")
]
Ngram = Annotated[int | None, typer.Option(help="Shingle size in words.")]
NumPerm = Annotated[int | None, typer.Option(help="MinHash signature length.")]
Seed = Annotated[int | None, typer.Option(help="Hash seed.")]
BoilerplateOpt = Annotated[
    str | None,
    typer.Option(
        "--boilerplate",
        help="Text recurring around unrelated documents of a site: found per site (new index "
        "default), corpus, or off.",
    ),
]
IdField = Annotated[str, typer.Option(help="Id field of JSONL/CSV/Parquet records.")]
TextField = Annotated[str, typer.Option(help="Text field of JSONL/CSV/Parquet records.")]
PublishedField = Annotated[
    str, typer.Option(help="Publication date field, used to name originals.")
]
MaxChars = Annotated[int, typer.Option(help="Skip longer documents (0: no limit).")]
OnError = Annotated[
    str, typer.Option(help="skip: report bad records and go on; fail: stop at the first.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print the error and return the exit to raise."""
    err.print(f"[red]error:[/red] {message}", markup=True)
    return typer.Exit(code)


def matching_overrides(
    threshold: float | None = None,
    containment: float | None = None,
    ngram: int | None = None,
    num_perm: int | None = None,
    seed: int | None = None,
    boilerplate: str | None = None,
) -> dict[str, Any]:
    """The matching settings given on the command line (None: not given, so the index's own or,
    for a new index, the default)."""
    given = {
        "threshold": threshold,
        "containment": containment,
        "ngram": ngram,
        "num_perm": num_perm,
        "seed": seed,
        "boilerplate": boilerplate,
    }
    return {k: v for k, v in given.items() if v is not None}


def open_index(
    path: Path, overrides: dict[str, Any], *, create: bool, store_text: bool = True
) -> Any:
    """Open (or create) the index, refusing matching settings that differ from its own."""
    from neardup.index import Index, IndexError_
    from neardup.index.store import index_defaults

    try:
        if path.exists():
            index = Index(path, create=False)
            if overrides:
                wanted = index.settings.replace(**overrides)
                index.close()
                index = Index(path, wanted, create=False)
            return index
        if not create:
            raise IndexError_(f"{path}: no such index (create it with `neardup index add`)")
        return Index(path, index_defaults().replace(**overrides), store_text=store_text)
    except (IndexError_, ValueError) as e:
        raise fail(str(e)) from None


def input_settings(index: Any, **fields: Any) -> Any:
    """The index's settings with these input settings (fields, limits), which may differ."""
    try:
        return index.settings.replace(**fields)
    except ValueError as e:
        raise fail(str(e)) from None
