"""Look and feel: big targets, readable fonts, Kazakh letters everywhere.

The style sheet lives in code (not a .qss file) so a plain ``pip install``
carries it without package-data rules.
"""

from __future__ import annotations

import logging
import sys
from importlib import resources
from pathlib import Path

from ui.qt import QApplication, QFont, QFontDatabase, QFontMetrics

log = logging.getLogger("baqylau.ui")

BASE_POINT_SIZE = 11
FALLBACK_FAMILY = "DejaVu Sans"  # bundled in resources/fonts, covers ә ғ қ ң ө ұ ү һ і

STYLE_SHEET = """
QWidget { font-size: 11pt; }
QMainWindow, QWidget#page { background: #f6f7f9; }
QLabel#pageTitle { font-size: 17pt; font-weight: bold; color: #1d2b3a; padding: 4px 0 8px 0; }
QLabel#hint { color: #555e69; }
QLabel#bigNumber { font-size: 30pt; font-weight: bold; color: #1f5fa8; }
QLabel#problem { color: #b3261e; font-weight: bold; }
QLabel#ok { color: #2e7d32; }
QLabel#result { font-size: 12pt; }
QListWidget#nav { background: #1d2b3a; color: white; border: none; font-size: 12pt; outline: 0; }
QListWidget#nav::item { padding: 8px 10px; border-bottom: 1px solid #2b3d50; }
QListWidget#nav::item:selected { background: #1f5fa8; color: white; }
QLineEdit, QComboBox, QSpinBox, QDateTimeEdit {
    padding: 5px; border: 1px solid #9aa5b1; border-radius: 4px; background: white; min-height: 26px;
}
QComboBox[problem="true"] { border: 2px solid #b3261e; background: #fdecea; }
/* The open list of a combo box: without these rules the highlighted item is drawn white on white
   on Linux (the combo's own white background and padding reach its popup items). */
QComboBox QAbstractItemView {
    background: white; color: #1d2b3a; border: 1px solid #9aa5b1; outline: 0;
    selection-background-color: #1f5fa8; selection-color: white;
}
QComboBox QAbstractItemView::item { min-height: 26px; padding: 2px 8px; color: #1d2b3a; background: white; }
QComboBox QAbstractItemView::item:selected, QComboBox QAbstractItemView::item:hover { background: #1f5fa8; color: white; }
QPlainTextEdit { padding: 3px; border: 1px solid #9aa5b1; border-radius: 4px; background: white; }
QLineEdit:focus, QComboBox:focus, QSpinBox:focus, QDateTimeEdit:focus, QPlainTextEdit:focus { border: 2px solid #1f5fa8; }
QLineEdit[problem="true"] { border: 2px solid #b3261e; background: #fdecea; }
QPushButton { padding: 7px 16px; min-height: 28px; border-radius: 4px; border: 1px solid #8a96a3; background: #ffffff; }
QPushButton:hover { background: #eef3f9; }
QPushButton:checked { background: #1f5fa8; color: white; border: 1px solid #174b86; }
QPushButton:focus { border: 2px solid #1f5fa8; }
QPushButton#primary { background: #1f5fa8; color: white; border: none; font-weight: bold; }
QPushButton#primary:hover { background: #174b86; }
QPushButton#counter { background: #2e7d32; color: white; font-size: 30pt; font-weight: bold; border: none; border-radius: 10px; }
QPushButton#counter:pressed { background: #1b5e20; }
QPushButton#counter:focus { border: 3px solid #0d3311; }
QPushButton#firstRun { font-size: 14pt; padding: 18px; text-align: left; }
QGroupBox { font-weight: bold; border: 1px solid #c5ccd4; border-radius: 6px; margin-top: 14px; padding-top: 8px; background: white; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; }
QFrame#messageBar[kind="error"] { background: #fdecea; border-bottom: 2px solid #b3261e; }
QFrame#messageBar[kind="info"] { background: #e8f1fb; border-bottom: 2px solid #1f5fa8; }
QTableWidget { background: white; gridline-color: #d0d4da; }
QHeaderView::section { padding: 6px; background: #e9edf2; border: none; border-right: 1px solid #d0d4da; font-weight: bold; }
QRadioButton { spacing: 6px; padding: 4px 8px; }
QRadioButton::indicator { width: 18px; height: 18px; }
"""


# apply_style runs more than once per process (make_application is called by tests and by run()):
# the application remembers the families it loaded, so the same files are not added again
# (that cost start-up time and registered duplicates).
_FONTS_PROPERTY = "baqylauFontFamilies"


def _load_bundled_fonts() -> list[str]:
    app = QApplication.instance()
    if app is not None and app.property(_FONTS_PROPERTY) is not None:
        return [str(f) for f in app.property(_FONTS_PROPERTY)]
    families: list[str] = []
    try:
        folder = resources.files("resources.fonts")
        for entry in folder.iterdir():
            if entry.name.lower().endswith(".ttf"):
                # A file on disk is given by name: Qt reads what it needs from it, half the CPU of handing
                # it the whole file's bytes (~4 ms of the app's start for the five files).
                font_id = (
                    QFontDatabase.addApplicationFont(str(entry))
                    if isinstance(entry, Path)
                    else QFontDatabase.addApplicationFontFromData(entry.read_bytes())
                )
                if font_id >= 0:
                    families.extend(QFontDatabase.applicationFontFamilies(font_id))
    except (OSError, ModuleNotFoundError) as exc:  # a broken install still opens, with system fonts
        log.warning("bundled fonts not loaded: %s", exc)
        return families
    if app is not None:
        app.setProperty(_FONTS_PROPERTY, list(families))
    return families


def apply_style(app: QApplication) -> None:
    """Fonts and style sheet for the whole application."""
    families = _load_bundled_fonts()
    font = QFont(app.font())
    # Windows and macOS system fonts have Kazakh letters; elsewhere (Linux, Xvfb) the default
    # may be a font without them, so use the bundled DejaVu Sans.
    if sys.platform not in ("win32", "darwin") and (
        FALLBACK_FAMILY in families or FALLBACK_FAMILY in QFontDatabase.families()
    ):
        font = QFont(FALLBACK_FAMILY)
    font.setPointSize(BASE_POINT_SIZE)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)


def wrap_text(metrics: QFontMetrics, text: str, width: int, sep: str = " ") -> list[str]:
    """``text`` broken at ``sep`` into lines no wider than ``width`` (a word wider than that gets its own line).

    For texts Qt shows on one line only (list items, header sections): wrapped by hand
    they are shown whole instead of ending in "…".
    """
    lines: list[str] = []
    for word in (w.strip() for w in text.split(sep)):
        if not word:
            continue
        if lines and metrics.horizontalAdvance(f"{lines[-1]}{sep}{word}") <= width:
            lines[-1] = f"{lines[-1]}{sep}{word}"
        else:
            lines.append(word)
    return lines or [""]


def two_lines(metrics: QFontMetrics, text: str) -> str:
    """``text`` on two lines split at the space that makes the wider line narrowest (a table header)."""
    words = text.split()
    if len(words) < 2:
        return text
    best = min(
        range(1, len(words)),
        key=lambda i: max(
            metrics.horizontalAdvance(" ".join(words[:i])), metrics.horizontalAdvance(" ".join(words[i:]))
        ),
    )
    return " ".join(words[:best]) + "\n" + " ".join(words[best:])
