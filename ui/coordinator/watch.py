"""Noticing that another coordinator changed a shared HQ: a change marker, polled off the UI thread.

Several coordinators work on one PostgreSQL HQ at once; a window must show what
the others merged, imported or decided without anyone pressing "Refresh". Every
few seconds :class:`ChangeWatch` reads a cheap marker of the data
(:meth:`db.services.station_reader.StationReader.change_marker`: row counts and
the newest row version of the tables coordinators write) on a helper thread with
its own connection, and says :attr:`ChangeWatch.changed` when it differs from
the last one read. Why polling rather than LISTEN/NOTIFY: docs/postgresql.md.

The helper thread (a :class:`db.services.read_guard.DaemonWorker`) never touches a Qt object: it fills a ``Future``, which a
timer on the UI thread looks at (the app's pattern, see ``ui/app.py``). A slow
or unreachable server only delays the next look; the window never waits for it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from pathlib import Path

from db.services.read_guard import DaemonWorker
from db.services.station_reader import StationReader
from ui.qt import QObject, QTimer, Signal

log = logging.getLogger("baqylau.ui")

POLL_MS = 3000  # how often a window asks whether the shared HQ changed
_COLLECT_MS = 50  # how often it looks whether the answer has come
# The marker's read may take no longer than this on the server; past it the poll is given up
# (a server under load answers the next one), and a closing window never waits longer for it.
STATEMENT_TIMEOUT_MS = 10_000


class ChangeWatch(QObject):
    """Polls a shared HQ's change marker; ``changed`` when someone else's commit moved it.

    The window's own changes move the marker too: after each, :meth:`rebase` makes the
    next marker read the new baseline instead of a change to report (the window already
    re-reads its pages after its own changes).
    """

    changed = Signal()

    def __init__(self, target: Path | str, interval_ms: int = POLL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._target = target
        self._reader: StationReader | None = None  # the helper thread's own connection
        self._reader_lock = threading.Lock()
        self._worker = DaemonWorker("baqylau-watch")  # one read at a time, never waited for on quitting
        self._future: Future[tuple[object, ...]] | None = None
        self._generation = 0  # bumped by rebase(): a marker read before it is not compared
        self._future_generation = 0
        self._baseline: tuple[object, ...] | None = None
        self._stopped = False
        self.polls = 0  # markers read and compared (for tests and the status)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)
        self._collector = QTimer(self)
        self._collector.setInterval(_COLLECT_MS)
        self._collector.timeout.connect(self.collect)

    def start(self) -> None:
        """Read the first marker (the baseline) now, then poll every interval."""
        self.poll()
        self._timer.start()

    def poll(self) -> None:
        """Ask for the marker (on the helper thread), unless a read is still under way."""
        if self._stopped or self._future is not None:
            return
        self._future, self._future_generation = self._worker.submit(self._read), self._generation
        self._collector.start()

    def collect(self) -> bool:
        """Take the marker if it has come (UI thread); True if it showed someone else's change."""
        future = self._future
        if future is None or not future.done():
            return False
        self._collector.stop()
        self._future = None
        if self._stopped:
            return False
        exc = future.exception()
        if exc is not None:
            log.info("change marker not read (tried again in %s ms): %s", self._timer.interval(), exc)
            return False
        marker = future.result()
        self.polls += 1
        if self._future_generation != self._generation:
            self.poll()  # read before the window's own change: the baseline must come after it
            return False
        previous, self._baseline = self._baseline, marker
        if previous is not None and marker != previous:
            self.changed.emit()
            return True
        return False

    def rebase(self) -> None:
        """The window changed the data itself: take the next marker as the baseline, not as a change."""
        self._generation += 1
        self._baseline = None
        self.poll()

    @property
    def busy(self) -> bool:
        """A marker read is under way (tests wait for it to end)."""
        return self._future is not None

    def stop(self) -> None:
        """The window closes: no more polls; a read under way is cancelled on the server (never waited for)."""
        self._stopped = True
        self._timer.stop()
        self._collector.stop()
        with self._reader_lock:
            reader = self._reader
            busy = self._future is not None
            if not busy:
                self._reader = None
        if reader is None:
            return
        if busy:
            reader.interrupt()  # the helper thread closes it as the read gives up
        else:
            reader.close()

    # ---- the helper thread ----------------------------------------------------------
    def _read(self) -> tuple[object, ...]:
        reader = self._reader  # only this thread sets it, one read at a time
        try:
            if reader is None:
                reader = StationReader(self._target)  # outside the lock: connecting may be slow
                reader.limit_statements(STATEMENT_TIMEOUT_MS)
                self._reader = reader
            marker = reader.change_marker()
        except BaseException:
            # A connection that failed is closed; the next poll connects afresh (the server may be back).
            # The error reaches the UI thread through the future, which logs it.
            self._close_reader()
            raise
        if self._stopped:
            self._close_reader()
        return marker

    def _close_reader(self) -> None:
        with self._reader_lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except Exception:  # noqa: BLE001 - it is gone either way
                pass
