"""Regenerate docs/screenshots/overview-map-{ru,kk,en}.png: the coordinator's overview with its map.

A demo election (``baqylau demo --hq``: 10,000 stations, its observers' packages merged) is
built in a temporary folder, the coordinator window opened on it at 1366x768, and the
overview grabbed in each language: Russian with the map coloured by coverage, Kazakh by
the turnout gap, English by coverage with a region's tooltip. Run under a real X server:

    xvfb-run -a -s "-screen 0 1366x768x24" python docs/screenshots/make_overview_map.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="baqylau-map-shots-"))
os.environ["BAQYLAU_HOME"] = str(WORK / "home")

from PIL import Image  # noqa: E402

import main  # noqa: E402
from db.store import ElectionStore  # noqa: E402
from observer import i18n  # noqa: E402
from observer.regionmap import COVERAGE, GAP  # noqa: E402
from ui.app import make_application  # noqa: E402
from ui.coordinator.window import CoordinatorWindow  # noqa: E402
from ui.qt import QApplication, QCursor, QPixmap, QToolTip, QWidget  # noqa: E402


def wait(condition: object, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:  # type: ignore[operator]
        QApplication.processEvents()
        time.sleep(0.02)


def save(pixmap: QPixmap, name: str) -> None:
    """256 colours, as make_screenshots.py saves them: sharp text, a small file."""
    pixmap.save(str(OUT / name))
    image = Image.open(OUT / name)
    image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(OUT / name, optimize=True)
    print("wrote", OUT / name, f"{image.width}x{image.height}")


def grab(window: QWidget, name: str) -> None:
    wait(lambda: False, 0.3)
    save(window.grab(), name)


def screen(window: QWidget, name: str) -> None:
    """The screen where the window is, tooltips included, cut to the window."""
    save(window.screen().grabWindow(0).copy(window.geometry()), name)


def shoot() -> None:
    app = make_application()
    main.main(["demo", str(WORK / "demo"), "--hq"])
    store = ElectionStore.open(WORK / "demo" / "demo-hq.baqylau")
    window = CoordinatorWindow(store)
    window.resize(1366, 768)
    window.show()
    page = window.show_tab("overview")
    wait(lambda: page.overview is not None)
    for lang, mode in (("ru", COVERAGE), ("kk", GAP), ("en", COVERAGE)):
        i18n.set_language(lang)
        window.retranslate()
        page.map_modes[mode].click()
        wait(lambda m=mode: m == COVERAGE or page._gaps is not None)
        if lang == "en":
            m = page.map
            point = m.point_of("KZ-KAR")
            QCursor.setPos(m.mapToGlobal(point.toPoint()))
            wait(lambda m=m: bool(m.toolTip()), 5)
            QToolTip.showText(m.mapToGlobal(point.toPoint()), m.toolTip(), m)
            wait(lambda: False, 0.5)
            screen(window, f"overview-map-{lang}.png")  # the tooltip is a window of its own
            continue
        grab(window, f"overview-map-{lang}.png")
    app.quit()


if __name__ == "__main__":
    shoot()
    sys.stdout.flush()
    os._exit(0)  # PySide6 can crash destroying widgets after QApplication
