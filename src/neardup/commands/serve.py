"""`neardup serve INDEX`: the HTTP service in front of an index (see `neardup.service`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neardup.commands.options import (
    BoilerplateOpt,
    Containment,
    Ngram,
    NumPerm,
    Seed,
    Threshold,
    err,
    matching_overrides,
    open_index,
)


def serve(
    index_path: Annotated[
        Path, typer.Argument(help="The index file (created if it does not exist).")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            help="Require this key (repeat for several). Default: NEARDUP_API_KEY "
            "(comma-separated); no key means no authentication.",
            show_default=False,
        ),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option(help="Refuse request bodies larger than this (413).")
    ] = 16 * 1024 * 1024,
    max_documents: Annotated[
        int, typer.Option(help="Refuse requests with more documents than this (413).")
    ] = 1000,
    threshold: Threshold = None,
    containment: Containment = None,
    ngram: Ngram = None,
    num_perm: NumPerm = None,
    seed: Seed = None,
    boilerplate: BoilerplateOpt = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve INDEX over HTTP (OpenAPI description at /docs and /openapi.json)."""
    from neardup.service.server import api_keys_from
    from neardup.service.server import serve as run

    overrides = matching_overrides(threshold, containment, ngram, num_perm, seed, boilerplate)
    # create or check the index (and its settings) before the server starts
    index = open_index(index_path, overrides, create=True)
    settings = index.settings
    index.close()
    keys = api_keys_from(api_key)
    if not keys and host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"warning: serving on {host} without an API key (--api-key or NEARDUP_API_KEY)")
    run(
        index_path,
        host=host,
        port=port,
        api_keys=keys,
        settings=settings,
        max_body_bytes=max_body_bytes,
        max_documents=max_documents,
        log_level=log_level,
    )


def register(app: typer.Typer) -> None:
    """Add `neardup serve` to the app."""
    app.command("serve")(serve)
