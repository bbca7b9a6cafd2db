"""Input widgets for tired fingers: integers only, large, saved by the caller at once."""

from __future__ import annotations

from observer.fmt import formatter
from observer.i18n import current_language, tr
from observer.records import MAX_TEXT
from ui.qt import (
    QCheckBox,
    QEvent,
    QHBoxLayout,
    QIntValidator,
    QLabel,
    QLineEdit,
    QObject,
    QPlainTextEdit,
    Qt,
    QWidget,
    Signal,
)

MAX_COUNT = 99_999_999  # more voters than any station, less than SQLite's integer limit
LIMIT_WARN_SHARE = 0.9  # the counter shows from 90 % of a free-text field's limit


class IntField(QLineEdit):
    """A whole-number field where empty means "not entered yet" (None), not 0.

    ``value_changed`` fires on every edit with the new value, so the page can
    commit it at once (the nothing-is-lost rule).
    """

    value_changed = Signal(object)  # int | None

    def __init__(self, parent: QWidget | None = None, maximum: int = MAX_COUNT) -> None:
        super().__init__(parent)
        self.setValidator(QIntValidator(0, maximum, self))
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setMaxLength(len(str(maximum)))
        self.setMinimumWidth(120)
        self.setProperty("problem", False)
        # The last field of a form keeps the focus on Enter (it would land on whatever widget comes next).
        self.enter_moves_on = True
        self.textEdited.connect(self._edited)
        self.returnPressed.connect(self._next_field)

    def value(self) -> int | None:
        text = self.text().strip()
        return int(text) if text.isdigit() else None

    def set_value(self, value: int | None) -> None:
        """Show a stored value without reporting it as an edit."""
        self.setText("" if value is None else str(value))

    def set_problem(self, problem: bool, tooltip: str = "") -> None:
        """Mark the field red when a control relation it takes part in fails."""
        if bool(self.property("problem")) != problem:
            self.setProperty("problem", problem)
            # A dynamic property only restyles after the style is re-applied.
            self.style().unpolish(self)
            self.style().polish(self)
        self.setToolTip(tooltip)

    def _next_field(self) -> None:
        # Enter moves on, as on the paper form: numbers are typed from a keypad, line after line.
        if self.enter_moves_on:
            self.focusNextChild()
        else:
            self.selectAll()

    def _edited(self, _text: str) -> None:
        self.value_changed.emit(self.value())


class WrapCheck(QWidget):
    """A check box whose text wraps (a QCheckBox's never does, and a long one widens the page).

    The box and a word-wrapped label beside it; a click on the label toggles the box,
    as a click on a check box's own text does. ``isChecked``/``setChecked``/``toggled``
    are the check box's.
    """

    toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.box = QCheckBox(self)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setBuddy(self.box)
        self.label.installEventFilter(self)
        row.addWidget(self.box, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.label, 1)
        self.box.toggled.connect(self.toggled)

    def isChecked(self) -> bool:  # the check box's names: callers need not care
        return self.box.isChecked()

    def setChecked(self, checked: bool) -> None:
        self.box.setChecked(checked)

    def setText(self, text: str) -> None:
        self.label.setText(text)
        self.box.setAccessibleName(text)  # a screen reader reads the box by its text

    def text(self) -> str:
        return self.label.text()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.label and event.type() == QEvent.Type.MouseButtonRelease and self.isEnabled():
            self.box.toggle()
            self.box.setFocus()
            return True
        return False


class TextLimit(QObject):
    """Keeps a free-text field within what a package may carry (observer.records.MAX_TEXT characters).

    A package with a longer text is refused by the reader, so the field refuses it
    first: typing or pasting past the limit is cut at the limit, and from 90 % of it
    a line under the field counts the characters (``label``; the page places it).
    Lengths are counted as Qt counts them (UTF-16 units), never fewer than Python's
    characters, so a text the field accepts is never too long for the package.
    """

    def __init__(self, edit: QLineEdit | QPlainTextEdit, limit: int = MAX_TEXT, counter: bool = True) -> None:
        super().__init__(edit)
        self.edit = edit
        self.limit = limit
        self.counter = counter  # False: the page has no room for the line; the tooltip says the limit
        self.label = QLabel(edit.parentWidget())
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setObjectName("hint")
        self.label.setWordWrap(True)
        self.label.hide()
        if isinstance(edit, QLineEdit):
            edit.setMaxLength(limit)
        # Connected before the page's own save: the page saves the text already cut.
        edit.textChanged.connect(self._changed)
        self.update()

    def length(self) -> int:
        if isinstance(self.edit, QPlainTextEdit):
            return self.edit.document().characterCount() - 1  # without the document's closing paragraph
        return len(self.edit.text().encode("utf-16-le")) // 2

    def _changed(self, *_args: object) -> None:
        if isinstance(self.edit, QPlainTextEdit):
            excess = self.length() - self.limit
            if excess > 0:
                # Remove what was just typed or pasted past the limit, before the cursor.
                cursor = self.edit.textCursor()
                end = cursor.position()
                if end < excess:  # a text set as a whole (the cursor at its start): its end goes
                    end = self.length()
                start = end - excess
                cursor.setPosition(start)
                cursor.setPosition(start + excess, type(cursor).MoveMode.KeepAnchor)
                cursor.removeSelectedText()
                self.edit.setTextCursor(cursor)
        self.update()

    def update(self) -> None:
        """Show the count in the current language (run again after a language switch)."""
        n = formatter(current_language()).integer
        length = self.length()
        self.edit.setToolTip(tr("ui.text.limit_tip", limit=n(self.limit)))
        if length >= self.limit:
            self.label.setText(tr("ui.text.limit_reached", limit=n(self.limit)))
        else:
            self.label.setText(tr("ui.text.limit_count", count=n(length), limit=n(self.limit)))
        self.label.setVisible(self.counter and length >= LIMIT_WARN_SHARE * self.limit)
