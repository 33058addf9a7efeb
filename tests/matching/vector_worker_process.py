"""One worker process of ``test_vector_workers``: it works through the shared vector
queue of the database named on its command line and prints what it embedded.

Its encoder, called with its first chunk claimed (on PostgreSQL, the chunk's queue rows
locked), says "holding" and waits for a line on stdin: the test lets the workers go on only
once every one holds a chunk, so they are known to work side by side, with no sleeps.
Run as ``python vector_worker_process.py DATABASE_URL INDEX_DIR CHUNK``.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from portal import create_app
from portal.extensions import db
from portal.matching.store.queue import compute_vectors


def main(database_url: str, index_dir: str, chunk: int) -> None:
    from matching.test_record_vectors import word_count_encode

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PORTAL_INDEX_DIR": index_dir,
        }
    )
    texts: list[str] = []
    waited = False

    def encode(batch: list[str]) -> np.ndarray:
        nonlocal waited
        if not waited:
            waited = True
            print("holding", flush=True)
            sys.stdin.readline()
        texts.extend(batch)
        return word_count_encode(batch)

    with app.app_context():
        work = compute_vectors(encode, chunk=chunk)
        db.engine.dispose()
    print(json.dumps({"records": work.records, "texts": texts, "claimed": work.claimed}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
