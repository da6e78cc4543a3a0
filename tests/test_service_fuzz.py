"""Property-based fuzzing of the service against its own OpenAPI description (schemathesis).

Schemathesis generates valid and invalid requests for every operation from /openapi.json, sends
them to a real server and checks every response: no 5xx, responses that match the declared
schemas and status codes, 401 without the key, a correct Allow header, and stateful sequences
(add a document, then fetch, query and delete it). Bounded to a few examples per operation so it
finishes in well under a minute.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_service import KEY, Server


@pytest.mark.slow
def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    srv = Server(tmp_path / "fuzz.ndx", tmp_path / "server.log")
    srv.start()
    try:
        st = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
        run = subprocess.run(
            [st, "--no-color", "run", f"{srv.url}/openapi.json",
             "--header", f"Authorization: Bearer {KEY}",
             "--checks", "all", "--max-examples", "8", "--seed", "20251123",
             "--request-timeout", "120", "--generation-database", ":memory:"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
    finally:
        srv.stop()
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert KEY not in srv.log_path.read_text()
