"""The HTTP service, driven over HTTP: a real `neardup serve` process on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neardup.index import Index
from tests.conftest import make_story
from tests.test_index import copy_of

KEY = "test-key-5f2d9c0e"
MAX_BODY = 200_000
MAX_DOCS = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`neardup serve` in a subprocess; restartable on the same index."""

    def __init__(self, index: Path, log: Path, key: str | None = KEY):
        self.index, self.log_path, self.key = index, log, key
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 240) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        args = [sys.executable, "-m", "neardup.cli", "serve", str(self.index), "--port", str(port),
                "--max-body-bytes", str(MAX_BODY), "--max-documents", str(MAX_DOCS)]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "NEARDUP_API_KEY"}
        if self.key:
            env["NEARDUP_API_KEY"] = self.key  # the key never appears on the command line
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()
            try:
                if (
                    httpx.get(f"{self.url}/health", headers=self.headers(), timeout=5).status_code
                    == 200
                ):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(), timeout=120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("service")
    srv = Server(root / "news.ndx", root / "server.log")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def add(http: httpx.Client, *docs: dict[str, Any]) -> list[dict[str, Any]]:
    body: dict[str, Any] = docs[0] if len(docs) == 1 else {"documents": list(docs)}
    r = http.post("/documents", json=body)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_add_query_fetch_and_cluster_with_alignments(http: httpx.Client) -> None:
    wire = make_story(701, paragraphs=7)
    (first,) = add(
        http,
        {
            "id": "wire-1",
            "text": wire,
            "title": "Harbour vote",
            "published": "2025-02-01T08:00:00Z",
        },
    )
    assert first["status"] == "added" and first["matches"] == []
    copy, other = add(
        http,
        {
            "id": "copy-1",
            "text": copy_of(wire, 1),
            "source": "Valley Ledger",
            "published": "2025-02-01T11:00:00Z",
        },
        {"id": "other-1", "text": make_story(702), "meta": {"desk": "sport"}},
    )
    assert [m["id"] for m in copy["matches"]] == ["wire-1"]
    assert copy["original"] == "wire-1" and copy["cluster"] is not None
    assert other["matches"] == [] and other["cluster"] is None

    abridged = "\n\n".join(wire.split("\n\n")[:3])
    r = http.post("/query", json={"id": "abr-1", "text": abridged})
    assert r.status_code == 200
    (res,) = r.json()["results"]
    assert {(m["id"], m["rule"]) for m in res["matches"]} >= {("wire-1", "containment")}
    assert res["cluster"] == copy["cluster"] and res["original"] == "wire-1"
    assert http.get("/documents/abr-1").status_code == 404  # a query adds nothing

    doc = http.get("/documents/wire-1").json()
    assert doc["text"] == wire and doc["meta"]["title"] == "Harbour vote"
    assert doc["cluster"] == copy["cluster"] and doc["original"] == "wire-1"
    assert http.get("/documents/other-1").json()["meta"] == {"desk": "sport"}
    assert "text" not in http.get("/documents/wire-1", params={"text": "false"}).json() or (
        http.get("/documents/wire-1", params={"text": "false"}).json()["text"] is None
    )

    cluster = http.get(f"/clusters/{copy['cluster']}").json()
    assert cluster["original"] == "wire-1" and cluster["original_rule"] == "earliest_published"
    assert [m["id"] for m in cluster["members"]] == ["wire-1", "copy-1"]
    (alignment,) = cluster["alignments"]
    assert alignment["original"] == "wire-1" and alignment["copy"] == "copy-1"
    inserted = [s["text"] for s in alignment["alignment"]["insertions"]]
    assert any("Sponsored" in t for t in inserted)  # the injected ad is what the copy added
    assert (
        http.get(f"/clusters/{copy['cluster']}", params={"alignments": "false"}).json()[
            "alignments"
        ]
        is None
    )


