"""The Whoosh index on disk: generations, the applied-events state, readers and writers.

``PORTAL_INDEX_DIR`` holds one folder per generation (``gen-…``) and a ``CURRENT`` file
naming the live one. A rebuild writes a new generation beside the live one, in a folder
named ``building-…-<pid>``, renames it ``gen-…`` once it is complete, then swaps
``CURRENT`` atomically; so an interrupted rebuild leaves the live index serving, and only
complete generations are ever named ``gen-`` (and kept as the previous one). A rebuild
that fails removes its own folder; one that was killed leaves it, and the next rebuild
removes it once its process is gone. Each generation keeps, in a state document written
in the same commit as the documents, how far into the event table it has applied, and
in a ``SCHEMA_VERSION`` file the version of the schema it was built with (none: 1).
A live generation of another version is neither searched nor written to: search answers
that it is being rebuilt, the drains leave the events waiting, and ``portal index
rebuild`` (or the worker, by itself) builds a current one, which applies them.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

from flask import current_app
from whoosh import index as whoosh_index
from whoosh.index import Index
from whoosh.searching import Searcher

from portal.db import utc_now
from portal.outbox import Position
from portal.search.schema import SCHEMA_VERSION, STATE_DOC_ID, make_schema

CURRENT_FILE = "CURRENT"
VERSION_FILE = "SCHEMA_VERSION"


class IndexOutdated(RuntimeError):
    """The live index was built with another schema version: rebuild it, never use it."""

    def __init__(self, found: int) -> None:
        super().__init__(
            f"the search index was built with schema version {found}; this portal uses "
            f"version {SCHEMA_VERSION}: run `portal index rebuild` (the worker does it too)"
        )
        self.found = found


BUILDING = "building-"
GENERATION = "gen-"


class IndexStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_app(cls) -> IndexStore:
        return cls(current_app.config["PORTAL_INDEX_DIR"])

    # -- generations -------------------------------------------------------------
    def current_generation(self) -> Path | None:
        try:
            name = (self.root / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.root / name
        return path if name and whoosh_index.exists_in(path) else None

    def new_generation(self, state: Position) -> tuple[Path, Index]:
        """Create an empty generation that starts from ``state``, in a ``building-``
        folder: not a generation until ``finish_generation`` names it one."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%f")
        path = self.root / f"{BUILDING}{stamp}-{os.getpid()}"
        path.mkdir()
        try:
            (path / VERSION_FILE).write_text(str(SCHEMA_VERSION), encoding="utf-8")
            ix = whoosh_index.create_in(path, make_schema())
            with ix.writer() as writer:
                write_state(writer, state)
        except BaseException:
            self.discard(path)
            raise
        return path, ix

    def finish_generation(self, building: Path) -> Path:
        """Name a complete ``building-`` folder as a generation (not yet live)."""
        generation = building.with_name(GENERATION + building.name.removeprefix(BUILDING))
        os.rename(building, generation)
        return generation

    def discard(self, building: Path) -> None:
        """Remove a generation that will not be finished (a failed or interrupted build)."""
        shutil.rmtree(building, ignore_errors=True)

    def make_live(self, generation: Path) -> None:
        """Point CURRENT at ``generation`` atomically (a rename on the same filesystem)."""
        tmp = self.root / f"{CURRENT_FILE}.{os.getpid()}.tmp"
        tmp.write_text(generation.name, encoding="utf-8")
        os.replace(tmp, self.root / CURRENT_FILE)

    def remove_stale_generations(self, keep: int = 1) -> list[str]:
        """Delete generations other than the live one and the ``keep`` newest before it.

        Interrupted rebuilds leave a partial generation behind; this clears them too,
        but never one younger than an hour, which may still be being written.
        """
        live = self.current_generation()
        gens = sorted(p for p in self.root.glob(f"{GENERATION}*") if p.is_dir())
        removed = [path.name for path in self._abandoned_builds()]
        older = [p for p in gens if live is None or p.name < live.name]
        younger = [p for p in gens if live is not None and p.name > live.name]
        cutoff = utc_now().timestamp() - 3600
        for path in older[: max(len(older) - keep, 0)] + [
            p for p in younger if p.stat().st_mtime < cutoff
        ]:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        return removed

    def _abandoned_builds(self) -> list[Path]:
        """Remove the ``building-`` folders of rebuilds that were killed: their process is
        gone (the index is local to this node, so the pid is this machine's), or a day has
        passed."""
        removed = []
        cutoff = utc_now().timestamp() - 86400
        for path in self.root.glob(f"{BUILDING}*"):
            pid = path.name.rsplit("-", 1)[-1]
            if (pid.isdigit() and not _process_alive(int(pid))) or path.stat().st_mtime < cutoff:
                self.discard(path)
                removed.append(path)
        return removed

    # -- schema versions ---------------------------------------------------------
    @staticmethod
    def schema_version(generation: Path) -> int:
        """The schema version a generation was built with; 1 for one built before
        versions were recorded."""
        try:
            return int((generation / VERSION_FILE).read_text(encoding="utf-8").strip())
        except FileNotFoundError:
            return 1
        except ValueError:  # a damaged file: not a version this portal can use
            return 0

    def outdated_version(self) -> int | None:
        """The live generation's schema version when it is not this portal's, else None
        (also when there is no live generation yet: ``open`` creates a current one)."""
        generation = self.current_generation()
        if generation is None:
            return None
        found = self.schema_version(generation)
        return None if found == SCHEMA_VERSION else found

    def check_schema(self) -> None:
        """Raise ``IndexOutdated`` unless the live index may be searched and written."""
        found = self.outdated_version()
        if found is not None:
            raise IndexOutdated(found)

    # -- opening ---------------------------------------------------------------
    def open(self) -> Index:
        """The live index, created empty on first use."""
        generation = self.current_generation()
        if generation is None:
            building, _ = self.new_generation(Position())
            generation = self.finish_generation(building)
            self.make_live(generation)
        return whoosh_index.open_dir(generation)

    def searcher(self) -> Searcher:
        """A searcher on the live generation, kept per thread and refreshed when stale;
        ``IndexOutdated`` if that generation has another schema version."""
        return _searchers.get(self)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only the process's existence checked
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def read_state(searcher: Searcher) -> Position:
    stored = searcher.document(doc_id=STATE_DOC_ID) or {}
    return Position(
        int(stored.get("last_event", 0)), int(stored.get("horizon", 0)), stored.get("seen", "")
    )


