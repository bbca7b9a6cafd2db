"""ui/operations.py: work off the UI thread, results and errors back on it, progress and cancel."""

from __future__ import annotations

import threading

import pytest

from observer.errors import StorageError
from observer.i18n import tr
from ui import operations
from ui.operations import Cancelled, Operation, OperationContext, log_file
from ui.qt import QApplication, QMessageBox, QPushButton, QThread, QWidget

pytestmark = pytest.mark.gui


def _boxes(name: str) -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == name and w.isVisible()
    ]


@pytest.fixture
def parent(qtbot) -> QWidget:
    w = QWidget()
    qtbot.addWidget(w)
    w.show()
    yield w
    for box in _boxes("baqylauErrorBox") + _boxes("baqylauUnexpectedBox"):
        box.close()


def test_result_arrives_on_the_ui_thread_and_the_work_ran_elsewhere(qtbot, parent) -> None:
    seen: dict[str, object] = {}

    def work(ctx: OperationContext) -> int:
        seen["worker"] = threading.current_thread()
        return 42

    def done(value: int) -> None:
        seen["value"] = value
        seen["ui_thread"] = QThread.currentThread() is QApplication.instance().thread()

    op = Operation(parent, work, show_progress=False).success(done)
    with qtbot.waitSignal(op.finished, timeout=5000):
        op.run_in_background()
    assert seen["value"] == 42 and seen["ui_thread"] is True
    assert seen["worker"] is not threading.main_thread()
    assert op.outcome == "success" and op.result == 42


def test_a_none_result_is_delivered(qtbot, parent) -> None:
    got: list[object] = ["unset"]
    op = Operation(parent, lambda ctx: None, show_progress=False).success(lambda v: got.__setitem__(0, v))
    with qtbot.waitSignal(op.finished, timeout=5000):
        op.run_in_background()
    assert got == [None]


def test_user_error_becomes_a_message_box_with_its_translated_text(qtbot, parent) -> None:
    def work(ctx: OperationContext) -> None:
        raise StorageError("error.storage.read_only", file="/media/usb/hq.baqylau")

    op = Operation(parent, work, show_progress=False)
    with qtbot.waitSignal(op.finished, timeout=5000):
        op.run_in_background()
    assert op.outcome == "failure" and isinstance(op.error, StorageError)
    boxes = _boxes("baqylauErrorBox")
    assert len(boxes) == 1
    assert boxes[0].text() == tr("error.storage.read_only", file="/media/usb/hq.baqylau")


def test_unexpected_error_is_logged_and_the_user_sees_no_traceback(qtbot, parent) -> None:
    def work(ctx: OperationContext) -> None:
        raise ZeroDivisionError("boom in the worker")

    op = Operation(parent, work, show_progress=False)
    with qtbot.waitSignal(op.finished, timeout=5000):
        op.run_in_background()
    boxes = _boxes("baqylauUnexpectedBox")
    assert len(boxes) == 1
    assert "Traceback" not in boxes[0].text() and str(log_file()) in boxes[0].text()
    for handler in operations.logging.getLogger("baqylau").handlers:
        handler.flush()
    logged = log_file().read_text(encoding="utf-8")
    assert "ZeroDivisionError: boom in the worker" in logged and "Traceback" in logged


def test_failure_callback_can_handle_the_error_itself(qtbot, parent) -> None:
    handled: list[BaseException] = []
    op = Operation(parent, lambda ctx: 1 / 0, show_progress=False).failure(lambda exc: handled.append(exc) or True)
    with qtbot.waitSignal(op.finished, timeout=5000):
        op.run_in_background()
    assert isinstance(handled[0], ZeroDivisionError)
    assert _boxes("baqylauUnexpectedBox") == []


def test_progress_reaches_the_ui_and_cancel_stops_the_work(qtbot, parent) -> None:
    started = threading.Event()
    progress: list[tuple[int, int, str]] = []
    cancelled: list[bool] = []

    def work(ctx: OperationContext) -> str:
        ctx.progress(1, 10, "first")
        started.set()
        while True:  # a long job that checks for Cancel between steps
            ctx.check()
            threading.Event().wait(0.005)

    op = Operation(parent, work, title="long job", progress_delay_ms=0)
    op.on_progress(lambda d, t, text: progress.append((d, t, text))).on_cancel(lambda: cancelled.append(True))
    op.run_in_background()
    assert started.wait(5)
    qtbot.waitUntil(lambda: progress != [], timeout=5000)
    assert progress[0] == (1, 10, "first")
    dialog = op._dialog
    assert dialog is not None and dialog.maximum() == 10
    cancel_button = dialog.findChild(QPushButton)
    assert cancel_button is not None and cancel_button.text() == tr("coordui.op.cancel")
    with qtbot.waitSignal(op.finished, timeout=5000):
        cancel_button.click()
    assert op.outcome == "cancelled" and cancelled == [True]
    assert op._dialog is None  # the progress dialog is gone


def test_cancelled_exception_is_not_an_error(qtbot, parent) -> None:
    def work(ctx: OperationContext) -> None:
        raise Cancelled()

    op = Operation(parent, work, show_progress=False)
    with qtbot.waitSignal(op.finished, timeout=5000):
        op.run_in_background()
    assert op.outcome == "cancelled" and _boxes("baqylauErrorBox") == [] and _boxes("baqylauUnexpectedBox") == []