def test_a_bridging_document_merges_clusters(http: httpx.Client) -> None:
    a, b = make_story(711), make_story(712)
    add(http, {"id": "m-a", "text": a}, {"id": "m-a2", "text": copy_of(a, 1)})
    add(http, {"id": "m-b", "text": b}, {"id": "m-b2", "text": copy_of(b, 2)})
    ca = http.get("/documents/m-a").json()["cluster"]
    cb = http.get("/documents/m-b").json()["cluster"]
    assert ca is not None and cb is not None and ca != cb
    (bridge,) = add(http, {"id": "m-roundup", "text": a + "\n\n" + b})
    assert bridge["cluster"] == min(ca, cb)
    merged = http.get(f"/clusters/{max(ca, cb)}").json()
    assert merged["id"] == min(ca, cb) and merged["requested"] == max(ca, cb)
    assert max(ca, cb) in merged["merged_from"]
    assert {m["id"] for m in merged["members"]} == {"m-a", "m-a2", "m-b", "m-b2", "m-roundup"}


def test_delete_a_document(http: httpx.Client) -> None:
    add(http, {"id": "del/1", "text": make_story(721)})  # ids may contain slashes
    assert http.get("/documents/del/1").status_code == 200
    r = http.delete("/documents/del/1")
    assert r.status_code == 200 and r.json() == {"removed": "del/1"}
    assert http.get("/documents/del/1").status_code == 404
    gone = http.delete("/documents/del/1")
    assert gone.status_code == 404 and "del/1" in gone.json()["detail"]


