"""The one place the app imports Qt from: every module of ui/, tools/, benchmarks/ and tests/.

Grepping for Qt use, or swapping the binding, then touches one file; an
import-linter contract (pyproject.toml) keeps it so for ui/. Only the names the
app uses are listed (in the ``TYPE_CHECKING`` block, which mypy checks every
``from ui.qt import X`` against): add a name there when a screen needs it.

Each name is resolved from PySide6 when first imported from here (module
``__getattr__``, PEP 562), not all at once: PySide6 builds a class's Python
enums when the class is first looked up, and resolving every listed class
eagerly cost ~40 ms of the app's start for classes the first window never uses
(dialogs, the PDF preview). The PDF preview's QtPdf (its own wheel, PySide6-Pdf)
and QtTest's model tester are whole modules imported only when one of their
names is asked for (``_LATER``).

:func:`guard_singleton_refcounts` works around a reference-count bug of this
PySide6 build; whoever creates the QApplication calls it first
(``ui.app.make_application``, ``tests/conftest.py``).
"""

from __future__ import annotations

import ctypes
import importlib
import sys
from typing import TYPE_CHECKING, Any

from shiboken6 import isValid as is_alive  # whether the C++ object behind a Python wrapper still exists


def _skip_feature_source_reads() -> bool:
    """Stop PySide6 reading the source of every module imported after it (~20 ms of the app's start).

    PySide6 replaces ``__import__`` to support ``from __feature__ import snake_case``, and
    after each import asks ``shibokensupport.feature._mod_uses_pyside(module)`` whether the
    module mentions "PySide6", by reading its whole source (``inspect.getsource``: typing.py,
    argparse.py ... ~110 files before the coordinator's window is painted; napari/napari#8584
    traced the same cost). The answer only chooses, for attribute lookups made from that module,
    between the default feature set (0) and "whatever set was looked up last" (-1). Nothing in
    this app selects a feature (tests/test_layers.py fails on any ``from __feature__ import``),
    so the last set is always the default and "0" for every module is the same answer without
    the read (a module that does ``from __feature__ import`` still records its own choice
    first). Only the helper is replaced; a PySide6 without it is left alone. Returns whether it
    was replaced.
    """
    feature = sys.modules.get("shibokensupport.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False
    setattr(feature, "_mod_uses_pyside", _uses_default_features)  # noqa: B010  # a module mypy does not know
    return True


def _uses_default_features(module: object) -> bool:
    return True


FEATURE_SOURCE_READS_SKIPPED = _skip_feature_source_reads()

if TYPE_CHECKING:
    # The names the app uses, for mypy and the reader; at run time each is looked up on first use
    # (module __getattr__ below, PEP 562), so start-up pays only for the classes the first window needs.
    from PySide6.QtCore import (
        QAbstractTableModel,
        QBuffer,
        QByteArray,
        QCoreApplication,
        QDateTime,
        QEvent,
        QEventLoop,
        QIODevice,
        QLibraryInfo,
        QLockFile,
        QMimeData,
        QModelIndex,
        QObject,
        QPersistentModelIndex,
        QPoint,
        QPointF,
        QRectF,
        QRunnable,
        QSettings,
        QSize,
        QStorageInfo,
        Qt,
        QThread,
        QThreadPool,
        QTimer,
        QTranslator,
        QUrl,
        Signal,
        Slot,
    )
    from PySide6.QtGui import (
        QAction,
        QBrush,
        QCloseEvent,
        QColor,
        QCursor,
        QDesktopServices,
        QDragEnterEvent,
        QDropEvent,
        QFont,
        QFontDatabase,
        QFontMetrics,
        QGuiApplication,
        QImage,
        QImageReader,
        QIntValidator,
        QKeyEvent,
        QKeySequence,
        QMouseEvent,
        QPainter,
        QPainterPath,
        QPaintEvent,
        QPalette,
        QPen,
        QPixmap,
        QResizeEvent,
        QShortcut,
        QShowEvent,
        QValidator,
        QWheelEvent,
    )
    from PySide6.QtPdf import QPdfDocument
    from PySide6.QtPdfWidgets import QPdfView
    from PySide6.QtTest import QAbstractItemModelTester
    from PySide6.QtWidgets import (
        QAbstractItemView,
        QAbstractScrollArea,
        QAbstractSlider,
        QAbstractSpinBox,
        QApplication,
        QButtonGroup,
        QCheckBox,
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
        QProgressBar,
        QProgressDialog,
        QProxyStyle,
        QPushButton,
        QRadioButton,
        QScrollArea,
        QScrollBar,
        QSizePolicy,
        QSlider,
        QSpinBox,
        QSplitter,
        QStackedWidget,
        QStyledItemDelegate,
        QTableView,
        QTableWidget,
        QTableWidgetItem,
        QTabWidget,
        QTextBrowser,
        QToolBar,
        QToolButton,
        QToolTip,
        QVBoxLayout,
        QWidget,
    )

# Qt's base modules, searched in this order for a name (each name is in exactly one); importing a
# module is cheap, resolving a class is not (PySide6 builds its Python enums then).
_BASE = ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets")
# Names from modules of their own, imported only when one of these is asked for (the PDF preview's
# QtPdf, its own wheel PySide6-Pdf, and QtTest's model tester).
_LATER = {
    "QPdfDocument": "PySide6.QtPdf",
    "QPdfView": "PySide6.QtPdfWidgets",
    "QAbstractItemModelTester": "PySide6.QtTest",
}

if not TYPE_CHECKING:  # hidden from mypy: it checks `from ui.qt import X` against the names above

    def __getattr__(name: str) -> Any:
        if name in _LATER:
            value = getattr(importlib.import_module(_LATER[name]), name)
        elif name[:1] == "Q" or name in ("Signal", "Slot"):
            value = _from_base(name)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value  # looked up once: the next access is a plain module attribute
        return value


def _from_base(name: str) -> Any:
    for module in _BASE:
        value = getattr(importlib.import_module(module), name, None)
        if value is not None:
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Whether guard_singleton_refcounts() found the leak and applied the guard in this process.
SINGLETON_GUARD_APPLIED = False


def _leaks(obj: object, action: object) -> bool:
    before = sys.getrefcount(obj)
    for _ in range(8):
        action()  # type: ignore[operator]
    return sys.getrefcount(obj) < before


def guard_singleton_refcounts() -> bool:
    """Work around PySide6 6.12 on Python 3.11 freeing None and True under the app (call it once, first).

    This PySide6 build returns ``None`` from every void method (``setText``,
    ``update``, ``setObjectName`` ...) and ``True`` from ``Signal.emit()``
    without taking a reference, as if they were immortal. They are immortal
    only from Python 3.12 on; on 3.11 each call takes one reference away, and
    after a few thousand calls (a few hundred clicks on the head-count button)
    CPython aborts with "none_dealloc: deallocating None" (still so with
    PySide6 6.12.0: 1,000 ``emit()`` calls abort with "bool_dealloc"). We
    detect the leak and give None, True and False a huge reference count,
    which is exactly what Python 3.12 does: these singletons are never freed,
    so the extra references cost nothing. A second call does nothing. Returns
    whether the guard is applied.
    """
    global SINGLETON_GUARD_APPLIED
    if SINGLETON_GUARD_APPLIED or sys.version_info >= (3, 12):
        return SINGLETON_GUARD_APPLIED
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        ping = Signal()

    probe = Probe()
    leaky = _leaks(None, lambda: probe.setObjectName("probe")) or _leaks(True, probe.ping.emit)
    if leaky:
        for singleton in (None, True, False):
            ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40
        SINGLETON_GUARD_APPLIED = True
    return SINGLETON_GUARD_APPLIED
