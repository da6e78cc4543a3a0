"""`neardup index add|query|remove|stats|export`: a persistent index of documents on disk.

`add` matches each new document against everything already indexed (and the documents before it
in the same run) and writes the new matches as JSON lines; `query` matches without adding;
`remove` takes documents out; `stats` prints counts; `export` writes the results folder `find`
writes. The index is one SQLite file (see `neardup.index.store`); its matching settings are fixed
when it is created and a run asking for other ones is refused.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from rich.table import Table

from neardup.commands.options import (
    BoilerplateOpt,
    Containment,
    CorpusArg,
    IdField,
    IndexArg,
    MaxChars,
    Ngram,
    NumPerm,
    OnError,
    PublishedField,
    Quiet,
    Seed,
    TextField,
    Threshold,
    err,
    fail,
    input_settings,
    matching_overrides,
    open_index,
)


@contextmanager
def _output(path: str) -> Any:
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as f:
        yield f


def _reader(corpus: list[str], settings: Any, quiet: bool, jsonl_blocks: bool = False) -> Any:
    from neardup.corpus.readers import Problem, ProblemLog, Reader
    from neardup.corpus.sources import InputError, open_source

    try:
        sources = [open_source(c) for c in corpus]
    except InputError as e:
        raise fail(str(e)) from None
    shown = 0

    def echo(p: Problem) -> None:
        nonlocal shown
        if quiet:
            return
        shown += 1
        if shown <= 20:
            kind = "skipped" if p.skipped else "warning"
            err.print(f"{kind}: {p.message()}")
        elif shown == 21:
            err.print("... more problems not shown")

    problems = ProblemLog(settings.on_error, echo=echo)
    return Reader(sources, settings, problems, jsonl_blocks=jsonl_blocks), problems


def _write_line(stream: IO[bytes], obj: dict[str, Any]) -> None:
    stream.write(orjson.dumps(obj) + b"\n")


def add(
    index_path: IndexArg,
    corpus: CorpusArg,
    matches: Annotated[
        str,
        typer.Option(
            "--matches", "-m", help="Where to write the new matches (JSON lines); - is stdout."
        ),
    ] = "-",
    batch_size: Annotated[
        int, typer.Option(help="Documents per transaction (each is wholly added or not at all).")
    ] = 10_000,
    store_text: Annotated[
        bool, typer.Option(help="Keep the texts in a new index (for alignments and export).")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes that parse and sketch (default: all cores); the result is "
            "the same for any number."
        ),
    ] = 0,
    threshold: Threshold = None,
    containment: Containment = None,
    ngram: Ngram = None,
    num_perm: NumPerm = None,
    seed: Seed = None,
    boilerplate: BoilerplateOpt = None,
    id_field: IdField = "id",
    text_field: TextField = "text",
    published_field: PublishedField = "published",
    max_chars: MaxChars = 10_000_000,
    on_error: OnError = "skip",
    quiet: Quiet = False,
) -> None:
    """Add the documents of CORPUS to INDEX and write each new document's matches."""
    from neardup.corpus.sources import InputError
    from neardup.engines.local import default_workers
    from neardup.index import IndexError_, add_batches

    started = time.perf_counter()
    if batch_size < 1:
        raise fail(f"--batch-size must be positive, got {batch_size}")
    if workers < 0:
        raise fail(f"--workers must be positive (0: all cores), got {workers}")
    overrides = matching_overrides(threshold, containment, ngram, num_perm, seed, boilerplate)
    index = open_index(index_path, overrides, create=True, store_text=store_text)
    settings = input_settings(
        index,
        id_field=id_field,
        text_field=text_field,
        published_field=published_field,
        max_chars=max_chars,
        on_error=on_error,
    )
    # JSONL is parsed in the worker processes, as `find` parses it
    reader, problems = _reader(corpus, settings, quiet, jsonl_blocks=True)
    with _output(matches) as stream:

        def on_result(batch: Any, k: int, res: Any) -> None:
            if res.status == "skipped" and not quiet:
                err.print(
                    f"skipped: {reader.sources[batch.source_index].name}:{batch.lines[k]} (id {res.id!r}): {res.reason}"
                )
            if res.matches:
                _write_line(stream, res.to_dict())

        try:
            counts = add_batches(
                index,
                reader,
                commit_every=batch_size,
                on_result=on_result,
                workers=workers or default_workers(),
                problems=problems,
            )
        except (InputError, IndexError_) as e:
            raise fail(str(e)) from None
        finally:
            stats = index.stats()
            index.close()
    if quiet:
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("documents read", f"{counts['read'] + len(problems.skipped):,}")
    table.add_row("added", f"{counts['added']:,}")
    if counts["exists"]:
        table.add_row("already indexed (same text)", f"{counts['exists']:,}")
    table.add_row("skipped", f"{counts['skipped'] + len(problems.skipped):,}")
    table.add_row("new documents with matches", f"{counts['with_matches']:,}")
    table.add_row("index", f"{stats['documents']:,} documents, {stats['clusters']:,} clusters")
    table.add_row("time", f"{time.perf_counter() - started:.2f} s")
    err.print(table)


