"""Sub-commands of `neardup` beyond `find` and `show`, one module each.

Each module exposes `register(app: typer.Typer) -> None`; `neardup.cli` calls them all.
"""
