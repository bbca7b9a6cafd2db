"""The whole Election Day of one observer, driven through the real widgets (offscreen)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from db.store import ElectionStore
from observer import i18n
from observer.i18n import tr
from observer.template import builtin_template
from ui.app import make_application
from ui.main_window import MainWindow
from ui.pages.checklists import ChecklistsPage
from ui.pages.export import ExportPage
from ui.pages.protocol import ProtocolPage
from ui.pages.review import ReviewPage
from ui.pages.setup import SetupPage
from ui.pages.spoiled import SpoiledPage
from ui.pages.turnout import COL_ANNOUNCED_PCT, TurnoutPage
from ui.pages.violations import ViolationsPage
from ui.qt import QAbstractSpinBox, QApplication, QEvent, QKeyEvent, Qt
from ui.settings import Settings

pytestmark = pytest.mark.gui


def jpeg(path: Path, taken: str = "2021:01:10 15:21:00", colour: str = "#8ab89a") -> Path:
    img = Image.new("RGB", (640, 480), colour)
    exif = Image.Exif()
    exif[306] = taken
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    path.write_bytes(buf.getvalue())
    return path


def open_window(qtbot, path: Path) -> tuple[MainWindow, ElectionStore]:
    make_application()
    store = ElectionStore.open(path)
    window = MainWindow(store, Settings())
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    return window, store


@pytest.fixture
def day(qtbot, tmp_path: Path) -> Iterator[tuple[MainWindow, ElectionStore]]:
    path = tmp_path / "station.baqylau"
    ElectionStore.create(path, builtin_template("kz-majilis-2021")).close()
    window, store = open_window(qtbot, path)
    yield window, store
    window.close()
    store.close()


def go(qtbot, window: MainWindow, number: int) -> None:
    """Ctrl+N switches pages, as an observer would."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # window shortcuts only reach the active window
    qtbot.keyClick(window, getattr(Qt.Key, f"Key_{number}"), Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.stack.currentIndex() == number - 1)


def type_into(qtbot, widget, text: str, enter: bool = False) -> None:
    """Type like a keyboard would; QTest only maps ASCII, so Cyrillic goes as raw key events."""
    widget.setFocus()
    widget.selectAll()
    target = widget.lineEdit() if isinstance(widget, QAbstractSpinBox) else widget
    for ch in text:
        if ch.isascii():
            qtbot.keyClick(target, ch)
        else:
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(target, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, ch))
    if enter:
        qtbot.keyClick(widget, Qt.Key.Key_Return)


def set_up_station(qtbot, window: MainWindow) -> SetupPage:
    go(qtbot, window, 1)
    setup = window.pages[0]
    assert isinstance(setup, SetupPage)
    type_into(qtbot, setup.observer_name, "Айгүл Қасымова")
    type_into(qtbot, setup.organisation, "MISK")
    type_into(qtbot, setup.code, "101", enter=True)
    setup.region.setCurrentIndex(setup.region.findData("KZ-ALA"))
    type_into(qtbot, setup.district, "Алмалинский")
    type_into(qtbot, setup.address, "ул. Абая, 1")
    type_into(qtbot, setup.registered, "1500")
    return setup


