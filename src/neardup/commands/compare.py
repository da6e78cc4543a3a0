"""`neardup compare A B`: what two texts share, what the second added and what it dropped.

A and B are two text files, or two document ids of a corpus (`--corpus`). B is aligned against A
(`neardup.align`): A is read as the original, B as the copy. The terminal view lists the scores,
the shared passages, the insertions (in B only), the removals (in A only) and the substitutions
inside passages, then shows B with its insertions and substitutions marked and A with its
removals marked. `--json` prints the same as one JSON object, in the format of a line of
alignments.jsonl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from neardup.align import Alignment, align
from neardup.config import Settings
from neardup.corpus.readers import ProblemLog, Reader
from neardup.corpus.sources import InputError, open_source
from neardup.sketch import sketch_texts

err = Console(stderr=True)


def read_text_file(path: Path) -> str:
    """A text file as the folder reader reads it (UTF-8, BOM dropped, bad bytes replaced)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give two text files, or two ids with --corpus")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        err.print(
            f"[yellow]warning:[/yellow] {path}: invalid UTF-8 replaced",
            highlight=False,
            soft_wrap=True,
        )
        return data.decode("utf-8", "replace")


def find_texts(corpus: list[str], wanted: list[str], settings: Settings) -> dict[str, str]:
    """Texts of the documents with these ids, read from the corpus (stops when all are found)."""
    sources = [open_source(c) for c in corpus]
    found: dict[str, str] = {}
    for batch in Reader(sources, settings, ProblemLog("skip")):
        for doc_id, text in zip(batch.ids, batch.texts, strict=True):
            if doc_id in wanted and doc_id not in found:
                found[doc_id] = text
        if len(found) == len(set(wanted)):
            break
    missing = [w for w in wanted if w not in found]
    if missing:
        raise InputError(
            f"{', '.join(corpus)}: no document with id {', '.join(repr(m) for m in missing)} "
            f"(id field {settings.id_field!r})"
        )
    return found


def shingle_scores(text_a: str, text_b: str, settings: Settings) -> dict[str, float]:
    """Jaccard and containments of the two texts' shingle sets, as `neardup find` measures them."""
    sk = sketch_texts([text_a, text_b], settings)
    set_a, set_b = sk.shingle_set(0), sk.shingle_set(1)
    inter = len(np.intersect1d(set_a, set_b, assume_unique=True))
    union = len(set_a) + len(set_b) - inter
    return {
        "jaccard": round(inter / union, 4) if union else 0.0,
        "containment_a_in_b": round(inter / len(set_a), 4) if len(set_a) else 0.0,
        "containment_b_in_a": round(inter / len(set_b), 4) if len(set_b) else 0.0,
    }


def compare_record(
    name_a: str, text_a: str, name_b: str, text_b: str, settings: Settings
) -> tuple[dict[str, Any], Alignment]:
    """The JSON record of a comparison and the alignment behind it."""
    aln = align(text_a, text_b, ngram=settings.ngram)
    record: dict[str, Any] = {"a": name_a, "b": name_b, **shingle_scores(text_a, text_b, settings)}
    record.update(aln.to_dict())
    return record, aln


def _short(text: str, limit: int = 90) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _marked(text: str, marks: list[tuple[int, int, str]]) -> Text:
    out = Text(text)
    for start, end, style in marks:
        out.stylize(style, start, end)
    return out


