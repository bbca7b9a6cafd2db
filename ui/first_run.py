"""The first screen when no election file is open: create one, open one, or try the demo."""

from __future__ import annotations

from pathlib import Path

from db.fileformat import ROLE_HQ, ROLE_STATION
from observer.errors import BaqylauError
from observer.i18n import tr
from observer.template import BUILTIN_TEMPLATES, ElectionTemplate, builtin_template, load_template
from ui.input_guard import ComboBox
from ui.qt import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.settings import Settings
from ui.widgets.dialogs import ask_open_file, ask_save_file
from ui.widgets.language import LanguageCombo, language_bridge
from ui.widgets.messages import MessageBar, post_error

FROM_FILE = "__file__"
ROLES = (ROLE_STATION, ROLE_HQ)
# A station file ends in .baqylau; a coordinator's HQ file may also be a .db (the README's HQ.db).
SUFFIXES = {ROLE_STATION: (".baqylau",), ROLE_HQ: (".db", ".baqylau")}
DEFAULT_NAMES = {ROLE_STATION: "station.baqylau", ROLE_HQ: "HQ.db"}


def with_suffix(path: Path, role: str) -> Path:
    """``path`` with the role's suffix added unless it already has one the role accepts."""
    if path.suffix in SUFFIXES[role]:
        return path
    return path.with_name(path.name + SUFFIXES[role][0])


