"""The app's input widgets: the mouse wheel never changes an unfocused combo, spin box, date or slider.

Scrolling a page over a combo box, a number or a date must scroll the page, not turn
"Ballot stuffing" into "Family voting" or move a violation two days. So the app makes its
input widgets from these classes, never from Qt's own (tests/ui/test_app.py checks ui/ for
it): they take focus by click or Tab only, and a wheel turn over one without the focus goes
to the scroll area around it (the page or table scrolls, the value stays).

Combo boxes draw their open list with a styled item delegate: the default one paints the
highlighted item with the combo's own style sheet rule, a white box without text on Linux,
so the observer could not read what they were about to pick.

Why classes and not a hook for every widget: the guard used to be the application's style
(a ``QProxyStyle`` whose Python ``polish`` saw each widget Qt polished). That cost ~9 % of the
instructions of the coordinator window's start: PySide6 built ``QStyle``'s enums, converted
~215 widgets for the call, and to name the combo box's private drop-down classes it built
every class of QtWidgets with their enums (QWizard, QMdiArea, QFileDialog ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ui.qt import QAbstractScrollArea, QApplication, QComboBox, QDateTimeEdit, QStyledItemDelegate, Qt, QWidget

if TYPE_CHECKING:
    from ui.qt import QWheelEvent


class WheelGuard:
    """Mixin, first in the bases of a Qt input widget: no focus by wheel, no wheel without focus."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # After a Qt class in the bases, Qt's wheelEvent would come first and nothing be guarded.
        first_qt = next((k for k in cls.__mro__ if k.__module__.startswith("PySide6.")), None)
        if first_qt is not None and cls.__mro__.index(first_qt) < cls.__mro__.index(WheelGuard):
            raise TypeError(f"{cls.__name__}: WheelGuard must come before {first_qt.__name__} in the bases")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._keep_wheel_off_focus()

    def _keep_wheel_off_focus(self) -> None:
        widget = self._widget()
        if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a wheel turn must not focus it either

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._widget().hasFocus():
            super().wheelEvent(event)  # type: ignore[misc]  # the Qt class after this one in the bases
        else:
            # Handed over, not ignored: Qt passes an ignored wheel event up to the parents only
            # when it came from the window system, not when the app or a test sent it.
            _scroll_around(self._widget(), event)

    def _widget(self) -> QWidget:
        assert isinstance(self, QWidget), "WheelGuard goes before a QWidget class in the bases"
        return self


class ComboBox(WheelGuard, QComboBox):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.setItemDelegate(QStyledItemDelegate(self))

    def setEditable(self, editable: bool) -> None:
        super().setEditable(editable)
        self._keep_wheel_off_focus()  # Qt resets the focus policy of an editable combo on macOS


class DateTimeEdit(WheelGuard, QDateTimeEdit):
    pass


def _scroll_around(widget: QWidget, event: QWheelEvent) -> None:
    """Give the wheel turn to the nearest scroll area around ``widget`` (the page, a table)."""
    from ui.qt import QWheelEvent  # looked up at the first turn: it builds QEvent's enums

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


# Qt's input classes the app never makes directly (tests/ui/test_app.py): a guarded class here
# (``class SpinBox(WheelGuard, QSpinBox)``) is made for one when a screen first needs it.
GUARDED_QT_CLASSES = (
    "QComboBox",
    "QFontComboBox",
    "QSpinBox",
    "QDoubleSpinBox",
    "QDateTimeEdit",
    "QDateEdit",
    "QTimeEdit",
    "QSlider",
    "QDial",
)
