"""The HTTP service in front of an index: add documents and get their matches, query, fetch, remove.

One process serves one index (`neardup.index.Index`). Writes are serialized by the index's lock
(SQLite has one writer) and every request thread reads through its own connection, so queries go
on while a batch is being added. Request bodies are read and validated here rather than by
FastAPI, so that every malformed request gets a 4xx whose message names the problem (the field, the
document, the byte limit) and an over-long body is refused (413) before it is read into memory.
The OpenAPI description still declares every body and response.

API keys are optional: with keys configured every request, whatever the path, needs
`Authorization: Bearer KEY` or `X-API-Key: KEY`, else 401. Keys are compared in constant time
and never logged (the access log shows paths only, and keys are never accepted in a URL).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from neardup.index import DocumentConflict, Index, InvalidDocument

log = logging.getLogger("neardup.service")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_DOCUMENTS = 1000


# --- request bodies -------------------------------------------------------------------------------
class DocumentIn(BaseModel):
    """A document to add or query. Fields other than these go in `meta`."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Your id for the document (a new random one when left out).",
    )
    text: str = Field(
        pattern=r"[^\W_]",
        description="The document's text (at least one letter or digit).",
    )
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = Field(
        default=None,
        description="Publication date (ISO 8601 or RFC 2822); the earliest member is the original.",
    )
    meta: dict[str, Any] | None = Field(default=None, description="Any other fields to keep.")


class DocumentBatch(BaseModel):
    """Several documents at once (added in one transaction: all or none)."""

    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(min_length=1)


_ADD_BODY = TypeAdapter(DocumentIn | DocumentBatch)


# --- responses ------------------------------------------------------------------------------------
class MatchOut(BaseModel):
    id: str
    jaccard: float
    this_in_match: float = Field(
        description="Share of this document's shingles found in the match."
    )
    match_in_this: float = Field(
        description="Share of the match's shingles found in this document."
    )
    rule: str = Field(description="exact, jaccard or containment")
    cluster: int | None


class ResultOut(BaseModel):
    id: str
    status: str = Field(
        description="added, exists (same id and text: nothing changed), queried or skipped"
    )
    cluster: int | None
    original: str | None
    matches: list[MatchOut]
    reason: str | None = None


class ResultsOut(BaseModel):
    results: list[ResultOut]


class DocumentOut(BaseModel):
    id: str
    meta: dict[str, Any]
    tokens: int
    shingles: int
    cluster: int | None
    original: str
    exact_duplicate_of: str | None
    added: str
    matches: list[MatchOut]
    text: str | None = None


class MemberOut(BaseModel):
    id: str
    meta: dict[str, Any]
    original: bool


class PairOut(BaseModel):
    a: str
    b: str
    jaccard: float
    containment_a_in_b: float
    containment_b_in_a: float
    rule: str


class AlignmentOut(BaseModel):
    original: str
    copy_id: str = Field(alias="copy")
    alignment: dict[str, Any]

    model_config = ConfigDict(populate_by_name=True)


class ClusterOut(BaseModel):
    id: int
    requested: int = Field(description="The id asked for (differs from id when it was merged).")
    original: str
    original_rule: str
    size: int
    members: list[MemberOut]
    pairs: list[PairOut]
    merged_from: list[int]
    created: str
    updated: str
    alignments: list[AlignmentOut] | None = None


class RemovedOut(BaseModel):
    removed: str


class HealthOut(BaseModel):
    status: str
    documents: int


class ErrorOut(BaseModel):
    detail: str


_ERRORS = {
    400: {"model": ErrorOut, "description": "Malformed JSON"},
    401: {"model": ErrorOut, "description": "Missing or wrong API key"},
    413: {"model": ErrorOut, "description": "Body or batch too large"},
    422: {
        "model": ErrorOut,
        "description": "A field is missing, has the wrong type, or a document cannot be indexed",
    },
}


def _body_spec(*models: type[BaseModel]) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in models]
    schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# --- errors ---------------------------------------------------------------------------------------
