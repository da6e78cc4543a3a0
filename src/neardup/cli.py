"""The `neardup` command line: parses arguments, calls the library, renders the results."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from neardup.api import find_sources
from neardup.config import Settings
from neardup.corpus.readers import Problem, ProblemLog
from neardup.corpus.sources import InputError, open_source
from neardup.engines.local import default_workers

app = typer.Typer(
    name="neardup",
    help="Find reprinted and near-duplicate texts, show what was copied, and deduplicate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

_DEFAULTS = Settings()


@app.command()
def find(
    corpus: Annotated[
        list[str],
        typer.Argument(
            help="Folders of .txt files, JSONL/CSV/Parquet files (.gz/.zst ok), or - for JSONL on stdin.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Results folder.")] = Path("results"),
    threshold: Annotated[
        float, typer.Option(help="Jaccard similarity that makes a pair.")
    ] = _DEFAULTS.threshold,
    containment: Annotated[
        float, typer.Option(help="Share of one document found in the other that makes a pair.")
    ] = _DEFAULTS.containment,
    ngram: Annotated[
        int, typer.Option(help="Shingle size in words (characters for CJK/Thai).")
    ] = _DEFAULTS.ngram,
    num_perm: Annotated[int, typer.Option(help="MinHash signature length.")] = _DEFAULTS.num_perm,
    seed: Annotated[int, typer.Option(help="Hash seed.")] = _DEFAULTS.seed,
    id_field: Annotated[
        str, typer.Option(help="Id field of JSONL/CSV/Parquet records.")
    ] = _DEFAULTS.id_field,
    text_field: Annotated[
        str, typer.Option(help="Text field of JSONL/CSV/Parquet records.")
    ] = _DEFAULTS.text_field,
    published_field: Annotated[
        str,
        typer.Option(help="Publication date field (ISO 8601 or RFC 2822), used to name originals."),
    ] = _DEFAULTS.published_field,
    max_chars: Annotated[
        int, typer.Option(help="Skip longer documents (0: no limit).")
    ] = _DEFAULTS.max_chars,
    on_error: Annotated[
        str, typer.Option(help="skip: report bad records and go on; fail: stop at the first.")
    ] = "skip",
    extract: Annotated[
        str,
        typer.Option(
            help="HTML/WARC input: trafilatura keeps the main text, none all visible text."
        ),
    ] = _DEFAULTS.extract,
    boilerplate: Annotated[
        str,
        typer.Option(
            help="Text recurring around unrelated documents: found per site, corpus, or off."
        ),
    ] = _DEFAULTS.boilerplate,
    report: Annotated[
        bool,
        typer.Option(
            help="Also write alignments.jsonl and report.html (about 0.2 ms of CPU per pair)."
        ),
    ] = True,
    workers: Annotated[int, typer.Option(help="Worker processes (default: all cores).")] = 0,
    progress: Annotated[
        bool, typer.Option(help="Show a progress bar (default: when on a terminal).")
    ] = sys.stderr.isatty(),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Find the copies in CORPUS and write pairs, clusters, the deduplicated corpus and run.json."""
    try:
        settings = Settings(
            threshold=threshold,
            containment=containment,
            ngram=ngram,
            num_perm=num_perm,
            seed=seed,
            id_field=id_field,
            text_field=text_field,
            published_field=published_field,
            max_chars=max_chars,
            on_error=on_error,  # type: ignore[arg-type]
            extract=extract,
            boilerplate=boilerplate,
            extract_workers=workers or default_workers(),
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    started = time.perf_counter()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        err.print(f"[red]error:[/red] cannot create the results folder {out_dir}: {e.strerror}")
        raise typer.Exit(2) from None
    try:
        sources = [open_source(c) for c in corpus]
    except InputError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    shown = 0

    def echo(p: Problem) -> None:
        nonlocal shown
        if quiet:
            return
        shown += 1
        if shown <= 20:
            kind = "skipped" if p.skipped else "warning"
            err.print(
                f"[yellow]{kind}:[/yellow] {escape(p.message())}", highlight=False, soft_wrap=True
            )
        elif shown == 21:
            err.print("[yellow]... more problems: see skipped.jsonl and run.json[/yellow]")

    problems = ProblemLog(settings.on_error, echo=echo)
    total = sum(s.size_bytes() for s in sources)
    bar = Progress(
        TextColumn("[bold]reading"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[docs]:,} docs"),
        TimeElapsedColumn(),
        console=err,
        disable=not progress or quiet,
        transient=True,
    )
    with bar:
        task = bar.add_task("read", total=total or None, docs=0)
        try:
            result = find_sources(
                sources,
                settings,
                workers=workers or default_workers(),
                out=out_dir,
                problems=problems,
                on_progress=lambda done, docs: bar.update(task, completed=done, docs=docs),
                argv=["neardup", *sys.argv[1:]],
                report=report,
            )
        except InputError as e:
            err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    if quiet:
        return
    c = result.counts
    skipped = result._state.problems.skipped_by_reason()
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_row("documents read", f"{c['documents_read']:,}")
    summary.add_row(
        "skipped",
        f"{c['skipped']:,}"
        + (" (" + ", ".join(f"{k}: {v}" for k, v in skipped.items()) + ")" if skipped else ""),
    )
    if c["warnings"]:
        summary.add_row("warnings", f"{c['warnings']:,} (see run.json)")
    summary.add_row("exact duplicates", f"{c['exact_duplicates']:,}")
    summary.add_row("near-duplicate pairs", f"{c['near_duplicate_pairs']:,}")
    summary.add_row("clusters", f"{c['clusters']:,}")
    summary.add_row("documents kept", f"{c['documents_kept']:,} of {c['documents']:,}")
    summary.add_row("time", f"{time.perf_counter() - started:.2f} s")
    summary.add_row("results", str(out_dir))
    err.print(summary)


@app.command()
def show(
    results: Annotated[Path, typer.Argument(help="A results folder written by `neardup find`.")],
    limit: Annotated[int, typer.Option(help="Clusters to show, largest first.")] = 20,
) -> None:
    """Print the clusters of a results folder: each original and its copies."""
    path = results / "clusters.jsonl"
    if not path.exists():
        err.print(
            f"[red]error:[/red] {path}: not found (run `neardup find ... --out {results}` first)"
        )
        raise typer.Exit(2)
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    rows.sort(key=lambda r: (-r["size"], r["cluster"]))
    out.print(f"[bold]{len(rows)} clusters[/bold] in {results}")
    for row in rows[:limit]:
        out.print(
            f"\n[bold]cluster {row['cluster']}[/bold] ({row['size']} documents, original by {row['original_rule']})"
        )
        for m in row["members"]:
            mark = "[green]original[/green]" if m["original"] else "[dim]copy    [/dim]"
            details = "  ".join(str(m[k]) for k in ("source", "published", "title") if k in m)
            out.print(f"  {mark} {m['id']}  [dim]{details}[/dim]", highlight=False)
    if len(rows) > limit:
        out.print(f"\n... and {len(rows) - limit} more (--limit)")


def _register_commands() -> None:
    from neardup.commands import compare, index, serve

    for module in (compare, index, serve):
        module.register(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
