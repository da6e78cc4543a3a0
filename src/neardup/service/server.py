"""Run the service with uvicorn: one process, one index (SQLite has a single writer; reads run
in the request threads)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import uvicorn

from neardup.config import Settings
from neardup.index import Index
from neardup.service.app import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DOCUMENTS, create_app

API_KEY_ENV = "NEARDUP_API_KEY"


def api_keys_from(option: list[str] | None) -> list[str]:
    """Keys from the --api-key options, else from NEARDUP_API_KEY (comma-separated)."""
    keys = [k for k in (option or []) if k]
    if not keys:
        keys = [k.strip() for k in os.environ.get(API_KEY_ENV, "").split(",") if k.strip()]
    return keys


class RedactKeys(logging.Filter):
    """Replaces the API keys in a log record's message: a client may put its key in a URL, and
    the access log shows URLs."""

    def __init__(self, keys: list[str]):
        super().__init__()
        self.keys = [k for k in keys if k]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(k in message for k in self.keys):
            for k in self.keys:
                message = message.replace(k, "[redacted]")
            record.msg, record.args = message, ()
        return True


def serve(
    index_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_keys: list[str] | None = None,
    settings: Settings | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_documents: int = DEFAULT_MAX_DOCUMENTS,
    log_level: str = "info",
) -> None:
    """Serve the index at `index_path` (created with `settings` if it does not exist) until
    interrupted."""
    index = Index(Path(index_path), settings)
    try:
        app = create_app(
            index, api_keys=api_keys, max_body_bytes=max_body_bytes, max_documents=max_documents
        )
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, workers=1)
        if api_keys:  # after uvicorn has configured its loggers
            redact = RedactKeys(api_keys)
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "neardup.service"):
                logging.getLogger(name).addFilter(redact)
        uvicorn.Server(config).run()
    finally:
        index.close()