def write_state(writer: Any, state: Position) -> None:
    """Store ``state`` with the writer's documents; call it before the writer adds any
    (a generation built before ``seen`` existed gets that field, which Whoosh allows only
    then)."""
    if "seen" not in writer.schema:
        writer.add_field("seen", make_schema()["seen"])
    writer.update_document(
        doc_id=STATE_DOC_ID,
        kind="__state__",
        last_event=state.last_event,
        horizon=state.horizon,
        seen=state.seen,
    )


class _SearcherCache(threading.local):
    """Opening a searcher costs file reads; reuse one per thread until the index moves."""

    def __init__(self) -> None:
        self.entries: dict[Path, tuple[Path, Searcher]] = {}

    def get(self, store: IndexStore) -> Searcher:
        # Searcher.refresh() is not used: in both maintained Whoosh forks it reuses
        # segment readers with stale deletions, so updated documents show up twice.
        generation = store.current_generation()
        cached = self.entries.get(store.root)
        if cached is not None and cached[0] == generation and cached[1].up_to_date():
            return cached[1]
        if cached is not None:
            cached[1].close()
            del self.entries[store.root]
        ix = store.open()
        generation = store.current_generation()
        assert generation is not None
        found = store.schema_version(generation)
        if found != SCHEMA_VERSION:
            raise IndexOutdated(found)
        searcher = ix.searcher()
        self.entries[store.root] = (generation, searcher)
        return searcher

    def close(self, root: Path) -> None:
        cached = self.entries.pop(root, None)
        if cached is not None:
            cached[1].close()


_searchers = _SearcherCache()


def close_searchers(root: str | Path) -> None:
    """Close this thread's cached searcher on ``root`` (tests use one index per test)."""
    _searchers.close(Path(root))
