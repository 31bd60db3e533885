"""Files re-read when they change on disk: watchlists and the aircraft database, live.

:class:`ReloadingFile` holds the parsed contents of one file and, on :meth:`~ReloadingFile.check`,
re-reads it if its signature (modification time, size, inode) changed. A file that fails to
read or parse keeps the previous contents: the reason is logged as a warning and counted
(``failures``, and ``on_result(kind, "failed")`` for a metric), and that broken version is
not retried until the file changes again. The first load is the caller's business: at
start-up a broken file is a configuration error, not something to run without.

:class:`Reloader` checks its files from a daemon thread every ``interval_s`` (default 30 s,
so a change is live within a minute), and stops when asked. Parsing happens in that thread;
the swap is one attribute assignment, so readers see either the old or the new contents,
never a mixture. Parsing a 100 MB aircraft database takes a few seconds of CPU, shared with
the worker's thread while it runs.

Out of scope: inotify (polling a few files twice a minute costs nothing and works on every
file system, network mounts and Kubernetes ConfigMaps included).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["DEFAULT_RELOAD_INTERVAL_S", "Reloader", "ReloadingFile"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How often files are checked: half the minute within which a change must be live.
DEFAULT_RELOAD_INTERVAL_S = 30.0

#: (mtime in ns, size, inode): what changes when a file is rewritten or replaced.
Signature = tuple[int, int, int]


def _signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class ReloadingFile(Generic[T]):
    """The current contents of one file, parsed by ``load`` (see the module docstring).

    ``kind`` is a bounded label (``watchlist``, ``aircraft_db``); ``name`` says which file in
    logs. ``load`` runs once here, so a broken file at start-up raises to the caller.
    """

    def __init__(
        self,
        path: str | Path,
        load: Callable[[Path], T],
        *,
        kind: str,
        name: str | None = None,
        on_result: Callable[[str, str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.kind = kind
        self.name = name or self.path.name
        self._load = load
        self.on_result = on_result
        self._signature = _signature(self.path)
        self.value: T = load(self.path)
        #: Successful re-reads and failed ones since start.
        self.reloads = 0
        self.failures = 0
        #: Why the last re-read failed (None after a success).
        self.last_error: str | None = None

    def check(self) -> bool:
        """Re-read the file if it changed since the last attempt; True when new contents
        were taken. Never raises: a failure keeps the old contents."""
        signature = _signature(self.path)
        if signature == self._signature:
            return False
        self._signature = signature  # a broken version is tried once, not every poll
        if signature is None:
            return self._failed("file is missing or unreadable")
        try:
            value = self._load(self.path)
        except Exception as exc:  # any parse error: keep serving the previous contents
            return self._failed(f"{type(exc).__name__}: {exc}")
        self.value = value
        self.reloads += 1
        self.last_error = None
        log.info("%s %s reloaded: %r", self.kind, self.name, value)
        if self.on_result is not None:
            self.on_result(self.kind, "reloaded")
        return True

    def _failed(self, reason: str) -> bool:
        self.failures += 1
        self.last_error = reason[:500]
        log.warning(
            "%s %s changed but could not be read; keeping the previous contents: %s",
            self.kind, self.name, self.last_error,
        )  # fmt: skip
        if self.on_result is not None:
            self.on_result(self.kind, "failed")
        return False


class Reloader:
    """Checks files from a daemon thread every ``interval_s`` until :meth:`stop`."""

    def __init__(
        self, files: Sequence[ReloadingFile[object]], interval_s: float = DEFAULT_RELOAD_INTERVAL_S
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.files = list(files)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_all(self) -> int:
        """Check every file once; how many took new contents."""
        return sum(f.check() for f in self.files)

    def start(self) -> None:
        """Start the polling thread (no-op without files or when running)."""
        if self._thread is not None or not self.files:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="skyfence-reload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_all()
            except Exception:  # pragma: no cover - check() never raises; belt and braces
                log.exception("reload check failed")

    def stop(self) -> None:
        """Stop the thread (waits for a check in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
