"""Telling the user things, from any page, without holding a window.

Pages call :func:`attempt` around store operations: a ``BaqylauError`` (disk
full, read-only stick, refused photo) becomes a translated message in the
window's message bar and the page carries on. ``saved()`` lets the status bar
confirm that an edit reached the disk. Modelled on qutebrowser's message bridge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from observer.errors import BaqylauError
from observer.i18n import tr
from ui.qt import QFrame, QHBoxLayout, QLabel, QObject, Qt, QTimer, QToolButton, QWidget, Signal

log = logging.getLogger("baqylau.ui")
T = TypeVar("T")

ERROR = "error"
INFO = "info"


class MessageBridge(QObject):
    posted = Signal(str, str)  # kind (error | info), text already translated
    saved = Signal()  # an edit was committed to the election file


_bridge: MessageBridge | None = None


def message_bridge() -> MessageBridge:
    global _bridge
    if _bridge is None:
        _bridge = MessageBridge()
    return _bridge


def post_error(text: str) -> None:
    log.warning("user error: %s", text)
    message_bridge().posted.emit(ERROR, text)


def post_info(text: str) -> None:
    message_bridge().posted.emit(INFO, text)


def saved() -> None:
    message_bridge().saved.emit()


def attempt(action: Callable[[], T], *, confirm_save: bool = True) -> T | None:
    """Run a store operation; a user error is shown and gives None instead of a traceback."""
    try:
        result = action()
    except BaqylauError as exc:
        post_error(str(exc))
        return None
    if confirm_save:
        saved()
    return result


def succeeded(action: Callable[[], object]) -> bool:
    """Like :func:`attempt` for operations that return nothing: True when it was saved."""
    try:
        action()
    except BaqylauError as exc:
        post_error(str(exc))
        return False
    saved()
    return True


class MessageBar(QFrame):
    """A band at the top of a window with the latest error or notice; never rich text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # messages quote file names and user text
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.close_button)
        self.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        message_bridge().posted.connect(self.show_message)
        self.retranslate()

    def retranslate(self) -> None:
        self.close_button.setToolTip(tr("ui.message.close"))

    def show_message(self, kind: str, text: str) -> None:
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.label.setText(text)
        self.show()
        if kind == INFO:
            # Notices fade; errors stay until read and closed.
            self._timer.start(10_000)
        else:
            self._timer.stop()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
