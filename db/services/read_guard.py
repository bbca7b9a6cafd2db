"""Stopping the coordinator window's background reads, and running them where quitting never waits.

:class:`QueryGuard` lets a closing window stop a read of the store under way on
a helper thread (the observers' figures, the reused-photo scan): SQLite's
interrupt on a file, the server's cancel on a shared HQ. :class:`DaemonWorker`
runs a shared HQ's table reads on one daemon thread. Split from
:mod:`db.services.station_table`, which uses both (and still exports them).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from db.services.station_reader import cancel_on_server

if TYPE_CHECKING:
    from db.store import ElectionStore

_T = TypeVar("_T")


class DaemonWorker:
    """One daemon thread running what is submitted, in order (a ThreadPoolExecutor of one, but a
    daemon): quitting the app never waits for a read that a server far away has not answered."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., _T], *args: Any) -> Future[_T]:
        future: Future[_T] = Future()
        self._queue.put((future, fn, args))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        return future

    def _run(self) -> None:
        while True:
            future, fn, args = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - delivered to whoever waits for the future
                future.set_exception(exc)


class ScanStopped(Exception):
    """A background read was stopped by :meth:`QueryGuard.interrupt` (its window closed)."""


class QueryGuard:
    """Lets another thread stop a background read of a store: a flag, plus the driver's interrupt.

    While :meth:`watching` (on the worker thread), every connection the worker
    checks out of the store's pool is noted; :meth:`interrupt`, from any thread,
    sets the flag and calls ``sqlite3.Connection.interrupt()`` on them (on
    PostgreSQL psycopg's ``Connection.cancel()``: the server cancels the running
    statement), which makes a running query fail at once. Python loops call
    :meth:`check` between steps.
    """

    def __init__(self) -> None:
        self._conns: list[Any] = []  # checked out by a watching thread and not yet back in the pool
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @contextmanager
    def watching(self, store: ElectionStore) -> Iterator[QueryGuard]:
        # Listeners of this watch only: two watches of one guard (a worker's, and a caller that
        # reads with the same guard) may overlap, and neither may remove the other's.
        from sqlalchemy import event

        engine = store.engine
        thread = threading.get_ident()
        mine: list[Any] = []

        def checkout(dbapi_conn: Any, _record: object, _proxy: object) -> None:
            if threading.get_ident() == thread:
                with self._lock:
                    mine.append(dbapi_conn)
                    self._conns.append(dbapi_conn)

        def checkin(dbapi_conn: Any, _record: object) -> None:
            # Back in the pool, the connection may serve another thread next: never interrupt that one.
            with self._lock:
                if dbapi_conn in mine:
                    mine.remove(dbapi_conn)
                    self._conns.remove(dbapi_conn)

        event.listen(engine, "checkout", checkout)
        event.listen(engine, "checkin", checkin)
        try:
            self.check()
            yield self
        except ScanStopped:
            raise
        except BaseException as exc:
            if self._stopped.is_set():
                raise ScanStopped() from exc  # "interrupted" from SQLite, or what a half-read led to
            raise
        finally:
            event.remove(engine, "checkout", checkout)
            event.remove(engine, "checkin", checkin)
            with self._lock:
                for conn in mine:
                    self._conns.remove(conn)
                mine.clear()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def check(self) -> None:
        if self._stopped.is_set():
            raise ScanStopped()

    def interrupt(self) -> None:
        self._stopped.set()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                stop = getattr(conn, "interrupt", None)  # sqlite3's: at once, in-process
                if stop is not None:
                    stop()
                else:
                    cancel_on_server(conn)  # psycopg's
            except Exception:  # noqa: BLE001 - a connection closed meanwhile has nothing to stop
                pass