def render(
    console: Console,
    record: dict[str, Any],
    aln: Alignment,
    text_a: str,
    text_b: str,
    show_text: bool,
) -> None:
    """The coloured terminal view of a comparison."""
    scores = {
        **{k: record[k] for k in ("jaccard", "containment_a_in_b", "containment_b_in_a")},
        **aln.scores(),
    }
    console.print(
        f"[bold]A[/bold] (original) {record['a']}   [bold]B[/bold] (copy) {record['b']}",
        highlight=False,
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    labels = {
        "jaccard": "Jaccard (shingles)",
        "containment_a_in_b": "share of A found in B",
        "containment_b_in_a": "share of B found in A",
        "aligned_a": "A inside shared passages",
        "aligned_b": "B inside shared passages",
        "passage_similarity": "word similarity inside passages",
    }
    for key, label in labels.items():
        table.add_row(label, f"{scores[key]:.3f}")
    console.print(table)
    console.print(
        f"\n[bold]{len(aln.passages)} shared passage(s)[/bold], "
        f"[green]{len(aln.insertions)} insertion(s)[/green], [red]{len(aln.removals)} removal(s)[/red], "
        f"[yellow]{len(aln.substitutions)} substitution(s)[/yellow]"
    )
    for i, p in enumerate(aln.passages):
        console.print(
            f"  passage {i}: A[{p.a_start}:{p.a_end}] = B[{p.b_start}:{p.b_end}]  "
            f"{p.a_tokens}/{p.b_tokens} words, similarity {p.similarity:.3f}  "
            f"[dim]{_short(text_b[p.b_start : p.b_end], 60)}[/dim]",
            highlight=False,
        )
    for s in aln.insertions:
        where = "" if s.passage is None else f" (inside passage {s.passage})"
        console.print(Text.assemble(f"  + B[{s.start}:{s.end}]{where} ", (_short(s.text), "green")))
    for s in aln.removals:
        where = "" if s.passage is None else f" (inside passage {s.passage})"
        console.print(Text.assemble(f"  - A[{s.start}:{s.end}]{where} ", (_short(s.text), "red")))
    for s in aln.substitutions:
        console.print(
            Text.assemble(
                f"  ~ {s.kind:5} ",
                (_short(s.a_text, 40), "red"),
                " -> ",
                (_short(s.b_text, 40), "green"),
            )
        )
    if not show_text:
        return
    ins = [(s.start, s.end, "black on green") for s in aln.insertions]
    subs_b = [(s.b_start, s.b_end, "black on yellow") for s in aln.substitutions]
    console.print("\n[bold]B with its insertions (green) and substitutions (yellow)[/bold]")
    console.print(_marked(text_b, [(p.b_start, p.b_end, "") for p in aln.passages] + ins + subs_b))
    rem = [(s.start, s.end, "black on red") for s in aln.removals]
    subs_a = [(s.a_start, s.a_end, "black on yellow") for s in aln.substitutions]
    console.print("\n[bold]A with its removals (red) and substitutions (yellow)[/bold]")
    console.print(_marked(text_a, rem + subs_a))


def register(app: typer.Typer) -> None:
    """Add `neardup compare` to the app."""

    @app.command()
    def compare(
        a: Annotated[
            str, typer.Argument(help="The original: a text file, or a document id with --corpus.")
        ],
        b: Annotated[
            str, typer.Argument(help="The copy: a text file, or a document id with --corpus.")
        ],
        corpus: Annotated[
            list[str] | None,
            typer.Option(
                "--corpus", "-c", help="Read A and B as document ids of this corpus (repeatable)."
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the comparison as JSON.")
        ] = False,
        ngram: Annotated[int, typer.Option(help="Shingle size in words.")] = Settings().ngram,
        id_field: Annotated[
            str, typer.Option(help="Id field of JSONL/CSV/Parquet records.")
        ] = "id",
        text_field: Annotated[
            str, typer.Option(help="Text field of JSONL/CSV/Parquet records.")
        ] = "text",
        text: Annotated[
            bool, typer.Option(help="Show both texts with the differences marked.")
        ] = True,
    ) -> None:
        """Show what B shares with A: passages, insertions, removals and substitutions, with scores."""
        try:
            settings = Settings(ngram=ngram, id_field=id_field, text_field=text_field, max_chars=0)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from e
        try:
            if corpus:
                texts = find_texts(corpus, [a, b], settings)
                text_a, text_b = texts[a], texts[b]
            else:
                text_a, text_b = read_text_file(Path(a)), read_text_file(Path(b))
        except InputError as e:
            err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        record, aln = compare_record(a, text_a, b, text_b, settings)
        if as_json:
            typer.echo(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode("utf-8"))
            return
        render(Console(), record, aln, text_a, text_b, text)
