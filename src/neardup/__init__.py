"""neardup: find reprinted and near-duplicate texts, show what was copied, name the original.

import neardup
result = neardup.find(documents)     # strings, dicts, or pathlib.Path corpus files
result.pairs; result.clusters; result.original_of(doc_id)
"""

from neardup.api import Cluster, FindResult, Pair, find
from neardup.config import Settings
from neardup.corpus.sources import InputError

__all__ = ["Cluster", "FindResult", "InputError", "Pair", "Settings", "find"]
__version__ = "0.1.0"