def test_whole_day_is_stored_and_exported(qtbot, day, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window, store = day
    # Before set-up the recording pages say why they are disabled.
    turnout = window.pages[1]
    assert isinstance(turnout, TurnoutPage)
    assert not turnout.body.isEnabled()

    # ---- 1. set-up --------------------------------------------------------
    set_up_station(qtbot, window)
    st = store.current_station()
    assert st is not None
    assert (st.code, st.region, st.district, st.address, st.registered) == (
        "101",
        "KZ-ALA",
        "Алмалинский",
        "ул. Абая, 1",
        1500,
    )
    obs = store.observer()
    assert obs is not None and (obs.name, obs.organisation) == ("Айгүл Қасымова", "MISK")
    assert "101" in window.station_label.text() and "Айгүл Қасымова" in window.station_label.text()

    # ---- 2. turnout -------------------------------------------------------
    go(qtbot, window, 2)
    assert turnout.body.isEnabled()
    for _ in range(3):
        qtbot.mouseClick(turnout.add_button, Qt.MouseButton.LeftButton)
    turnout.table.setFocus()
    qtbot.keyClick(turnout.table, Qt.Key.Key_Space)
    qtbot.keyClick(turnout.table, Qt.Key.Key_Plus)
    qtbot.keyClick(turnout.table, Qt.Key.Key_Plus, Qt.KeyboardModifier.KeypadModifier)
    qtbot.keyClick(turnout.table, Qt.Key.Key_Plus, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(turnout.table, Qt.Key.Key_Backspace)  # undo one
    qtbot.keyClick(turnout.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # and another
    qtbot.keyClick(turnout.table, Qt.Key.Key_Backspace)
    assert store.headcount(st.id) == 4
    assert turnout.count_value.text() == "4"
    assert [p.total for p in store.headcount_timeline(st.id)] == [1, 2, 3, 4, 5, 6, 7, 6, 5, 4]
    # The chart follows the clicks without re-reading the day from disk, and agrees with it.
    assert [p.total for p in turnout.chart.points] == [1, 2, 3, 4, 5, 6, 7, 6, 5, 4]
    type_into(qtbot, turnout.slot_fields["10:00"], "120")
    assert {s.slot: s.announced for s in store.turnout_slots(st.id)} == {"10:00": 120}
    assert turnout.table.item(0, COL_ANNOUNCED_PCT).text() == "8,0\u00a0%"  # 120 of 1500, as Russian writes it

    # ---- 3. protocol with a failing control relation ----------------------
    go(qtbot, window, 3)
    protocol = window.pages[2]
    assert isinstance(protocol, ProtocolPage)
    figures = {
        "registered": "1500",
        "received": "1500",
        "issued": "900",
        "cancelled": "590",
        "spoiled": "10",
        "in_boxes": "900",
        "invalid": "40",
        "valid": "850",
        "nur_otan": "500",
        "ak_zhol": "200",
        "qhp": "100",
        "auyl": "30",
        "adal": "20",
    }
    for key, text in figures.items():
        type_into(qtbot, protocol.fields[key], text)
    # in_boxes == valid + invalid fails: 900 against 890; shown beside the fields, in Russian.
    message = protocol.problem_text("valid")
    expected = tr(
        "check.failed",
        "ru",
        rule="«Число бюллетеней, обнаруженных в урнах» = «Число действительных бюллетеней» + «Число недействительных бюллетеней»",
        left=900,
        sign="≠",
        right=890,
        diff=10,
    )
    assert message == expected
    assert "900 ≠ 890 (разница 10)" in message
    for key in ("in_boxes", "invalid", "valid"):
        assert protocol.fields[key].property("problem") is True
    assert protocol.fields["registered"].property("problem") is False
    # The figures were saved while typing, before anything was "confirmed".
    posted = [r for r in store.iter_table("protocols") if r.source == "posted_copy"]
    assert len(posted) == 1
    assert store.protocol_values(posted[0].id)["in_boxes"] == 900
    # The observer corrects the invalid ballots: the message disappears.
    type_into(qtbot, protocol.fields["invalid"], "50")
    assert protocol.problem_text("valid") == ""
    assert protocol.fields["in_boxes"].property("problem") is False
    assert store.protocol_values(posted[0].id)["invalid"] == 50
    # A photo of the protocol, chosen through the (replaced) file dialog.
    photo = jpeg(tmp_path / "protocol.jpg", "2021:01:10 22:40:00", "#8aa1b8")
    monkeypatch.setattr("ui.pages.protocol.ask_open_files", lambda *a, **k: [photo])
    qtbot.mouseClick(protocol.add_photo, Qt.MouseButton.LeftButton)
    assert protocol.photos.count() == 1
    assert store.evidence(st.id, protocol_id=posted[0].id)[0].exif_time == "2021-01-10 22:40:00"
    # Enter moves to the next line, so a keypad is enough for the whole form.
    protocol.fields["registered"].setFocus()
    qtbot.keyClick(protocol.fields["registered"], Qt.Key.Key_Enter)
    assert protocol.fields["received"].hasFocus()
    # The announced figures are a separate protocol.
    qtbot.mouseClick(protocol.source_buttons["announced"], Qt.MouseButton.LeftButton)
    assert protocol.fields["in_boxes"].text() == ""
    type_into(qtbot, protocol.fields["in_boxes"], "950")
    announced = [r for r in store.iter_table("protocols") if r.source == "announced"]
    assert store.protocol_values(announced[0].id) == {"in_boxes": 950}
    assert store.protocol_values(posted[0].id)["in_boxes"] == 900

    # ---- 4. spoiled ballots -------------------------------------------------
    go(qtbot, window, 4)
    spoiled = window.pages[3]
    assert isinstance(spoiled, SpoiledPage)
    type_into(qtbot, spoiled.spins["BLANK"], "12")
    type_into(qtbot, spoiled.spins["WRITTEN"], "7")
    for _ in range(3):
        qtbot.mouseClick(spoiled.plus["TORN"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(spoiled.minus["TORN"], Qt.MouseButton.LeftButton)
    assert store.spoiled(st.id) == {"BLANK": 12, "WRITTEN": 7, "TORN": 2}
    assert spoiled.total.text() == "Всего: 21"

    # ---- 5. a violation with a photo -----------------------------------------
    go(qtbot, window, 5)
    violations = window.pages[4]
    assert isinstance(violations, ViolationsPage)
    qtbot.mouseClick(violations.new_button, Qt.MouseButton.LeftButton)
    violations.category.setCurrentIndex(violations.category.findData("STUFF"))
    violations.severity.setCurrentIndex(violations.severity.findData("high"))
    hostile = "<b>Вброс</b> & <img src=x onerror=alert(1)>"
    type_into(qtbot, violations.description, hostile)
    type_into(qtbot, violations.involved, "член УИК № 3")
    violations.action.setCurrentIndex(violations.action.findData("complaint_filed"))
    box = jpeg(tmp_path / "box.jpg")
    monkeypatch.setattr("ui.pages.violations.ask_open_files", lambda *a, **k: [box])
    qtbot.mouseClick(violations.add_files, Qt.MouseButton.LeftButton)
    [v] = store.violations(st.id)
    assert (v.category, v.severity, v.description, v.involved, v.action, v.evidence_count) == (
        "STUFF",
        "high",
        hostile,
        "член УИК № 3",
        "complaint_filed",
        1,
    )
    [ev] = store.evidence(st.id, violation_id=v.id)
    caption = violations.evidence.item(0).text()
    assert ev.sha256[:12] in caption and "2021-01-10 15:21:00" in caption and "box.jpg" in caption
    assert violations.table.rowCount() == 1 and violations.table.item(0, 2).text() == "1"  # the files column
    # A file that only pretends to be a photo is refused with the reason, and not stored.
    fake = tmp_path / "fake.jpg"
    fake.write_text("not a photo at all")
    monkeypatch.setattr("ui.pages.violations.ask_open_files", lambda *a, **k: [fake])
    qtbot.mouseClick(violations.add_files, Qt.MouseButton.LeftButton)
    assert violations.evidence_error.text() == tr("error.evidence.not_image", "ru", file="fake.jpg")
    assert window.message_bar.text() == violations.evidence_error.text()
    assert len(store.evidence(st.id, violation_id=v.id)) == 1

    # ---- 6. checklists --------------------------------------------------------
    go(qtbot, window, 6)
    checklists = window.pages[5]
    assert isinstance(checklists, ChecklistsPage)
    first = checklists.rows["opening"][0]
    qtbot.mouseClick(first.buttons["yes"], Qt.MouseButton.LeftButton)
    closing = checklists.rows["closing"][-1]
    qtbot.mouseClick(closing.buttons["no"], Qt.MouseButton.LeftButton)
    type_into(qtbot, closing.note, "запретили")
    assert store.checklist(st.id, "opening")[first.question.key].answer == "yes"
    entry = store.checklist(st.id, "closing")[closing.question.key]
    assert (entry.answer, entry.note) == ("no", "запретили")

    # ---- 7. review, 8. export ------------------------------------------------------
    go(qtbot, window, 8)
    export = window.pages[7]
    assert isinstance(export, ExportPage)
    usb = tmp_path / "USB"
    usb.mkdir()
    type_into(qtbot, export.folder, str(usb))
    qtbot.mouseClick(export.export_button, Qt.MouseButton.LeftButton)
    # Unanswered questions and empty slots are open: nothing is written, the review opens instead.
    assert list(usb.iterdir()) == []
    review = window.pages[6]
    assert isinstance(review, ReviewPage)
    assert window.stack.currentIndex() == 6 and review.list.count() == len(review.items) > 0
    type_into(qtbot, review.reason, "копию не выдали")
    qtbot.mouseClick(review.anyway_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentIndex() == 7
    [package] = list(usb.iterdir())
    assert export.last_package == package
    from observer.signing import load_or_create_keypair

    keys = load_or_create_keypair()
    assert package.name in export.result.text() and keys.fingerprint in export.result.text()
    with zipfile.ZipFile(package) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
    assert manifest["station_code"] == "101"
    assert manifest["template_id"] == "kz-majilis-2021"
    assert manifest["observer"]["name"] == "Айгүл Қасымова"
    assert manifest["fingerprint"] == keys.fingerprint
    assert f"evidence/{ev.stored_name}" in names
    assert {m["name"] for m in manifest["members"]} == names - {"manifest.json", "manifest.sig"}


def test_reopen_after_crash_shows_everything(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "station.baqylau"
    ElectionStore.create(path, builtin_template("kz-majilis-2021")).close()
    window, store = open_window(qtbot, path)
    set_up_station(qtbot, window)
    go(qtbot, window, 2)
    qtbot.mouseClick(window.pages[1].add_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.pages[1].add_button, Qt.MouseButton.LeftButton)
    go(qtbot, window, 3)
    type_into(qtbot, window.pages[2].fields["issued"], "777")
    go(qtbot, window, 4)
    type_into(qtbot, window.pages[3].spins["TORN"], "3")
    go(qtbot, window, 5)
    qtbot.mouseClick(window.pages[4].new_button, Qt.MouseButton.LeftButton)
    type_into(qtbot, window.pages[4].description, "удалили наблюдателя")
    go(qtbot, window, 6)
    qtbot.mouseClick(window.pages[5].rows["closing"][0].buttons["na"], Qt.MouseButton.LeftButton)
    # "Crash": the window goes away and the file is released, nothing is saved on the way out.
    window.hide()
    window.deleteLater()
    store.engine.dispose()

    again, store2 = open_window(qtbot, path)
    try:
        assert again.stack.currentIndex() == 1  # a set-up station opens on the turnout page
        setup = again.pages[0]
        assert (setup.code.text(), setup.district.text(), setup.registered.text()) == ("101", "Алмалинский", "1500")
        assert setup.region.currentData() == "KZ-ALA"
        assert setup.observer_name.text() == "Айгүл Қасымова"
        assert again.pages[1].count_value.text() == "2"
        assert again.pages[2].fields["issued"].text() == "777"
        assert again.pages[3].spins["TORN"].value() == 3
        assert again.pages[4].table.rowCount() == 1
        again.pages[4].table.selectRow(0)
        assert again.pages[4].description.toPlainText() == "удалили наблюдателя"
        assert again.pages[5].rows["closing"][0].buttons["na"].isChecked()
    finally:
        again.close()
        store2.close()


def test_language_switch_retranslates_visible_labels(qtbot, day) -> None:
    window, store = day
    set_up_station(qtbot, window)
    go(qtbot, window, 3)
    protocol = window.pages[2]
    assert protocol.title.text() == "Протокол"
    window.language_combo.setCurrentIndex(i18n.LANGUAGES.index("kk"))
    assert i18n.current_language() == "kk"
    assert protocol.title.text() == "Хаттама"
    assert window.nav.item(0).text() == "1  Баптау"
    assert protocol.labels["in_boxes"].text() == "Жәшіктерден табылған бюллетеньдер саны"
    assert window.pages[1].add_button.toolTip() == "Тағы бір сайлаушы (Бос орын немесе +)"
    assert window.pages[4].category.itemText(1) == "Бюллетень лақтыру (салу)"  # 0: "choose a category"
    assert window.language_actions["kk"].isChecked()
    assert Settings().language == "kk"
    # Failed relations are described in the new language too.
    type_into(qtbot, protocol.fields["in_boxes"], "10")
    type_into(qtbot, protocol.fields["valid"], "5")
    type_into(qtbot, protocol.fields["invalid"], "1")
    assert "(айырмасы 4)" in protocol.problem_text("invalid") + protocol.problem_text("valid")
    # The menu switches back.
    window.language_actions["en"].trigger()
    assert protocol.title.text() == "Protocol"
    assert window.language_combo.currentData() == "en"
    # Numbers follow the language too, both ways (observer/fmt.py): 1,500 voters, 8.0% of them.
    turnout = window.pages[1]
    assert isinstance(turnout, TurnoutPage)
    store.set_announced(store.current_station().id, "10:00", 120)
    turnout.refresh()
    assert turnout.cells[0, COL_ANNOUNCED_PCT].text() == "8.0%"
    window.language_actions["ru"].trigger()
    assert turnout.cells[0, COL_ANNOUNCED_PCT].text() == "8,0\u00a0%"


def test_storage_error_is_a_message_not_a_traceback(qtbot, day, monkeypatch: pytest.MonkeyPatch) -> None:
    from observer.errors import StorageError

    window, store = day
    set_up_station(qtbot, window)
    go(qtbot, window, 4)

    def disk_full(*_args: object, **_kw: object) -> None:
        raise StorageError("error.storage.disk_full", file=str(store.path))

    monkeypatch.setattr(store, "set_spoiled", disk_full)
    type_into(qtbot, window.pages[3].spins["BLANK"], "5")
    assert window.message_bar.isVisible()
    assert window.message_bar.text() == tr("error.storage.disk_full", "ru", file=str(store.path))
    # The app keeps working once the disk has room again.
    monkeypatch.undo()
    type_into(qtbot, window.pages[3].spins["OTHER"], "2")
    assert store.spoiled(store.current_station().id) == {"OTHER": 2}


def test_violation_time_is_editable_and_stored_in_utc(qtbot, day) -> None:
    window, store = day
    set_up_station(qtbot, window)
    go(qtbot, window, 5)
    page = window.pages[4]
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    local = datetime(2021, 1, 10, 9, 30)
    from ui.qt import QDateTime

    page.time.setDateTime(QDateTime(local))
    [v] = store.violations()
    assert v.occurred_at.tzinfo is not None
    assert v.occurred_at.astimezone().replace(tzinfo=None) == local
    assert page.table.item(0, 0).text() == "10.01.2021\n09:30"  # the date too: a changed day shows


def test_station_list_import_then_pick_by_code(qtbot, day, tmp_path: Path) -> None:
    window, store = day
    setup = window.pages[0]
    assert isinstance(setup, SetupPage)
    csv = tmp_path / "stations.csv"
    csv.write_text(
        "code;region;district;address;registered\n"
        "75-001;KZ-ALA;Алмалинский;ул. Абая, 52;1842\n"
        "75-002;Алматы қаласы;Бостандыкский;пр. Аль-Фараби, 7;2210\n",
        encoding="utf-8",
    )
    assert setup.import_station_list(csv)
    assert sorted(setup.station_list) == ["75-001", "75-002"]
    assert store.station_count() == 0  # the list stays out of the observer's file
    type_into(qtbot, setup.code, "75-002", enter=True)
    st = store.current_station()
    assert st is not None
    assert (st.code, st.region, st.district, st.address, st.registered) == (
        "75-002",
        "KZ-ALA",
        "Бостандыкский",
        "пр. Аль-Фараби, 7",
        2210,
    )
    assert setup.district.text() == "Бостандыкский" and setup.registered.text() == "2210"
    assert store.station_count() == 1
    # A broken list is refused with its line number, and the good list is kept.
    bad = tmp_path / "bad.csv"
    bad.write_text("code;region;district;address;registered\n75-003;KZ-ALA;x;y;many\n", encoding="utf-8")
    assert not setup.import_station_list(bad)
    assert "строка 2" in window.message_bar.text() and "many" in window.message_bar.text()
    assert sorted(setup.station_list) == ["75-001", "75-002"]


def test_changing_the_station_number_asks_first(qtbot, day, monkeypatch: pytest.MonkeyPatch) -> None:
    window, store = day
    setup = set_up_station(qtbot, window)
    questions: list[str] = []
    answer = False
    monkeypatch.setattr("ui.pages.setup.confirm", lambda _parent, _title, text: questions.append(text) or answer)
    type_into(qtbot, setup.code, "102", enter=True)
    assert questions and "101" in questions[0] and "102" in questions[0]
    assert store.current_station().code == "101" and setup.code.text() == "101"
    answer = True
    type_into(qtbot, setup.code, "102", enter=True)
    assert store.current_station().code == "102"
    assert store.station_by_code("101") is not None  # nothing recorded is thrown away


# ---- review before export, the counter, plausibility (issue 14) ---------------------------


def broken_protocol(qtbot, window: MainWindow) -> ProtocolPage:
    """The posted copy with in_boxes 900 against valid 850 + invalid 40, typed on the page."""
    go(qtbot, window, 3)
    protocol = window.pages[2]
    assert isinstance(protocol, ProtocolPage)
    for key, text in {"in_boxes": "900", "invalid": "40", "valid": "850"}.items():
        type_into(qtbot, protocol.fields[key], text)
    return protocol


def test_export_with_a_broken_relation_opens_the_review(qtbot, day, tmp_path: Path) -> None:
    from db.merge import merge_packages
    from db.package import read_package
    from db.store import ROLE_HQ
    from main import main
    from observer.review import parse_review

    window, store = day
    set_up_station(qtbot, window)
    protocol = broken_protocol(qtbot, window)
    # The page list says what is open, page by page.
    qtbot.waitUntil(lambda: tr("review.mark.broken", count=1) in window.nav.item(2).text())
    assert tr("review.mark.slots", filled=0, total=6) in window.nav.item(1).text()
    go(qtbot, window, 8)
    export = window.pages[7]
    assert isinstance(export, ExportPage)
    usb = tmp_path / "USB"
    usb.mkdir()
    type_into(qtbot, export.folder, str(usb))
    qtbot.mouseClick(export.export_button, Qt.MouseButton.LeftButton)
    assert list(usb.iterdir()) == []  # nothing written
    review = window.pages[6]
    assert isinstance(review, ReviewPage)
    assert window.stack.currentIndex() == 6
    texts = [review.list.item(i).text() for i in range(review.list.count())]
    [relation] = [t for t in texts if "900 ≠ 890 (разница 10)" in t]
    # A click on the item goes to the field of the relation.
    row = texts.index(relation)
    rect = review.list.visualItemRect(review.list.item(row))
    qtbot.mouseClick(review.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.stack.currentIndex() == 2
    qtbot.waitUntil(protocol.fields["valid"].hasFocus)
    # Enter on an item does the same: an unanswered question puts the cursor on its answers.
    go(qtbot, window, 7)
    question = next(i for i, item in enumerate(review.items) if item.page == "checklists")
    review.list.setFocus()
    review.list.setCurrentRow(question)
    qtbot.keyClick(review.list, Qt.Key.Key_Return)
    assert window.stack.currentIndex() == 5
    checklists = window.pages[5]
    assert isinstance(checklists, ChecklistsPage)
    target = review.items[question].target.split(":", 1)[1]
    row_widgets = next(r for r in checklists.rows["opening"] if r.question.key == target)
    qtbot.waitUntil(row_widgets.buttons["yes"].hasFocus)

    # "Export anyway" needs a typed reason: a stray key press is not one.
    go(qtbot, window, 7)
    type_into(qtbot, review.reason, "ok")
    assert not review.anyway_button.isEnabled()
    qtbot.keyClick(review.reason, Qt.Key.Key_Return)
    assert list(usb.iterdir()) == []
    assert export.export_to(usb, reason=" ") is None and list(usb.iterdir()) == []
    type_into(qtbot, review.reason, "копия протокола сама не сходится")
    assert review.anyway_button.isEnabled()
    qtbot.mouseClick(review.anyway_button, Qt.MouseButton.LeftButton)
    [package] = list(usb.iterdir())
    assert window.stack.currentIndex() == 7 and package.name in export.result.text()
    assert tr("review.ui.exported_anyway", count=len(review.items)) in export.result.text() or review.items == []

    # The reason and every open item are in the package, and the coordinator sees them.
    with read_package(package) as pkg:
        exported = parse_review(pkg.review)
    assert exported.reason == "копия протокола сама не сходится"
    assert any("900 ≠ 890" in item.text and item.kind == "relation" for item in exported.items)
    assert len(exported.items) == len(texts)
    hq_path = tmp_path / "HQ.baqylau"
    hq = ElectionStore.create(hq_path, builtin_template("kz-majilis-2021"), role=ROLE_HQ)
    try:
        report = merge_packages(hq, [package], trust_new_keys=True)
        assert report.counts()["merged"] == 1
    finally:
        hq.close()
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--lang", "en", "conflicts", str(hq_path), "--station", "101"]) == 0
    printed = out.getvalue()
    assert "Packages exported with open items" in printed
    assert "«копия протокола сама не сходится»" in printed and package.name in printed
    assert "900 ≠ 890 (разница 10)" in printed  # the items as the observer saw them


def test_counter_counts_in_a_commission_field_and_flashes(qtbot, day) -> None:
    window, store = day
    set_up_station(qtbot, window)
    go(qtbot, window, 2)
    turnout = window.pages[1]
    assert isinstance(turnout, TurnoutPage)
    sid = store.current_station().id
    field = turnout.slot_fields["10:00"]
    type_into(qtbot, field, "65")
    assert {s.slot: s.announced for s in store.turnout_slots(sid)} == {"10:00": 65}
    assert field.hasFocus()
    flashes = turnout.flashes
    qtbot.keyClick(field, Qt.Key.Key_Space)
    assert turnout.count_value.property("flash") is True  # each click is seen
    qtbot.keyClick(field, Qt.Key.Key_Space)
    qtbot.keyClick(field, Qt.Key.Key_Space)
    qtbot.keyClick(field, Qt.Key.Key_Plus, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(field, Qt.Key.Key_Plus, Qt.KeyboardModifier.KeypadModifier)
    assert store.headcount(sid) == 5 and turnout.count_value.text() == "5"
    assert turnout.flashes == flashes + 5
    assert field.text() == "65"  # the commission's figure is untouched
    # − and Ctrl+Z take one back there; Backspace corrects the figure.
    qtbot.keyClick(field, Qt.Key.Key_Minus)
    qtbot.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert store.headcount(sid) == 3 and field.text() == "65"
    field.end(False)
    qtbot.keyClick(field, Qt.Key.Key_Backspace)
    assert field.text() == "6" and store.headcount(sid) == 3
    assert {s.slot: s.announced for s in store.turnout_slots(sid)} == {"10:00": 6}
    # Enter goes to the next reporting time.
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert turnout.slot_fields["12:00"].hasFocus()
    # The cursor in the page list (the observer just clicked "Turnout"): Space still counts.
    window.nav.setFocus()
    qtbot.keyClick(window.nav, Qt.Key.Key_Space)
    assert store.headcount(sid) == 4
    # The flash goes out by itself.
    qtbot.waitUntil(lambda: turnout.count_value.property("flash") is False)


def test_plausibility_warnings_beside_fields_and_in_the_package(qtbot, day, tmp_path: Path) -> None:
    from datetime import timedelta

    from db.package import read_package
    from observer.review import parse_review

    window, store = day
    set_up_station(qtbot, window)  # 1500 voters on the list
    sid = store.current_station().id
    # 20 voters counted yesterday morning: every reporting time of that day has passed.
    morning = (datetime.now().astimezone() - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    for _ in range(20):
        store.add_headcount(sid, 1, at=morning)
    go(qtbot, window, 2)
    turnout = window.pages[1]
    assert isinstance(turnout, TurnoutPage)
    type_into(qtbot, turnout.slot_fields["10:00"], "50", enter=True)
    type_into(qtbot, turnout.slot_fields["12:00"], "2000", enter=True)
    type_into(qtbot, turnout.slot_fields["14:00"], "100")
    warnings = turnout.slot_warnings.text()
    assert turnout.slot_warnings.isVisible()
    # Numbers as Russian writes them (observer/fmt.py): 2 000, 133 %.
    over = tr(
        "review.plaus.turnout_over_list",
        slot="12:00",
        announced="2\u00a0000",
        registered="1\u00a0500",
        pct="133\u00a0%",
    )
    assert over in warnings
    assert "14:00" in warnings and turnout.slot_fields["14:00"].property("problem") is True
    assert turnout.slot_fields["10:00"].property("problem") is False
    # Entry is never blocked: the figures are stored as typed.
    assert {s.slot: s.announced for s in store.turnout_slots(sid)} == {"10:00": 50, "12:00": 2000, "14:00": 100}
    # Announced 50 against 20 counted is a big gap: highlighted, not plain text.
    assert turnout.is_big_gap(0)
    assert turnout.cells[0, COL_ANNOUNCED_PCT].text() == "3,3\u00a0%"

    go(qtbot, window, 3)
    protocol = window.pages[2]
    assert isinstance(protocol, ProtocolPage)
    type_into(qtbot, protocol.fields["registered"], "1400")
    assert "1\u00a0400" in protocol.warning_text("registered") and "1\u00a0500" in protocol.warning_text("registered")
    type_into(qtbot, protocol.fields["invalid"], "40")
    go(qtbot, window, 4)
    spoiled = window.pages[3]
    assert isinstance(spoiled, SpoiledPage)
    assert spoiled.title.text() == "Недействительные бюллетени"
    type_into(qtbot, spoiled.spins["BLANK"], "12")
    assert "12" in spoiled.warning.text() and "40" in spoiled.warning.text() and spoiled.warning.isVisible()
    qtbot.waitUntil(lambda: tr("review.mark.warnings", count=1) in window.nav.item(3).text())

    go(qtbot, window, 8)
    export = window.pages[7]
    usb = tmp_path / "USB"
    usb.mkdir()
    type_into(qtbot, export.folder, str(usb))
    qtbot.mouseClick(export.export_button, Qt.MouseButton.LeftButton)
    review = window.pages[6]
    type_into(qtbot, review.reason, "цифры комиссии записаны как объявлены")
    qtbot.mouseClick(review.anyway_button, Qt.MouseButton.LeftButton)
    [package] = list(usb.iterdir())
    with read_package(package) as pkg:
        exported = parse_review(pkg.review)
    checks = [item.text for item in exported.items if item.kind == "cross_check"]
    assert any("2\u00a0000" in t and "12:00" in t for t in checks)  # over the list
    assert any("14:00" in t for t in checks)  # going down
    assert any("1\u00a0400" in t for t in checks)  # set-up vs protocol
    assert any("12" in t and "40" in t and "(разница 28)" in t for t in checks)  # tally vs invalid line


# A 1366x768 laptop at 125% scaling: 1093x614 logical pixels, less a task bar.
SCREEN_125 = (1093, 580)


def header_cuts(window: MainWindow) -> list[str]:
    """Header sections of the visible tables whose text (any of its lines) is wider than the section."""
    from ui.qt import QTableView
    from ui.widgets.headers import HEADER_PADDING, header_metrics

    cuts = []
    for table in window.stack.currentWidget().findChildren(QTableView):
        header = table.horizontalHeader()
        if not table.isVisible() or not header.isVisible():
            continue
        metrics = header_metrics(header)
        for col in range(header.count()):
            text = str(table.model().headerData(col, Qt.Orientation.Horizontal) or "")
            need = max(metrics.horizontalAdvance(line) for line in text.split("\n")) + HEADER_PADDING - 2
            if not header.isSectionHidden(col) and need > header.sectionSize(col):
                cuts.append(f"{text!r}: {need} > {header.sectionSize(col)}")
    return cuts


def cell_cuts(window: MainWindow) -> list[str]:
    """Words in the visible cells of word-wrapping tables wider than their column: Qt ends them in "…"."""
    from ui.qt import QTableWidget

    cuts = []
    for table in window.stack.currentWidget().findChildren(QTableWidget):
        if not table.isVisible() or not table.wordWrap():
            continue
        metrics = table.fontMetrics()
        for row in range(table.rowCount()):
            for col in range(table.columnCount()):
                item = table.item(row, col)
                room = table.columnWidth(col) - 6  # the cell's margins (the style's focus frame + 1, each side)
                words = item.text().split() if item is not None else []
                cuts += [word for word in words if metrics.horizontalAdvance(word) > room]
    return cuts


def nav_cuts(window: MainWindow) -> list[str]:
    """Page names (and marks) in the page list wider than the list: Qt would end them in "…"."""
    metrics = window.nav.fontMetrics()
    room = window.nav.viewport().width() - 20  # the item's padding (style sheet)
    return [
        line
        for i in range(window.nav.count())
        for line in window.nav.item(i).text().split("\n")
        if metrics.horizontalAdvance(line) > room
    ]


def test_every_page_fits_a_125_percent_laptop_in_every_language(qtbot, day) -> None:
    """No page scrolls sideways, no header, word or page name is cut, in ru, kk and en (issue 14).

    At the window's minimum size (a 150 % laptop) no page scrolls sideways either.
    """
    window, store = day
    set_up_station(qtbot, window)
    sid = store.current_station().id
    store.set_announced(sid, "10:00", 81)
    store.save_violation(sid, description="Посторонний в помещении для голосования во время подсчёта.")
    posted = store.protocol_id(sid, "posted_copy")
    for key in store.template.all_keys:  # every line in the comparison of the versions
        store.set_protocol_value(posted, key, 1842)
    smallest = (window.minimumWidth(), window.minimumHeight())
    assert smallest[0] <= 910  # 1366 px at 150 %
    try:
        for size, whole in ((SCREEN_125, True), (smallest, False)):
            window.resize(*size)
            qtbot.waitUntil(lambda size=size: window.width() == size[0])
            for lang in ("ru", "kk", "en"):
                i18n.set_language(lang)
                for index, page in enumerate(window.pages):
                    window.show_page(index)
                    qtbot.waitUntil(page.isVisible)
                    QApplication.processEvents()
                    where = f"{size} {lang} {type(page).__name__}"
                    body_min = page.body.minimumSizeHint().width()
                    room = page.scroller.viewport().width()
                    assert body_min <= room, f"{where}: {body_min} px wide in {room}"
                    assert page.scroller.horizontalScrollBar().maximum() == 0, where
                    if whole:
                        assert header_cuts(window) == [], where
                        assert cell_cuts(window) == [], where
                assert nav_cuts(window) == [], lang
    finally:
        i18n.set_language("ru")


def test_a_no_category_review_item_opens_that_violation(qtbot, day) -> None:
    """Clicking "no category" in the review opens the very draft, cursor on its category."""
    window, store = day
    set_up_station(qtbot, window)
    sid = store.current_station().id
    first = store.save_violation(sid, description="Первый черновик без категории")
    store.save_violation(sid, category="STUFF", description="С категорией")
    second = store.save_violation(sid, description="Второй черновик без категории")
    go(qtbot, window, 7)
    review = window.pages[6]
    assert isinstance(review, ReviewPage)
    violations = window.pages[4]
    assert isinstance(violations, ViolationsPage)
    for vid, text in ((second, "Второй"), (first, "Первый")):
        go(qtbot, window, 7)
        [row] = [i for i, item in enumerate(review.items) if item.kind == "no_category" and item.target == vid]
        rect = review.list.visualItemRect(review.list.item(row))
        qtbot.mouseClick(review.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.waitUntil(lambda: window.stack.currentWidget() is violations)
        assert violations.current_id == vid
        assert violations.description.toPlainText().startswith(text)
        selected = violations.table.selectionModel().selectedRows()
        assert [violations.list_text(r.row(), 1) for r in selected] == [
            violations.list_text(next(i for i, v in enumerate(violations._rows) if v.id == vid), 1)
        ]
        assert violations.category.hasFocus()
