"""Regenerate the observer screenshots in docs/screenshots/.

Every page of the observer's window, and the first screen, in Russian, Kazakh and
English, at 1366x768 and 100% and 125% scaling (the laptops observers have):
``observer-<page>-<lang>.png`` and ``observer-<page>-<lang>-125.png``. Run under a
real X server at 1366x768, for example:

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 python3 docs/screenshots/make_screenshots.py

Each scale runs in its own process (Qt reads QT_SCALE_FACTOR once). The script
builds a sample station file in a temporary folder (its own BAQYLAU_HOME, so
nothing of the user's is touched), fills in an Election Day, shows the window as
the app does (sized to the screen) and grabs every page.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="baqylau-shots-"))
os.environ["BAQYLAU_HOME"] = str(WORK / "home")

from PIL import Image, ImageDraw  # noqa: E402

from db.store import ElectionStore, now  # noqa: E402
from observer import i18n  # noqa: E402
from observer.template import builtin_template  # noqa: E402
from ui.app import Launcher, make_application  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.qt import QApplication, QBuffer, QIODevice, QWidget  # noqa: E402
from ui.settings import Settings  # noqa: E402

DAY = datetime(2021, 1, 10).astimezone().replace(hour=7)


def photo(path: Path, text: str, taken: datetime, colour: str) -> Path:
    img = Image.new("RGB", (1200, 900), colour)
    draw = ImageDraw.Draw(img)
    for i in range(0, 1200, 60):
        draw.line([(i, 0), (i, 900)], fill="white", width=2)
    draw.rectangle([200, 250, 1000, 650], fill="white", outline="black", width=6)
    draw.text((260, 420), text, fill="black")
    exif = Image.Exif()
    exif[306] = taken.strftime("%Y:%m:%d %H:%M:%S")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif.tobytes())
    path.write_bytes(buf.getvalue())
    return path


def build_station(path: Path) -> ElectionStore:
    """A station file with a whole Election Day in it: every page has something to show."""
    tpl = builtin_template("kz-majilis-2021")
    store = ElectionStore.create(path, tpl)
    store.set_observer("Айгүл Қасымова", "Жас сайлаушылар лигасы")
    st = store.upsert_station("75-012", "KZ-ALA", "Алмалинский район", "ул. Абая, 52, школа-гимназия № 25", 1842)
    store.select_station(st.id)
    fill_counts(store, st.id)
    add_violations(store, st.id)
    tpl_q = tpl.opening_checklist + tpl.closing_checklist
    answers = ["yes", "no", "yes", "yes", "na", "no", "yes", "yes", "yes", "no", "yes", "yes", "no", "yes", "no"]
    for q, answer in zip(tpl_q, answers):
        checklist = "opening" if q in tpl.opening_checklist else "closing"
        note = "впустили в 07:10" if q.key == "admitted" else ""
        store.set_checklist_answer(st.id, checklist, q.key, answer, note)
    return store


def fill_counts(store: ElectionStore, sid: str) -> None:
    """The head-count, the commission's announcements, the posted protocol and the invalid-ballot tally."""
    # A quiet morning, a lunchtime rise, a busy late afternoon.
    rates = {7: 8, 8: 14, 9: 22, 10: 30, 11: 36, 12: 44, 13: 40, 14: 38, 15: 42, 16: 50, 17: 31}
    for hour, n in rates.items():
        for i in range(n):
            store.add_headcount(sid, 1, at=DAY.replace(hour=hour, minute=int(i * 60 / n)))
    store.add_headcount(sid, -1, at=DAY.replace(hour=17, minute=59))
    for slot, announced in (("10:00", 81), ("12:00", 190), ("14:00", 329), ("16:00", 486)):
        store.set_announced(sid, slot, announced)
    posted = store.protocol_id(sid, "posted_copy")
    values = {
        "registered": 1842,
        "received": 1900,
        "issued": 702,
        "issued_outside": 23,
        "cancelled": 1190,
        "spoiled": 8,
        "in_boxes": 698,
        "invalid": 41,
        "valid": 667,
        "nur_otan": 301,
        "ak_zhol": 142,
        "qhp": 61,
        "auyl": 88,
        "adal": 60,
    }
    for key, value in values.items():
        store.set_protocol_value(posted, key, value)
    store.add_evidence(
        sid,
        photo(WORK / "protocol.jpg", "PROTOCOL 75-012", DAY.replace(hour=22, minute=40), "#8aa1b8"),
        protocol_id=posted,
    )
    for code, n in (("BLANK", 9), ("MULTIPLE", 14), ("WRITTEN", 11), ("TORN", 5), ("OTHER", 2)):
        store.set_spoiled(sid, code, n)


