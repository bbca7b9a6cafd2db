"""Opening packages in a helper process, ahead of the merge that writes them.

A merge reads each package (inflate and hash its members, verify its signature,
check and read its embedded database: about half of its time) and then writes it
into the HQ. A helper *process* reads the next packages while the merge writes the
current one, so a two-core laptop does both at once. Not a thread: both halves are
mostly Python between short C calls, and two threads sharing the GIL were slower
than one (1,000 packages into the 100,000-station HQ: 14.3 s in one thread, 16.6-17.1 s
with the reading on a second; the interpreter switched between them at every SQLite
row).

The helper only reads: what it opens is a :class:`~db.package.VerifiedPackage` of plain
data, checked exactly as :func:`~db.package.open_package` checks it in the merge's own
process, and every decision (duplicate, key, authorization) is still taken by the
merge, in order. A file the helper could not open for any reason but the file's own
(a ``PackageError``, translated in the merge's language) is opened again by the merge
itself, which then reports what happened as it always did. Small runs do without it:
starting a process costs more than it saves below :data:`MIN_PACKAGES`. Only callers that
ask (``merge_packages(read_ahead=True)``: the command, the window) get one: spawned, it
imports the calling program's main module, which must keep its work under the
``if __name__ == "__main__":`` guard (an unguarded script would run again in it).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.package import VerifiedPackage, open_package
from db.package_db import references, seed_references
from observer import i18n
from observer.errors import PackageError

MIN_PACKAGES = 200  # files to open in a run before a helper pays for its start (~1 s of CPU beside the merge)
AHEAD = 2  # packages opened ahead of the one being written: hides an uneven one, bounds memory
# Bigger files (a district's package, a station's with many photos) are read by the merge itself:
# up to AHEAD+1 packages' records are held at once. (A file under it may still hold a database that
# inflates beyond db.package.MAX_DB_IN_MEMORY, copied into the work folder to be read: so what the
# helper is opening is waited for before the run ends, PackageRead.drop.)
MAX_AHEAD_BYTES = 32 * 1024 * 1024

Opened = tuple[VerifiedPackage | None, str | None]  # (package, None) | (None, refusal) | (None, None): open it here


def open_for_merge(path: Path, work_dir: Path) -> Opened:
    """:func:`open_package` as the helper runs it: a refusal as its message, anything else left to the caller."""
    try:
        return open_package(path, work_dir=work_dir), None
    except PackageError as exc:
        return None, str(exc)
    except Exception:  # noqa: BLE001 - a storage problem, say: the merge opens the file again and reports it
        return None, None


def _start_helper(lang: str, schemas: dict[str, Any]) -> None:
    i18n.set_language(lang)  # refusals in the merge's language
    seed_references(schemas)  # the schemas a package's database is compared with, as the merge built them
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the merge, which stops the helper
    parent = multiprocessing.parent_process()
    if parent is not None:
        # A merge killed (or crashed) never says goodbye, and the helper holds its own end of the
        # queue it waits on: without this it would wait for ever, holding its memory.
        threading.Thread(target=_exit_with, args=(parent,), name="baqylau-parent-watch", daemon=True).start()


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns when the merge's process is gone, however it ended
    os._exit(0)


class PackageReader:
    """One helper process opening packages; ``close`` it (the merge does, before its work folder goes).

    A helper that cannot start or dies (a frozen build without ``freeze_support``, a killed
    process) costs nothing but its speed: :meth:`submit` then gives None, and a package it
    was opening comes back as "open it here" (:meth:`PackageRead.opened`).
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None  # started by the first file to open (a re-merge opens none)
        self._broken = False
        self.ready = False  # the helper has answered once: it is up (starting takes a second or so)

    def submit(self, path: Path, work_dir: Path) -> Future[Opened] | None:
        """The helper's opening of ``path``; None when the merge reads it itself: the helper broken,
        still starting (only the first file is given to it until it answers, so that it never works
        through files the merge read meanwhile), or a file over :data:`MAX_AHEAD_BYTES`."""
        if self._broken or (self._pool is not None and not self.ready):
            return None
        try:
            if path.stat().st_size > MAX_AHEAD_BYTES:
                return None
        except OSError:
            return None  # the merge's own reading says what is wrong with it
        try:
            if self._pool is None:
                self._pool = self._start()
            opening = self._pool.submit(open_for_merge, path, work_dir)
        except Exception:  # noqa: BLE001 - broken or not startable: the merge goes on without it
            self.close()
            self._broken = True
            return None
        opening.add_done_callback(self._answered)
        return opening

    def _answered(self, opening: Future[Opened]) -> None:
        if not opening.cancelled() and opening.exception() is None:
            self.ready = True

    @staticmethod
    def _start() -> ProcessPoolExecutor:
        # spawn everywhere: a forked child of a process with threads (the window's) may hang on a lock
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_helper,
            initargs=(i18n.current_language(), references()),
        )

    def close(self) -> None:
        """Let the helper go: it ends by itself after what it is doing (nothing the merge waits for),
        or at once if it never answered (still starting, or stuck: a script that starts a merge
        without the ``if __name__ == "__main__"`` guard makes its helper run that script again)."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        answered = self.ready
        helpers = list(getattr(pool, "_processes", {}).values())  # private, the only handle on them
        # Nothing cancelled: at most AHEAD files are left to it, and a cancelled item of a helper then
        # ended trips Python 3.11's executor (InvalidStateError), whose later items never complete.
        pool.shutdown(wait=False)
        if not answered:
            for helper in helpers:
                helper.terminate()


def _result(opening: Future[Opened] | None) -> Opened:
    """What the helper made of a file; ``(None, None)`` when it did not open it (nor refuse it)."""
    if opening is None:
        return None, None
    try:
        return opening.result()
    except Exception:  # noqa: BLE001 - the helper died or was stopped: the merge opens the file itself
        return None, None


@dataclass
class PackageRead:
    """What :meth:`db.merge._Merger.prepare` learnt of one file before its turn (nothing yet for a sealed one)."""

    path: Path
    digest: str | None = None  # SHA-256 of the file (None: unreadable)
    identity: str | None = None  # of its manifest, when it was read
    opening: Future[Opened] | None = None  # the package being opened by the helper process
    reader: PackageReader | None = None  # that helper

    def opened(self, work_dir: Path | None) -> VerifiedPackage | str:
        """The verified package, or why it is refused; opened here unless the helper did (or is
        opening it: then waited for), or while the helper is still starting."""
        pkg, refusal = self._answer()
        if pkg is not None or refusal is not None:
            return pkg if pkg is not None else str(refusal)
        try:
            return open_package(self.path, work_dir=work_dir)
        except PackageError as exc:
            return str(exc)

    def drop(self) -> None:
        """Not merged after all (a duplicate, or the run stopped): what the helper opened is let go,
        waited for if the helper is at it (it may have a private copy in the work folder)."""
        pkg, _ = self._answer()
        if pkg is not None:
            pkg.close()

    def _answer(self) -> Opened:
        """The helper's answer for this file, waited for unless the helper has not answered anything
        yet (still starting, a second or so, or stuck): then ``(None, None)`` at once, and whatever it
        may still make of the file is not needed. Never cancelled: see :meth:`PackageReader.close`."""
        if self.opening is not None and not self.opening.done() and not (self.reader and self.reader.ready):
            self.opening = None
        return _result(self.opening)


class ReadAhead:
    """The files' reads, each prepared up to :data:`AHEAD` files before its turn (with a helper
    process for runs of :data:`MIN_PACKAGES` files or more). Taken in order; ``close`` when done."""

    def __init__(
        self, files: Sequence[Path], prepare: Callable[[Path, PackageReader | None], PackageRead], helper: bool
    ) -> None:
        self.files = files
        self.prepare = prepare
        self.reader = PackageReader() if helper and len(files) >= MIN_PACKAGES else None
        self.ahead: deque[PackageRead] = deque()

    def take(self, i: int) -> PackageRead:
        """The read of ``files[i]``, once every file before it was taken."""
        while len(self.ahead) <= AHEAD and i + len(self.ahead) < len(self.files):
            self.ahead.append(self.prepare(self.files[i + len(self.ahead)], self.reader))
        return self.ahead.popleft()

    def close(self) -> None:
        try:
            while self.ahead:
                self.ahead.popleft().drop()
        finally:
            if self.reader is not None:
                self.reader.close()