def query(
    index_path: IndexArg,
    corpus: CorpusArg,
    out: Annotated[
        str,
        typer.Option("--out", "-o", help="Where to write the matches (JSON lines); - is stdout."),
    ] = "-",
    all_documents: Annotated[
        bool, typer.Option("--all", help="Write a line for documents without matches too.")
    ] = False,
    id_field: IdField = "id",
    text_field: TextField = "text",
    published_field: PublishedField = "published",
    max_chars: MaxChars = 10_000_000,
    on_error: OnError = "skip",
    quiet: Quiet = False,
) -> None:
    """Match the documents of CORPUS against INDEX without adding them."""
    from neardup.corpus.sources import InputError

    index = open_index(index_path, {}, create=False)
    settings = input_settings(
        index,
        id_field=id_field,
        text_field=text_field,
        published_field=published_field,
        max_chars=max_chars,
        on_error=on_error,
    )
    reader, problems = _reader(corpus, settings, quiet)
    n = with_matches = 0
    try:
        with _output(out) as stream:
            for batch in reader:
                for res in index.query(batch.texts, batch.ids):
                    n += 1
                    with_matches += bool(res.matches)
                    if res.matches or all_documents:
                        _write_line(stream, res.to_dict())
    except InputError as e:
        raise fail(str(e)) from None
    finally:
        index.close()
    if not quiet:
        err.print(
            f"{n:,} documents queried, {with_matches:,} with matches, {len(problems.skipped):,} skipped"
        )


def remove(
    index_path: IndexArg,
    ids: Annotated[
        list[str], typer.Argument(help="Ids of the documents to remove.", show_default=False)
    ],
    ignore_missing: Annotated[
        bool, typer.Option(help="Remove the ids that exist and ignore the others.")
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Remove documents from INDEX (all or none: an unknown id stops it unless --ignore-missing)."""
    from neardup.index import UnknownIds

    index = open_index(index_path, {}, create=False)
    try:
        removed = index.remove(ids, strict=not ignore_missing)
    except UnknownIds as e:
        raise fail(
            f"{e}; nothing was removed (use --ignore-missing to remove the others)", 1
        ) from None
    finally:
        index.close()
    if not quiet:
        err.print(f"removed {len(removed):,} of {len(ids):,} documents")


def stats(index_path: IndexArg) -> None:
    """Print the counts and settings of INDEX as JSON."""
    index = open_index(index_path, {}, create=False)
    try:
        sys.stdout.buffer.write(orjson.dumps(index.stats(), option=orjson.OPT_INDENT_2) + b"\n")
    finally:
        index.close()


def export(
    index_path: IndexArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder.")] = Path("results"),
    quiet: Quiet = False,
) -> None:
    """Write pairs, clusters, the deduplicated corpus and run.json for everything in INDEX."""
    from neardup.index.export import export_index

    index = open_index(index_path, {}, create=False)
    try:
        run = export_index(index, out)
    except OSError as e:
        raise fail(f"{out}: cannot write: {e}") from None
    finally:
        index.close()
    if not quiet:
        c = run["counts"]
        err.print(
            f"{c['documents']:,} documents, {c['pairs']:,} pairs, {c['clusters']:,} clusters, "
            f"{c['documents_kept']:,} kept -> {out}"
        )


def register(app: typer.Typer) -> None:
    """Add the `index` command group to the app."""
    group = typer.Typer(
        name="index",
        help="A persistent index: add documents over time and match each new one against all before.",
        no_args_is_help=True,
    )
    for fn in (add, query, remove, stats, export):
        group.command(fn.__name__)(fn)
    app.add_typer(group, name="index")
