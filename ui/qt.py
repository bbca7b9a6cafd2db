"""The one place the UI imports Qt from.

Grepping for Qt use, or swapping the binding, then touches one file. Only the
names the app uses are re-exported.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import (
    QByteArray,
    QDateTime,
    QEvent,
    QObject,
    QPointF,
    QRectF,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QKeyEvent,
    QIntValidator,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QShortcut,
    QValidator,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QButtonGroup,
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)



class _Probe(QObject):
    ping = Signal()


def _guard_emit_refcount_bug() -> bool:
    """Work around a PySide6 bug that crashes the app after a few hundred signals.

    With PySide6 6.12 on Python 3.11, ``SignalInstance.emit()`` returns ``True``
    without taking a reference to it, so every emit from Python code takes one
    reference away from ``True``; after about 600 emits (a few minutes of data
    entry) CPython aborts with "bool_dealloc: deallocating True or False".
    Python 3.12+ makes True immortal and is not affected. Here we detect the
    leak and give ``True`` a huge reference count, which is exactly what 3.12
    does: True is a singleton that is never freed, so extra references cost
    nothing. Returns whether the guard was applied.
    """
    if sys.version_info >= (3, 12):
        return False
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(4):
        probe.ping.emit()
    if sys.getrefcount(True) >= before:
        return False
    ctypes.c_ssize_t.from_address(id(True)).value += 1 << 40
    return True


EMIT_GUARD_APPLIED = _guard_emit_refcount_bug()

__all__ = [name for name in dir() if name.startswith("Q") or name in ("Qt", "Signal")]
