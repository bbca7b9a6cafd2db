"""A hard crash leaves its stack in the log and a word to the user at the next start; background work
never leaves a Qt object to a worker thread (ui/crash.py, ui/app.py, ui/operations.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from observer import i18n
from observer.paths import app_home
from ui import app as app_module
from ui import operations
from ui.app import log_path, make_application
from ui.crash import CrashGuard
from ui.operations import Operation
from ui.qt import QApplication, QMessageBox

pytestmark = pytest.mark.gui


def _segfault_in_a_run(home: Path) -> None:
    """A copy of the app that dies as the election-night window did: a segfault, no Python at all."""
    code = "from ui.crash import CrashGuard; CrashGuard().start(); import faulthandler; faulthandler._sigsegv()"
    env = {**os.environ, "BAQYLAU_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=os.getcwd(), capture_output=True, timeout=60)
    assert done.returncode != 0


def test_a_segfault_is_in_the_log_and_told_once_at_the_next_start(qtbot, caplog: pytest.LogCaptureFixture) -> None:
    home = app_home()
    _segfault_in_a_run(home)
    assert list(home.glob("crash-*.txt"))  # what faulthandler wrote as the process died
    guard = CrashGuard()
    with caplog.at_level(logging.ERROR, logger="baqylau"):
        assert guard.start() is True
    assert "Segmentation fault" in caplog.text and "stopped without closing" in caplog.text
    guard.stop()
    assert not list(home.glob("crash-*.txt"))  # a clean close leaves nothing to report
    again = CrashGuard()
    assert again.start() is False  # told once, not at every start
    again.stop()


@pytest.mark.parametrize(
    ("lang", "words"), [("ru", "остановилось"), ("kk", "тоқтап қалды"), ("en", "stopped without closing")]
)
def test_the_next_start_tells_the_user_where_the_log_is(qtbot, monkeypatch, lang: str, words: str) -> None:
    _segfault_in_a_run(app_home())
    i18n.set_language(lang)
    app = make_application()
    seen: list[str] = []

    def fake_exec() -> int:  # the event loop of the started app: look at what it shows, then quit
        qtbot.waitUntil(lambda: any(w.objectName() == "lastCrashBox" and w.isVisible() for w in app.topLevelWidgets()))
        seen.extend(
            w.text() for w in app.topLevelWidgets() if isinstance(w, QMessageBox) and w.objectName() == "lastCrashBox"
        )
        return 0

    monkeypatch.setattr(app_module, "make_application", lambda: _Exec(app, fake_exec))
    monkeypatch.setattr(app_module, "install_exception_hook", lambda: None)  # keep pytest's hook
    assert app_module.run() == 0
    assert len(seen) == 1
    assert words in seen[0] and str(log_path()) in seen[0]
    assert "Segmentation fault" in log_path().read_text(encoding="utf-8")
    assert not list(app_home().glob("crash-*.txt"))  # this run closed normally


class _Exec:
    """The real application with its event loop replaced (run() calls ``exec`` once)."""

    def __init__(self, app: QApplication, exec_: object) -> None:
        self._app = app
        self.exec = exec_

    def __getattr__(self, name: str) -> object:
        return getattr(self._app, name)


def test_an_operation_lets_go_only_after_its_worker_has(qtbot, monkeypatch) -> None:
    """The worker must never hold the last reference to the bridge (a QObject) or the function."""
    gate = threading.Event()
    original = operations._Runnable.run

    def slow_release(self) -> None:
        self._run()  # emits the result ...
        gate.wait(30)  # ... and is descheduled before it drops its references
        original_finally(self)

    def original_finally(self) -> None:
        self._fn = self._ctx = self._bridge = None
        self._released.set()

    monkeypatch.setattr(operations._Runnable, "run", slow_release)
    make_application()
    got: list[int] = []
    op: Operation[int] = Operation(None, lambda _ctx: 42, show_progress=False).success(got.append)
    with qtbot.waitSignal(op.finished, timeout=10_000):
        op.run_in_background()
    assert got == [42]
    assert op in operations._RUNNING  # the worker still holds the bridge: the operation keeps it too
    gate.set()
    qtbot.waitUntil(lambda: op not in operations._RUNNING, timeout=10_000)
    assert original is not None
