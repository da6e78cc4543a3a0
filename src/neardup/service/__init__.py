"""The HTTP service: `create_app(index)` (FastAPI) and `serve(...)` (uvicorn)."""

from neardup.service.app import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DOCUMENTS, create_app
from neardup.service.server import serve

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_DOCUMENTS", "create_app", "serve"]
