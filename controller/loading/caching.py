"""Reuse per-file results across revisions, keyed by path and git blob id."""

from __future__ import annotations

import threading

from controller.loading.files import FileResult, load_file
from controller.loading.sources import SourceFile


class ParseCache:
    """Per-file results by (path, blob id), so a new revision re-parses only the files it changed.

    Parsing is nearly all of a load's cost (ruamel.yaml's round trip, about 1 ms per resource);
    the cross-resource checks always run on the whole revision. An entry not used by any of
    the last ``keep_loads`` loads is dropped, so the applied branch and a few proposals that
    share most files can use one cache without evicting each other.
    """

    def __init__(self, keep_loads: int = 8) -> None:
        self.keep_loads = keep_loads
        self._entries: dict[tuple[str, str], tuple[int, FileResult]] = {}
        self._generation = 0
        self._guard = threading.Lock()
        self.hits = 0
        self.misses = 0

    def result(self, file: SourceFile, scope: str | None, used: set[tuple[str, str]]) -> FileResult:
        if file.blob is None:
            return load_file(file, scope)
        key = (file.path, file.blob)
        used.add(key)
        with self._guard:
            found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            return found[1]
        self.misses += 1
        result = load_file(file, scope)
        with self._guard:
            self._entries[key] = (self._generation, result)
        return result

    def finish(self, used: set[tuple[str, str]]) -> None:
        """Mark ``used`` as used by this load and drop entries unused for ``keep_loads`` loads."""
        with self._guard:
            self._generation += 1
            for key in used:
                if key in self._entries:
                    self._entries[key] = (self._generation, self._entries[key][1])
            oldest = self._generation - self.keep_loads
            for key in [key for key, (seen, _) in self._entries.items() if seen < oldest]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