def plain(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class FirstRunWindow(QWidget):
    """Signals carry the user's choice; the launcher does the work and swaps windows."""

    create_requested = Signal(object, object, str)  # ElectionTemplate, Path, role (ROLES)
    open_requested = Signal(object)  # Path
    demo_requested = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.custom_template: ElectionTemplate | None = None
        self.setObjectName("page")
        self.setMinimumSize(760, 500)  # fits 1366x768 at 125% and 150% scaling
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.message_bar = MessageBar(self)
        outer.addWidget(self.message_bar)
        body = QVBoxLayout()
        body.setContentsMargins(60, 24, 60, 24)
        outer.addLayout(body, 1)

        top = QHBoxLayout()
        self.heading = plain()
        self.heading.setObjectName("pageTitle")
        top.addWidget(self.heading, 1)
        self.language_label = plain()
        top.addWidget(self.language_label)
        self.language_combo = LanguageCombo(self)
        top.addWidget(self.language_combo)
        body.addLayout(top)
        self.intro = plain()
        self.intro.setObjectName("hint")
        self.intro.setWordWrap(True)
        body.addWidget(self.intro)

        body.addWidget(self._create_form())

        other = QHBoxLayout()
        self.open_button = QPushButton(self)
        self.open_button.setObjectName("firstRun")
        self.demo_button = QPushButton(self)
        self.demo_button.setObjectName("firstRun")
        other.addWidget(self.open_button, 1)
        other.addWidget(self.demo_button, 1)
        body.addLayout(other)
        self.busy = plain()
        self.busy.setObjectName("hint")
        self.busy.hide()
        body.addWidget(self.busy)
        body.addStretch(1)

        self.template.activated.connect(self._template_chosen)
        self.save_browse.clicked.connect(self._choose_save_path)
        self.create_button.clicked.connect(self._create_clicked)
        self.save_path.returnPressed.connect(self._create_clicked)  # Enter in the path creates the file
        self.open_button.clicked.connect(self._open_clicked)
        self.demo_button.clicked.connect(self.demo_requested)
        # A bound method, not a lambda: Qt drops the connection when this window is deleted.
        language_bridge().changed.connect(self._language_changed)
        self.retranslate()

    def _create_form(self) -> QGroupBox:
        """Template, role and where to save: the box that creates a new election file."""
        self.create_box = QGroupBox(self)
        form = QFormLayout(self.create_box)
        self.template = ComboBox(self.create_box)
        for tid in BUILTIN_TEMPLATES:
            self.template.addItem(tid, tid)
        self.template.addItem("", FROM_FILE)
        self.template_label = plain()
        self.template_label.setBuddy(self.template)
        form.addRow(self.template_label, self.template)
        self.role = ComboBox(self.create_box)
        self.role.setObjectName("role")
        for role in ROLES:
            self.role.addItem("", role)
        self.role_label = plain()
        self.role_label.setBuddy(self.role)
        form.addRow(self.role_label, self.role)
        save_row = QHBoxLayout()
        self.save_path = QLineEdit(self.create_box)
        self.save_browse = QPushButton(self.create_box)
        save_row.addWidget(self.save_path, 1)
        save_row.addWidget(self.save_browse)
        self.save_label = plain()
        self.save_label.setBuddy(self.save_path)
        form.addRow(self.save_label, save_row)
        self.create_button = QPushButton(self.create_box)
        self.create_button.setObjectName("primary")
        self.create_button.setMinimumHeight(48)
        form.addRow(self.create_button)
        return self.create_box

    def _language_changed(self, lang: str) -> None:
        self.settings.language = lang
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr("ui.first.title"))
        self.heading.setText(tr("ui.first.heading"))
        self.language_label.setText(tr("ui.window.language"))
        self.intro.setText(tr("ui.first.intro"))
        self.create_box.setTitle(tr("ui.first.create"))
        for i in range(self.template.count()):
            tid = self.template.itemData(i)
            if tid == FROM_FILE:
                text = self.custom_template.names.get() if self.custom_template else tr("ui.first.template_file")
            else:
                text = builtin_template(tid).names.get()
            self.template.setItemText(i, text)
        self.template_label.setText(tr("ui.first.template"))
        self.role_label.setText(tr("ui.first.role"))
        for i in range(self.role.count()):
            self.role.setItemText(i, tr(f"ui.first.role.{self.role.itemData(i)}"))
        self.save_label.setText(tr("ui.first.save_as"))
        self.save_path.setPlaceholderText(tr("ui.first.save_hint"))
        self.save_browse.setText(tr("ui.first.browse"))
        self.create_button.setText(tr("ui.first.create_button"))
        self.open_button.setText(tr("ui.first.open"))
        self.demo_button.setText(tr("ui.first.demo"))
        self.busy.setText(tr("ui.first.demo_busy"))
        self.message_bar.retranslate()

    # ---- template ------------------------------------------------------
    def _template_chosen(self, index: int) -> None:
        if self.template.itemData(index) == FROM_FILE:
            path = ask_open_file(self, tr("ui.first.template_file"), tr("ui.filter.toml"), purpose="template")
            if path is None:
                self.template.setCurrentIndex(0)
                return
            self.load_custom_template(path)

    def load_custom_template(self, path: Path) -> bool:
        """A user's template file; a broken one is refused with the line and the problem."""
        try:
            self.custom_template = load_template(path)
        except BaqylauError as exc:
            post_error(str(exc))
            self.custom_template = None
            self.template.setCurrentIndex(0)
            self.retranslate()
            return False
        self.template.setCurrentIndex(self.template.findData(FROM_FILE))
        self.retranslate()
        return True

    def chosen_template(self) -> ElectionTemplate:
        tid = self.template.currentData()
        if tid == FROM_FILE and self.custom_template is not None:
            return self.custom_template
        return builtin_template(tid if tid != FROM_FILE else BUILTIN_TEMPLATES[0])

    # ---- actions -------------------------------------------------------
    def chosen_role(self) -> str:
        return str(self.role.currentData())

    def _choose_save_path(self) -> None:
        role = self.chosen_role()
        suggestion = self.settings.last_file.parent if self.settings.last_file else Path.home()
        path = ask_save_file(self, tr("ui.first.save_as"), tr("ui.filter.election"), suggestion / DEFAULT_NAMES[role])
        if path is not None:
            self.save_path.setText(str(with_suffix(path, role)))

    def _create_clicked(self) -> None:
        text = self.save_path.text().strip()
        if not text:
            self._choose_save_path()
            text = self.save_path.text().strip()
            if not text:
                return
        role = self.chosen_role()
        self.create_requested.emit(self.chosen_template(), with_suffix(Path(text).expanduser(), role), role)

    def _open_clicked(self) -> None:
        start = self.settings.last_file.parent if self.settings.last_file else None
        path = ask_open_file(self, tr("ui.first.open"), tr("ui.filter.election"), start, purpose="election")
        if path is not None:
            self.open_requested.emit(path)

    def set_busy(self, busy: bool) -> None:
        for w in (self.create_button, self.open_button, self.demo_button):
            w.setEnabled(not busy)
        self.busy.setVisible(busy)

    def show_error(self, text: str) -> None:
        post_error(text)
