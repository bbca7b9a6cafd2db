"""Opening and closing checklists from the template: yes / no / n.a. and a note."""

from __future__ import annotations

from db.store import ElectionStore
from observer.i18n import tr
from observer.records import CHECKLIST_ANSWERS
from observer.template import Question
from ui.pages.base import Page, plain_label
from ui.qt import QButtonGroup, QGridLayout, QGroupBox, QLabel, QLineEdit, QRadioButton, QVBoxLayout, QWidget
from ui.settings import Settings
from ui.widgets.fields import TextLimit
from ui.widgets.messages import succeeded

CHECKLISTS: tuple[str, ...] = ("opening", "closing")


class _QuestionRow:
    """The widgets of one question; answers are saved as soon as they change."""

    def __init__(self, grid: QGridLayout, row: int, parent: QWidget, question: Question) -> None:
        self.question = question
        self.label = plain_label("", parent)
        self.label.setWordWrap(True)
        grid.addWidget(self.label, row, 0)
        self.group = QButtonGroup(parent)
        self.buttons: dict[str, QRadioButton] = {}
        for col, answer in enumerate(CHECKLIST_ANSWERS, start=1):
            button = QRadioButton(parent)
            self.group.addButton(button)
            self.buttons[answer] = button
            grid.addWidget(button, row, col)
        self.note = QLineEdit(parent)
        self.note.setMinimumWidth(140)  # a Kazakh row at 150% scaling (910 px) has no more to give
        self.limit = TextLimit(self.note, counter=False)  # the field stops at the limit; its tooltip says so
        grid.addWidget(self.note, row, len(CHECKLIST_ANSWERS) + 1)

    def answer(self) -> str | None:
        return next((a for a, b in self.buttons.items() if b.isChecked()), None)

    def show(self, answer: str | None, note: str) -> None:
        # Unchecking needs a non-exclusive group for a moment (an answer may have been cleared).
        self.group.setExclusive(False)
        for a, b in self.buttons.items():
            b.setChecked(a == answer)
        self.group.setExclusive(True)
        if not self.note.hasFocus():
            self.note.setText(note)


class ChecklistsPage(Page):
    title_key = "ui.nav.checklists"

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self._loading = False
        col = QVBoxLayout(self.body)
        col.setContentsMargins(0, 0, 0, 0)
        tpl = store.template
        self.boxes: dict[str, QGroupBox] = {}
        self.rows: dict[str, list[_QuestionRow]] = {}
        self.note_headers: list[QLabel] = []
        for checklist, questions in (("opening", tpl.opening_checklist), ("closing", tpl.closing_checklist)):
            box = QGroupBox(self.body)
            grid = QGridLayout(box)
            grid.setColumnStretch(0, 1)
            note_header = plain_label("", box)
            note_header.setObjectName("hint")
            grid.addWidget(note_header, 0, len(CHECKLIST_ANSWERS) + 1)
            self.note_headers.append(note_header)
            rows = []
            for r, question in enumerate(questions, start=1):
                qrow = _QuestionRow(grid, r, box, question)
                for button in qrow.buttons.values():
                    button.toggled.connect(lambda checked, cl=checklist, q=qrow: self._toggled(checked, cl, q))
                qrow.note.textEdited.connect(lambda _text, cl=checklist, q=qrow: self._save(cl, q))
                rows.append(qrow)
            self.boxes[checklist] = box
            self.rows[checklist] = rows
            col.addWidget(box)
        col.addStretch(1)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        super().retranslate()
        for checklist, box in self.boxes.items():
            box.setTitle(tr(f"ui.checklists.{checklist}"))
            for qrow in self.rows[checklist]:
                qrow.label.setText(qrow.question.labels.get())
                for answer, button in qrow.buttons.items():
                    button.setText(tr(f"ui.checklists.answer.{answer}"))
                qrow.note.setPlaceholderText(tr("ui.checklists.note"))
                qrow.limit.update()
        for header in self.note_headers:
            header.setText(tr("ui.checklists.note"))

    def refresh(self) -> None:
        super().refresh()
        sid = self.station_id
        self._loading = True
        try:
            for checklist, rows in self.rows.items():
                stored = self.store.checklist(sid, checklist) if sid else {}
                for qrow in rows:
                    entry = stored.get(qrow.question.key)
                    qrow.show(entry.answer if entry else None, entry.note if entry else "")
        finally:
            self._loading = False

    def focus_target(self, target: str) -> None:
        """Put the cursor on a question's first answer ("<checklist>:<question>")."""
        checklist, _, key = target.partition(":")
        for qrow in self.rows.get(checklist, []):
            if qrow.question.key == key:
                first = next(iter(qrow.buttons.values()))
                self.scroller.ensureWidgetVisible(qrow.label)
                self.scroller.ensureWidgetVisible(first)
                first.setFocus()
                return

    def _toggled(self, checked: bool, checklist: str, qrow: _QuestionRow) -> None:
        # Only the button being switched on saves; the one switched off fires too.
        if checked:
            self._save(checklist, qrow)

    def _save(self, checklist: str, qrow: _QuestionRow) -> None:
        sid = self.station_id
        if self._loading or sid is None:
            return
        succeeded(
            lambda: self.store.set_checklist_answer(sid, checklist, qrow.question.key, qrow.answer(), qrow.note.text())
        )