def test_api_keys(server: Server) -> None:
    url = f"{server.url}/health"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "wrong"},
                    {"X-API-Key": KEY, "Authorization": "Bearer wrong"}):  # fmt: skip
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401 and "API key" in r.json()["detail"], headers
    assert httpx.post(f"{server.url}/documents", json={"text": "x y z"}).status_code == 401
    assert httpx.get(f"{server.url}/openapi.json").status_code == 401
    assert httpx.get(url, headers={"X-API-Key": KEY}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    # a key sent where it does not belong (the URL) is refused and kept out of the log
    assert httpx.get(url, params={"api_key": KEY}).status_code == 401
    assert httpx.get(f"{server.url}/documents/{KEY}", headers={"X-API-Key": KEY}).status_code == 404
    time.sleep(0.5)  # let the access log reach the file
    log = server.log_path.read_text()
    assert KEY not in log and "[redacted]" in log


BAD_REQUESTS = [
    ("malformed JSON", b'{"text": "abc', 400, "malformed JSON"),
    ("empty body", b"", 400, "empty request body"),
    ("not an object", b'["a", "b"]', 422, "body"),
    ("missing text", b'{"id": "x"}', 422, "body.text: Field required"),
    ("text of the wrong type", b'{"id": "x", "text": 42}', 422, "body.text"),
    ("id of the wrong type", b'{"id": 7, "text": "a story"}', 422, "body.id"),
    ("unknown field", b'{"text": "a story", "body": "?"}', 422, "body.body: unknown field"),
    ("documents not a list", b'{"documents": {"text": "a"}}', 422, "body.documents"),
    ("no documents", b'{"documents": []}', 422, "body.documents"),
    (
        "bad document in a batch",
        b'{"documents": [{"text": "ok"}, {"txt": "no"}]}',
        422,
        "body.documents.1.text",
    ),
    ("no words", b'{"text": " ... !!! "}', 422, "no words in text"),
    (
        "same id twice",
        b'{"documents": [{"id": "t", "text": "one"}, {"id": "t", "text": "two"}]}',
        422,
        "the same id as document 0",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "message"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_requests_get_a_4xx_naming_the_problem(
    http: httpx.Client, case: str, body: bytes, status: int, message: str
) -> None:
    for path in ("/documents", "/query"):
        if case == "same id twice" and path == "/query":
            continue
        r = http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == status, (path, r.text)
        assert message in r.json()["detail"], (path, r.text)


def test_limits_unknown_ids_and_conflicts(http: httpx.Client, server: Server) -> None:
    before = http.get("/stats").json()["documents"]
    big = {"id": "big", "text": "word " * (MAX_BODY // 4)}
    r = http.post("/documents", json=big)
    assert r.status_code == 413 and f"{MAX_BODY:,}" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield b'{"id": "big2", "text": "'
        for _ in range(MAX_BODY // 1000 + 5):
            yield b"word " * 200
        yield b'"}'

    r = http.post("/documents", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    many = {"documents": [{"text": f"story number {i}"} for i in range(MAX_DOCS + 1)]}
    r = http.post("/documents", json=many)
    assert r.status_code == 413 and f"limit is {MAX_DOCS}" in r.json()["detail"]
    assert http.get("/documents/no-such-doc").status_code == 404
    assert http.delete("/documents/no-such-doc").status_code == 404
    r = http.get("/clusters/999999")
    assert r.status_code == 404 and "999999" in r.json()["detail"]
    for bad in ("99999999999999999999999", "-1"):
        r = http.get(f"/clusters/{bad}")
        assert r.status_code == 422 and "cluster_id" in r.json()["detail"]
    r = http.get("/clusters/abc")
    assert r.status_code == 422 and "cluster_id" in r.json()["detail"]
    r = http.put("/documents/x", json={})
    assert r.status_code == 405

    add(http, {"id": "conflict-1", "text": make_story(731)})
    r = http.post("/documents", json={"documents": [{"id": "fresh-1", "text": make_story(732)},
                                                    {"id": "conflict-1", "text": make_story(733)}]})  # fmt: skip
    assert r.status_code == 409 and "conflict-1" in r.json()["detail"]
    assert http.get("/documents/fresh-1").status_code == 404  # the batch is all or nothing
    (again,) = add(http, {"id": "conflict-1", "text": make_story(731)})
    assert again["status"] == "exists"
    assert http.get("/stats").json()["documents"] == before + 1
    assert http.get("/health").json()["status"] == "ok"
    assert " 500 " not in server.log_path.read_text()


def test_concurrent_clients_lose_and_double_nothing(server: Server) -> None:
    n_writers, per_writer, per_request = 4, 12, 3
    stories = [make_story(800 + i, paragraphs=4) for i in range(n_writers * per_writer)]
    with server.client() as c:
        before = c.get("/stats").json()["documents"]
    errors: list[str] = []
    query_results: list[int] = []

    total = n_writers * per_writer

    def partner(i: int) -> int:
        return (i - 1 + per_writer) % total

    def writer(w: int) -> None:
        with server.client() as c:
            mine = list(range(w * per_writer, (w + 1) * per_writer))
            for start in range(0, per_writer, per_request):
                docs = []
                for i in mine[start : start + per_request]:
                    # every other document is a copy of a story another writer adds
                    text = copy_of(stories[partner(i)], i) if i % 2 else stories[i]
                    docs.append({"id": f"cc-{i}", "text": text})
                r = c.post("/documents", json={"documents": docs})
                if r.status_code != 200:
                    errors.append(r.text)

    def reader() -> None:
        with server.client() as c:
            for k in range(15):
                r = c.post("/query", json={"text": stories[k % len(stories)]})
                if r.status_code != 200:
                    errors.append(r.text)
                else:
                    query_results.append(len(r.json()["results"][0]["matches"]))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(n_writers)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(query_results) == 30
    with server.client() as c:
        assert c.get("/stats").json()["documents"] == before + total
        for i in range(total):
            assert c.get(f"/documents/cc-{i}", params={"text": "false"}).status_code == 200
        # each copy found the story it copies, whichever writer got there first
        for i in range(1, total, 2):
            doc = c.get(f"/documents/cc-{i}", params={"text": "false"}).json()
            assert f"cc-{partner(i)}" in {m["id"] for m in doc["matches"]}
    with Index(server.index, create=False) as index:
        assert index.check() == []


def test_restart_finds_everything_still_there(server: Server) -> None:
    story = make_story(901, paragraphs=5)
    with server.client() as c:
        add(c, {"id": "r-wire", "text": story}, {"id": "r-copy", "text": copy_of(story, 3)})
        stats = c.get("/stats").json()
        doc = c.get("/documents/r-wire").json()
        cluster = c.get(f"/clusters/{doc['cluster']}").json()
    server.stop()
    server.start()
    with server.client() as c:
        after = c.get("/stats").json()
        assert {**after, "size_bytes": 0} == {**stats, "size_bytes": 0}  # a checkpoint resizes
        assert c.get("/documents/r-wire").json() == doc
        assert c.get(f"/clusters/{doc['cluster']}").json() == cluster
        # and it goes on matching against what it had
        (res,) = add(c, {"id": "after-restart", "text": copy_of(doc["text"], 99)})
        assert "r-wire" in {m["id"] for m in res["matches"]}