def add_violations(store: ElectionStore, sid: str) -> None:
    """Four violations, one edited (its history), one a draft without a category, three with photos."""
    # Each record saved a little after it happened, as an observer would (the store's clock).
    store.clock = lambda: DAY.replace(hour=6, minute=52).astimezone(UTC)
    v1 = store.save_violation(
        sid,
        category="OBS_BLOCK",
        occurred_at=DAY.replace(hour=6, minute=45),
        severity="medium",
        description="Наблюдателя не пускали в помещение до 07:10, ссылаясь на «распоряжение акимата».",
        involved="Секретарь УИК",
        action="remark_to_commission",
        action_note="Замечание внесено в журнал",
    )
    store.clock = lambda: DAY.replace(hour=15, minute=24).astimezone(UTC)
    v2 = store.save_violation(
        sid,
        category="STUFF",
        occurred_at=DAY.replace(hour=15, minute=20),
        severity="high",
        description="Мужчина в сером пальто опустил в урну пачку из 5–7 сложенных бюллетеней.",
        involved="Неизвестный мужчина, член УИК № 3",
        action="complaint_filed",
        action_note="Жалоба № 1 принята председателем",
    )
    # Edited an hour later: the history shows what it said before.
    store.clock = lambda: DAY.replace(hour=16, minute=25).astimezone(UTC)
    store.save_violation(
        sid,
        violation_id=v2,
        category="STUFF",
        severity="high",
        description="Мужчина в сером пальто опустил в урну пачку из 5–7 сложенных бюллетеней; председатель отвернулся.",
        involved="Неизвестный мужчина, член УИК № 3",
        action="complaint_filed",
        action_note="Жалоба № 1 принята председателем",
    )
    store.clock = lambda: DAY.replace(hour=21, minute=5).astimezone(UTC)
    # Typed in a hurry, no category chosen yet: a draft, flagged in the list.
    store.save_violation(sid, description="Посторонний в помещении для голосования во время подсчёта.")
    store.clock = lambda: DAY.replace(hour=20, minute=33).astimezone(UTC)
    store.save_violation(
        sid,
        category="PHOTO_BAN",
        occurred_at=DAY.replace(hour=20, minute=30),
        severity="medium",
        description="Председатель запретил фотографировать увеличенную форму протокола.",
        involved="Председатель УИК",
        action="complaint_refused",
    )
    store.clock = now
    store.add_evidence(
        sid,
        photo(WORK / "entrance.jpg", "ENTRANCE 06:45", DAY.replace(hour=6, minute=46), "#b88a8a"),
        violation_id=v1,
    )
    store.add_evidence(
        sid, photo(WORK / "box.jpg", "BALLOT BOX 15:20", DAY.replace(hour=15, minute=21), "#8ab89a"), violation_id=v2
    )
    store.add_evidence(
        sid, photo(WORK / "box2.jpg", "BALLOT BOX 15:21", DAY.replace(hour=15, minute=22), "#a8b88a"), violation_id=v2
    )


SCALES = {"1": "", "1.25": "-125"}  # QT_SCALE_FACTOR -> file name suffix
LANGUAGES = ("ru", "kk", "en")


def settle(widget: QWidget) -> None:
    for _ in range(5):
        QApplication.processEvents()


def grab(widget: QWidget, name: str) -> None:
    """Save a screenshot with 256 colours: the text stays sharp and the file small."""
    settle(widget)
    image = widget.grab().toImage()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    shot = Image.open(io.BytesIO(bytes(buffer.data())))
    shot.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(OUT / name, optimize=True)
    print("wrote", OUT / name, f"{shot.width}x{shot.height}")


def page_name(page: QWidget) -> str:
    return type(page).__name__.removesuffix("Page").lower()  # SetupPage -> setup, ReviewPage -> review


def main(suffix: str) -> None:
    app = make_application()
    settings = Settings()
    launcher = Launcher(settings)
    for lang in LANGUAGES:
        i18n.set_language(lang)
        first = launcher.start(None)
        grab(first, f"observer-first-run-{lang}{suffix}.png")

    store = build_station(WORK / "station-75-012.baqylau")
    store.close()
    window = launcher.start(WORK / "station-75-012.baqylau")  # as the app shows it: sized to the screen
    assert isinstance(window, MainWindow)
    from ui.pages.export import ExportPage
    from ui.pages.review import ReviewPage
    from ui.pages.violations import ViolationsPage

    usb = WORK / "USB"
    usb.mkdir(exist_ok=True)
    reason = {
        "ru": "Комиссия не объявила явку на 18:00 и 20:00",
        "kk": "Комиссия 18:00 және 20:00 кезіндегі қатысуды жарияламады",
        "en": "The commission did not announce turnout at 18:00 and 20:00",
    }
    for lang in LANGUAGES:
        i18n.set_language(lang)
        for index, page in enumerate(window.pages):
            window.show_page(index)
            if isinstance(page, ViolationsPage):
                page.table.selectRow(1)
            if isinstance(page, ReviewPage):
                page.reason.setText(reason[lang])
            if isinstance(page, ExportPage):
                page.folder.setText(str(usb))
                page.export_to(usb, reason[lang])  # open items are listed on the review page
            grab(window, f"observer-{page_name(page)}-{lang}{suffix}.png")
        violations = window.pages[[type(p) for p in window.pages].index(ViolationsPage)]
        assert isinstance(violations, ViolationsPage)
        window.show_page(window.pages.index(violations))
        violations.table.selectRow(1)
        violations.show_history()
        assert violations.history_dialog is not None
        grab(violations.history_dialog, f"observer-violation-history-{lang}{suffix}.png")
        violations.history_dialog.close()
    i18n.set_language("ru")
    launcher.shutdown()
    app.quit()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        main(SCALES[os.environ.get("QT_SCALE_FACTOR", "1")])
        sys.stdout.flush()
        # Skip interpreter teardown: PySide6 can crash destroying widgets after QApplication.
        os._exit(0)
    for factor in SCALES:
        env = dict(os.environ, QT_SCALE_FACTOR=factor)
        subprocess.run([sys.executable, __file__, "--one"], env=env, check=True)
