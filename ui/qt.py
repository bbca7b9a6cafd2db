"""The one place the UI imports Qt from.

Grepping for Qt use, or swapping the binding, then touches one file. Only the
names the app uses are re-exported.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QDateTime,
    QEvent,
    QIODevice,
    QLockFile,
    QObject,
    QPoint,
    QPointF,
    QRectF,
    QSettings,
    QSize,
    QStorageInfo,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QCloseEvent,
    QColor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QImageReader,
    QIntValidator,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
    QShortcut,
    QValidator,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSlider,
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
    QScrollBar,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


class _Probe(QObject):
    ping = Signal()


def _leaks(obj: object, action: object) -> bool:
    before = sys.getrefcount(obj)
    for _ in range(8):
        action()  # type: ignore[operator]
    return sys.getrefcount(obj) < before


def _guard_singleton_refcounts() -> bool:
    """Work around PySide6 6.12 on Python 3.11 freeing None and True under the app.

    This PySide6 build returns ``None`` from every void method (``setText``,
    ``update``, ``setObjectName`` ...) and ``True`` from ``Signal.emit()``
    without taking a reference, as if they were immortal. They are immortal
    only from Python 3.12 on; on 3.11 each call takes one reference away, and
    after a few thousand calls (a few hundred clicks on the head-count button)
    CPython aborts with "none_dealloc: deallocating None". We detect the leak
    and give None, True and False a huge reference count, which is exactly
    what Python 3.12 does: these singletons are never freed, so the extra
    references cost nothing. Returns whether the guard was applied.
    """
    if sys.version_info >= (3, 12):
        return False
    probe = _Probe()
    leaky = _leaks(None, lambda: probe.setObjectName("probe")) or _leaks(True, probe.ping.emit)
    if not leaky:
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40
    return True


SINGLETON_GUARD_APPLIED = _guard_singleton_refcounts()

__all__ = [name for name in dir() if name.startswith("Q") or name in ("Qt", "Signal")]
