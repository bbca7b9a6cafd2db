"""Run one slow job (building the demo election) off the UI thread.

The job must not touch widgets; its result or error comes back through Qt
signals, which Qt delivers on the UI thread because the receiver lives there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ui.qt import QObject, Signal

log = logging.getLogger("baqylau.ui")


class BackgroundJob(QObject):
    finished = Signal(object)  # the job's return value
    failed = Signal(object)  # the exception it raised

    def __init__(self, job: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="baqylau-job", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            result = self._job()
        except BaseException as exc:  # reported to the UI thread, never lost in a worker
            log.exception("background job failed")
            self.failed.emit(exc)
            return
        self.finished.emit(result)
