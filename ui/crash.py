"""What is left when the app dies: a hard crash's stack in a file, and a word to the user next time.

A Python error is logged by the exception hook (ui/app.py) and the app keeps
running. A hard crash (a segfault in Qt, an abort) runs no Python code at all:
``faulthandler`` writes the stacks of every thread into ``crash-<pid>.txt`` in the
app's home, a file that exists exactly while this process runs. At the next start
a leftover file of a process that no longer exists means the app stopped without
closing (a crash, a kill, a power cut): its content goes into the log and the
user is told, with the log's path, once.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING

from db.workdirs import process_alive
from observer.i18n import tr
from observer.paths import app_home
from ui.qt import Qt, QWidget

if TYPE_CHECKING:
    from ui.qt import QMessageBox

log = logging.getLogger("baqylau.ui")
CRASH_PREFIX = "crash-"
CRASH_SUFFIX = ".txt"


class CrashGuard:
    """One per running app: ``start()`` when it starts, ``stop()`` when it closes normally."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or app_home()
        self.file: Path | None = None
        self._stream: IO[str] | None = None
        self._was_enabled = False
        self._thread_hook = threading.excepthook

    def start(self) -> bool:
        """Arm the crash file and log what earlier runs left; True if one of them stopped abnormally."""
        crashed = self._collect_leftovers()
        self.file = self.home / f"{CRASH_PREFIX}{os.getpid()}{CRASH_SUFFIX}"
        self._was_enabled = faulthandler.is_enabled()  # python -X faulthandler, pytest: given back in stop()
        try:
            self._stream = open(self.file, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole run
            faulthandler.enable(self._stream, all_threads=True)
        except OSError as exc:  # a read-only home: no crash file, the app still runs
            log.warning("crash file not written: %s", exc)
            self._stream = None
        self._thread_hook = threading.excepthook
        _hook_threads()
        return crashed

    def stop(self) -> None:
        """The app closes normally: nothing to report next time."""
        if self._stream is not None:
            faulthandler.disable()
            self._stream.close()
            self._stream = None
            if self._was_enabled and sys.stderr is not None:
                faulthandler.enable(sys.stderr, all_threads=True)
        threading.excepthook = self._thread_hook
        if self.file is not None:
            self.file.unlink(missing_ok=True)
            self.file = None

    def _collect_leftovers(self) -> bool:
        crashed = False
        for path in sorted(self.home.glob(f"{CRASH_PREFIX}*{CRASH_SUFFIX}")):
            owner = path.name[len(CRASH_PREFIX) : -len(CRASH_SUFFIX)]
            if owner.isdigit() and int(owner) != os.getpid() and process_alive(int(owner)):
                continue  # another copy of the app, running now (ours: a crashed run with a reused id)
            try:
                stack = path.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                continue
            crashed = True
            log.error("the previous run (process %s) stopped without closing%s", owner, ":\n" + stack if stack else "")
            path.unlink(missing_ok=True)
        return crashed


def _hook_threads() -> None:
    """An error in a plain worker thread reaches the log instead of only stderr."""

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        log.error(
            "unexpected error in thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        )

    threading.excepthook = hook


def tell_last_crash(parent: QWidget | None, log_file: Path) -> QMessageBox:
    """Say once that the app stopped last time and where the details are (non-modal)."""
    from ui.qt import QMessageBox  # only after a crash: its class costs ~5 ms of every start

    box = QMessageBox(
        QMessageBox.Icon.Warning,
        tr("ui.crash.last_title"),
        tr("ui.crash.last_text", log=str(log_file)),
        QMessageBox.StandardButton.Ok,
        parent,
    )
    box.setObjectName("lastCrashBox")
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setModal(False)
    box.show()
    return box
