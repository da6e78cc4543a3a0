"""neardup: find reprinted and near-duplicate texts, show what was copied, name the original.

import neardup
result = neardup.find(documents)     # strings, dicts, or pathlib.Path corpus files
result.pairs; result.clusters; result.original_of(doc_id)
"""

import contextlib as _contextlib
import hashlib as _hashlib
import os as _os
import tempfile as _tempfile
from pathlib import Path as _Path


def _numba_cache_dir() -> str:
    """A compiled-kernel cache keyed by the package's sources: numba tracks only the file of
    each function, not the kernels it calls in other modules, so an edit elsewhere could
    otherwise leave a stale kernel in the cache."""
    root = _Path(__file__).parent
    stamp = _hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        stamp.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}".encode())
    base = root / "__pycache__"
    if not _os.access(root, _os.W_OK):
        base = _Path(_tempfile.gettempdir()) / "neardup-numba-cache"
    current = base / f"numba-{stamp.hexdigest()[:16]}"
    if base.is_dir():  # drop the caches of earlier sources, once no process can be using them
        import shutil
        import time

        for old in base.glob("numba-*"):
            with _contextlib.suppress(OSError):
                if old != current and time.time() - old.stat().st_mtime > 3600:
                    shutil.rmtree(old, ignore_errors=True)
    # create it here: processes started together would otherwise race to create it
    with _contextlib.suppress(OSError):
        current.mkdir(parents=True, exist_ok=True)
    return str(current)


_os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache_dir())

from neardup.api import Cluster, FindResult, Pair, find  # noqa: E402
from neardup.config import Settings  # noqa: E402
from neardup.corpus.sources import InputError  # noqa: E402

__all__ = ["Cluster", "FindResult", "InputError", "Pair", "Settings", "find"]
__version__ = "0.1.0"