class BadRequest(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


def _describe(e: ValidationError, prefix: str = "") -> str:
    """One line per problem: where (body.documents.2.text) and what."""
    parts = []
    for err in e.errors(include_url=False)[:10]:
        loc = ".".join(str(x) for x in (prefix, *err["loc"]) if x != "")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (put extra fields in meta)"
        elif err["type"] == "string_pattern_mismatch" and err["loc"][-1:] == ("text",):
            msg = "no words in text (it needs at least one letter or digit)"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


async def _read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_n = int(declared)
        except ValueError:
            raise BadRequest(400, "invalid Content-Length header") from None
        if declared_n > limit:
            raise BadRequest(
                413, f"request body of {declared_n:,} bytes is over the limit of {limit:,} bytes"
            )
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"request body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise BadRequest(400, "empty request body: expected a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(400, f"malformed JSON: {e}") from None


# --- the app --------------------------------------------------------------------------------------
def create_app(
    index: Index,
    *,
    api_keys: list[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_documents: int = DEFAULT_MAX_DOCUMENTS,
) -> FastAPI:
    """The FastAPI app serving `index`."""
    keys = [k.encode() for k in (api_keys or []) if k]

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        # load the compiled kernels before the first request rather than during it
        index.query(["warm up the compiled kernels before the first request"])
        try:
            from neardup.align import align

            align("warm up the aligner", "warm up the aligner too")
        except ImportError:  # pragma: no cover
            pass
        yield

    app = FastAPI(
        title="neardup",
        summary="Check each new document against an archive of everything seen before.",
        version="1",
        lifespan=lifespan,
    )

    # --- middleware: API keys ------------------------------------------------------------------
    if keys:

        @app.middleware("http")
        async def require_key(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            presented = []
            if "x-api-key" in request.headers:
                presented.append(request.headers["x-api-key"])
            auth = request.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                presented.append(auth[7:].strip())
            # every key presented must be valid: a wrong key is refused even next to a right one
            valid = [any(hmac.compare_digest(p.encode(), k) for k in keys) for p in presented]
            if not presented or not all(valid):
                reason = "missing API key" if not presented else "invalid API key"
                return JSONResponse(
                    {"detail": f"{reason}: send Authorization: Bearer KEY or X-API-Key: KEY"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return await call_next(request)

    # --- error handlers -------------------------------------------------------------------------
    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, e: BadRequest) -> JSONResponse:
        return JSONResponse({"detail": e.detail}, status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        parts = []
        for err in e.errors()[:10]:
            loc = ".".join(str(x) for x in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}")
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        headers = dict(e.headers or {})
        if e.status_code == 405:
            # list the methods of every route on this path, not only the first one matched
            methods: set[str] = set()
            for route in app.router.routes:
                if route.matches(request.scope)[0] != Match.NONE:
                    methods |= set(getattr(route, "methods", None) or ())
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return JSONResponse({"detail": str(e.detail)}, status_code=e.status_code, headers=headers)

    # --- endpoints ------------------------------------------------------------------------------
    def documents_of(body: Any) -> list[DocumentIn]:
        try:
            parsed = _ADD_BODY.validate_python(body)
        except ValidationError:
            # report against the shape the client evidently meant
            model: type[BaseModel] = (
                DocumentBatch if isinstance(body, dict) and "documents" in body else DocumentIn
            )
            try:
                model.model_validate(body)
            except ValidationError as e:
                raise BadRequest(422, _describe(e, "body")) from None
            raise  # pragma: no cover
        docs = parsed.documents if isinstance(parsed, DocumentBatch) else [parsed]
        if len(docs) > max_documents:
            raise BadRequest(
                413, f"{len(docs):,} documents in one request; the limit is {max_documents:,}"
            )
        limit = index.settings.max_chars
        for i, d in enumerate(docs):
            if limit and len(d.text) > limit:
                raise BadRequest(
                    422,
                    f"document {i} (id {d.id!r}): text of {len(d.text):,} characters is over max_chars={limit:,}",
                )
        return docs

    def meta_of(d: DocumentIn) -> dict[str, Any]:
        meta: dict[str, Any] = dict(d.meta or {})
        for key in ("title", "source", "url", "published"):
            value = getattr(d, key)
            if value is not None:
                meta[key] = value
        return meta

    @app.post(
        "/documents",
        response_model=ResultsOut,
        responses={
            **_ERRORS,
            409: {"model": ErrorOut, "description": "An id is already indexed with another text"},
        },
        openapi_extra=_body_spec(DocumentIn, DocumentBatch),
        summary="Add one or many documents and get their matches",
    )
    async def add_documents(request: Request) -> Any:
        """Add a document (a JSON object with `text`) or several (`{"documents": [...]}`, added
        in one transaction). Each result lists the document's matches among everything indexed
        before it, its cluster and the cluster's original. Re-sending a document with the same
        id and text changes nothing (status `exists`)."""
        docs = documents_of(await _read_json(request, max_body_bytes))
        from uuid import uuid4

        ids = [d.id if d.id is not None else uuid4().hex for d in docs]
        from starlette.concurrency import run_in_threadpool

        try:
            results = await run_in_threadpool(
                index.add, ids, [d.text for d in docs], [meta_of(d) for d in docs], strict=True
            )
        except InvalidDocument as e:
            raise BadRequest(422, str(e)) from None
        except DocumentConflict as e:
            raise BadRequest(409, f"{e}; nothing was added") from None
        return {"results": [r.to_dict() for r in results]}

    @app.post(
        "/query",
        response_model=ResultsOut,
        responses=_ERRORS,
        openapi_extra=_body_spec(DocumentIn, DocumentBatch),
        summary="Match documents against the index without adding them",
    )
    async def query_documents(request: Request) -> Any:
        """Same body as POST /documents; nothing is stored. Each document is matched against the
        index only (not against the others in the request)."""
        docs = documents_of(await _read_json(request, max_body_bytes))
        from starlette.concurrency import run_in_threadpool

        ids = [d.id if d.id is not None else str(i) for i, d in enumerate(docs)]
        results = await run_in_threadpool(index.query, [d.text for d in docs], ids)
        return {"results": [r.to_dict() for r in results]}

    @app.get(
        "/documents/{doc_id:path}",
        response_model=DocumentOut,
        response_model_exclude_none=False,
        responses={
            401: _ERRORS[401],
            404: {"model": ErrorOut, "description": "Unknown id"},
            422: _ERRORS[422],
        },
        summary="A document: metadata, cluster, original, matches and text",
    )
    def get_document(
        doc_id: str, text: bool = Query(True, description="Include the text (when stored).")
    ) -> Any:
        doc = index.get(doc_id, with_text=text)
        if doc is None:
            raise HTTPException(404, f"no document with id {doc_id!r}")
        return doc

    @app.delete(
        "/documents/{doc_id:path}",
        response_model=RemovedOut,
        responses={401: _ERRORS[401], 404: {"model": ErrorOut, "description": "Unknown id"}},
        summary="Remove a document",
    )
    def delete_document(doc_id: str) -> Any:
        """Its pairs go with it; a cluster it held together splits (the part with the oldest
        document keeps the id)."""
        removed = index.remove([doc_id], strict=False)
        if not removed:
            raise HTTPException(404, f"no document with id {doc_id!r}")
        return {"removed": doc_id}

    @app.get(
        "/clusters/{cluster_id}",
        response_model=ClusterOut,
        response_model_by_alias=True,
        responses={
            401: _ERRORS[401],
            404: {"model": ErrorOut, "description": "Unknown or dissolved cluster"},
            422: _ERRORS[422],
        },
        summary="A cluster: members, original, pairs and alignments",
    )
    def get_cluster(
        cluster_id: int = PathParam(ge=0, le=2**63 - 1, description="A cluster id."),
        alignments: bool = Query(
            True, description="Align each copy against the original (up to 50 copies)."
        ),
    ) -> Any:
        """A cluster id that was merged into another gives that cluster (`requested` keeps the id
        asked for)."""
        cluster = index.cluster(cluster_id)
        if cluster is None:
            raise HTTPException(
                404, f"no cluster {cluster_id} (unknown, or dissolved when documents were removed)"
            )
        if alignments:
            cluster["alignments"] = _alignments(index, cluster)
        return cluster

    @app.get(
        "/health", response_model=HealthOut, responses={401: _ERRORS[401]}, summary="Health check"
    )
    def health() -> Any:
        return {"status": "ok", "documents": index.stats()["documents"]}

    @app.get("/stats", responses={401: _ERRORS[401]}, summary="Counts, size on disk and settings")
    def stats() -> dict[str, Any]:
        return jsonable_encoder(index.stats())

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        _, defs = models_json_schema(
            [(DocumentIn, "validation"), (DocumentBatch, "validation")],
            ref_template="#/components/schemas/{model}",
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs["$defs"])
        if keys:
            # X-API-Key: KEY works too; one scheme is declared so clients and fuzzers send one
            schema["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _alignments(
    index: Index, cluster: dict[str, Any], limit: int = 50
) -> list[dict[str, Any]] | None:
    """Each copy aligned against the cluster's original (`neardup.align`), when the texts are
    stored and the alignment module is available."""
    try:
        from neardup.align import align
    except ImportError:  # pragma: no cover - align ships with neardup
        return None
    if not index.store_text:
        return None
    original = cluster["original"]
    copies = [m["id"] for m in cluster["members"] if m["id"] != original][:limit]
    texts = index.texts([original, *copies])
    if texts.get(original) is None:
        return None
    out = []
    for copy in copies:
        if texts.get(copy) is None:
            continue
        a = align(texts[original], texts[copy], ngram=index.settings.ngram)
        out.append({"original": original, "copy": copy, "alignment": a.to_dict()})
    return out
