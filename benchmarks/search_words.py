"""The search words the benchmarks query with, one list for all of them.

Imported as ``from search_words import SEARCH_WORDS``: each benchmark runs as a script
(``python benchmarks/NAME.py``), so this folder is first on ``sys.path``. Common words of
city problems and vendor offers, so that searches find something at any corpus size.
The list of ``leads_latency.py``, under which the latency figures in docs/benchmarks.md
were measured.
"""

from __future__ import annotations

SEARCH_WORDS = [
    "water",
    "traffic",
    "flood",
    "lighting",
    "waste",
    "sensor",
    "school",
    "energy",
    "health",
    "cctv",
    "drainage",
    "bus",
    "data",
    "solar",
]
