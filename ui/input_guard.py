"""The input guard: the mouse wheel never changes an unfocused combo, spin box or slider (ui.app installs it)."""

from __future__ import annotations

from typing import Any

from ui.qt import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QEvent,
    QObject,
    QProxyStyle,
    QScrollBar,
    QStyledItemDelegate,
    Qt,
    QWheelEvent,
    QWidget,
)

WHEEL_GUARDED = (QComboBox, QAbstractSpinBox, QAbstractSlider)  # date/time edits are spin boxes


def is_wheel_guarded(widget: QObject) -> bool:
    # Scroll bars never have the focus: scroll areas pass them the wheel, which must scroll.
    return isinstance(widget, WHEEL_GUARDED) and not isinstance(widget, QScrollBar)


class InputGuard(QObject):
    """What every input widget must do, as a filter on the guarded widgets only.

    The mouse wheel never changes a value in a widget the user has not focused:
    scrolling a page over a combo box, a number or a date must scroll the page, not
    turn "Ballot stuffing" into "Family voting" or move a violation two days. Such
    widgets take focus by click or Tab only, and a wheel event over an unfocused one
    goes to the scroll area around it (the page scrolls, the value stays).

    Combo boxes draw their open list with a styled item delegate: the default one
    paints the highlighted item with the combo's own style sheet rule, a white box
    without text on Linux, so the observer could not read what they were about to pick.

    :class:`GuardStyle` calls :meth:`guard` for each such widget when Qt polishes it (every
    widget is polished before it is first shown). The filter sits on those widgets, not on the
    application: an application-wide filter routed every event of every object through
    Python (~2,300 before the first paint of the coordinator's window, ~30 ms of its start).
    """

    def guard(self, widget: QWidget) -> None:
        if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a wheel turn must not focus it either
        if isinstance(widget, QComboBox) and not isinstance(widget.itemDelegate(), QStyledItemDelegate):
            widget.setItemDelegate(QStyledItemDelegate(widget))
        widget.installEventFilter(self)  # Qt keeps one entry per filter: a widget polished again is not filtered twice

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            assert isinstance(event, QWheelEvent)
            _scroll_around(obj, event)
            return True
        return False


class GuardStyle(QProxyStyle):
    """The application's style (Qt's default, or ``-style``/``QT_STYLE_OVERRIDE``) unchanged but for
    :meth:`polish`, which hands each wheel-guarded widget to the :class:`InputGuard`.

    The style sheet's style forwards every widget's polish to this one, its base, so widgets
    with a style sheet of their own are guarded too.
    """

    def __init__(self, guard: InputGuard) -> None:
        super().__init__()  # no base given: Qt's choice of style for this application
        self.input_guard = guard

    def polish(self, target: Any) -> None:  # type: ignore[override]  # one name for QStyle's three overloads
        super().polish(target)
        if isinstance(target, QWidget) and is_wheel_guarded(target):
            self.input_guard.guard(target)


def _scroll_around(widget: QWidget, event: QWheelEvent) -> None:
    """Give the wheel turn to the nearest scroll area around ``widget`` (the page, a table)."""
    area = widget.parentWidget()
    while area is not None and not isinstance(area, QAbstractScrollArea):
        area = area.parentWidget()
    if area is None:
        return
    viewport = area.viewport()
    forwarded = QWheelEvent(
        viewport.mapFromGlobal(event.globalPosition()),
        event.globalPosition(),
        event.pixelDelta(),
        event.angleDelta(),
        event.buttons(),
        event.modifiers(),
        event.phase(),
        event.inverted(),
        event.source(),
    )
    QApplication.sendEvent(viewport, forwarded)


_input_guard: InputGuard | None = None


def install_input_guard(app: QApplication) -> InputGuard:
    """Give the application the :class:`GuardStyle` (once per process), before its style sheet is set."""
    global _input_guard
    if _input_guard is None:
        _input_guard = InputGuard(app)
        app.setStyle(GuardStyle(_input_guard))
    return _input_guard
