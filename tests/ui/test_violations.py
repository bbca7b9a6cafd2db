"""Evidence records you can trust, driven through the real violation widgets (issue 14, item 2).

Time is moved by a clock the store takes (``ElectionStore.clock``), never by sleeping;
every assertion is on what the file holds.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from db.store import ROLE_HQ, ElectionStore
from observer import i18n
from observer.i18n import tr
from observer.template import builtin_template
from ui.app import make_application
from ui.pages.violations import ViolationsPage
from ui.qt import QApplication, QEvent, QKeyEvent, QPoint, QPointF, Qt, QWheelEvent
from ui.settings import Settings

pytestmark = pytest.mark.gui

OPENED = datetime(2021, 1, 10, 3, 0, tzinfo=UTC)  # 09:00 in Almaty


class Clock:
    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t


def type_text(widget, text: str) -> None:
    """Key events as a keyboard sends them (QTest maps only ASCII)."""
    widget.setFocus()
    for ch in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, ch))


def wheel(widget, steps: int = -1) -> None:
    """One notch of a mouse wheel over ``widget`` (negative: towards the user)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        widget.mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def jpeg(path: Path, taken: str) -> Path:
    img = Image.new("RGB", (320, 240), "#8ab89a")
    exif = Image.Exif()
    exif[0x8769] = {36867: taken}  # DateTimeOriginal, in the EXIF sub-IFD
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def clock(store: ElectionStore) -> Clock:
    c = Clock(OPENED)
    store.clock = c
    return c


@pytest.fixture
def page(qtbot, store: ElectionStore, clock: Clock) -> Iterator[ViolationsPage]:
    make_application()
    p = ViolationsPage(store, Settings())
    qtbot.addWidget(p)
    p.resize(1100, 700)
    p.show()
    qtbot.waitExposed(p)
    p.activateWindow()
    qtbot.waitUntil(p.isActiveWindow)
    yield p


def test_a_violation_typed_two_hours_after_opening_gets_the_time_it_was_typed(
    page: ViolationsPage, store: ElectionStore, clock: Clock
) -> None:
    clock.t = OPENED + timedelta(hours=2, minutes=2)
    type_text(page.description, "Вброс")
    [v] = store.violations(store.current_station().id)
    assert v.occurred_at == v.created_at == OPENED + timedelta(hours=2, minutes=2)
    # the list shows the date and the time, and the start of the description
    local = v.occurred_at.astimezone()
    assert page.list_text(0, 0) == local.strftime("%d.%m.%Y\n%H:%M")
    assert "Вброс" in page.list_text(0, 1)
    # typing on an hour later changes the text, never the time
    clock.t += timedelta(hours=1)
    type_text(page.description, " бюллетеней")
    [v] = store.violations()
    assert v.description == "Вброс бюллетеней" and v.occurred_at == OPENED + timedelta(hours=2, minutes=2)


def test_now_button_sets_the_clock_time_and_the_change_is_in_the_history(
    qtbot, page: ViolationsPage, store: ElectionStore, clock: Clock
) -> None:
    type_text(page.description, "Карусель")
    clock.t += timedelta(hours=5)
    qtbot.mouseClick(page.now_button, Qt.MouseButton.LeftButton)
    [v] = store.violations()
    assert v.occurred_at == OPENED + timedelta(hours=5) and v.created_at == OPENED
    qtbot.mouseClick(page.history_button, Qt.MouseButton.LeftButton)
    dialog = page.history_dialog
    assert dialog is not None and dialog.table.rowCount() == 2
    assert dialog.cell(0, 2) == tr("ui.history.created", "ru")
    assert dialog.cell(1, 2) == "Время"
    assert dialog.cell(1, 3) == OPENED.astimezone().strftime("%d.%m.%Y %H:%M:%S")
    assert dialog.cell(1, 4) == (OPENED + timedelta(hours=5)).astimezone().strftime("%d.%m.%Y %H:%M:%S")
    assert dialog.cell(1, 1) == "Айгүл Қасымова"


def test_no_category_is_chosen_for_the_observer_and_a_draft_is_flagged(
    qtbot, page: ViolationsPage, store: ElectionStore
) -> None:
    assert page.category.currentData() == "" and page.category.currentIndex() == 0
    type_text(page.involved, "Секретарь")
    [v] = store.violations()
    assert v.category == "" and v.is_draft
    assert [d.id for d in store.violations_without_category()] == [v.id]
    assert not page.category_problem.isHidden()
    assert page.list_text(0, 1).startswith(tr("ui.violations.no_category_short", "ru"))
    page.category.setFocus()
    page.category.setCurrentIndex(page.category.findData("CAROUSEL"))
    assert store.violations()[0].category == "CAROUSEL"
    assert store.violations_without_category() == []
    assert page.category_problem.isHidden()
    # the next new record starts without a category again
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    assert page.category.currentData() == ""


def test_the_wheel_over_an_unfocused_field_changes_nothing(qtbot, page: ViolationsPage, store: ElectionStore) -> None:
    page.category.setFocus()
    page.category.setCurrentIndex(page.category.findData("STUFF"))
    [v] = store.violations()
    page.description.setFocus()
    qtbot.waitUntil(page.description.hasFocus)
    for widget in (page.category, page.severity, page.time):
        assert not widget.hasFocus()
        for _ in range(3):
            wheel(widget)
    [after] = store.violations()
    assert (after.category, after.severity, after.occurred_at) == ("STUFF", "medium", v.occurred_at)
    assert page.category.currentData() == "STUFF" and page.severity.currentData() == "medium"
    # a wheel turn does not take the focus either
    assert page.description.hasFocus()
    # the wheel still scrolls: over the list, and over an unfocused field the page around it
    page.resize(700, 420)
    qtbot.waitUntil(lambda: page.scroller.verticalScrollBar().maximum() > 0)
    before = page.scroller.verticalScrollBar().value()
    wheel(page.category, -3)
    assert page.scroller.verticalScrollBar().value() > before
    assert store.violations()[0].category == "STUFF"
    # focused on purpose, the wheel works as usual
    page.severity.setFocus()
    qtbot.waitUntil(page.severity.hasFocus)
    wheel(page.severity)
    assert store.violations()[0].severity == "high"


def test_camera_time_of_an_attached_photo_is_one_click_away(
    qtbot, page: ViolationsPage, store: ElectionStore, tmp_path: Path
) -> None:
    type_text(page.description, "Урна без пломбы")
    assert page.camera_button.isHidden()
    assert page.attach_file(jpeg(tmp_path / "box.jpg", "2021:01:10 15:21:07"))
    assert not page.camera_button.isHidden()
    assert page.camera_button.text() == tr("ui.violations.camera_time", "ru", time="10.01.2021 15:21")
    qtbot.mouseClick(page.camera_button, Qt.MouseButton.LeftButton)
    [v] = store.violations()
    assert v.occurred_at.astimezone().replace(tzinfo=None) == datetime(2021, 1, 10, 15, 21, 7)


def test_a_deleted_violation_is_restored_from_the_deleted_list(
    qtbot, page: ViolationsPage, store: ElectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    type_text(page.description, "Удалили наблюдателя")
    [v] = store.violations()
    monkeypatch.setattr("ui.pages.violations.confirm", lambda *a: True)
    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    assert store.violations() == [] and page.table.rowCount() == 0
    assert page.deleted_button.text() == tr("ui.violations.deleted", "ru", count=1)
    qtbot.mouseClick(page.deleted_button, Qt.MouseButton.LeftButton)
    dialog = page.deleted_dialog
    assert dialog is not None and dialog.table.rowCount() == 1
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert [r.id for r in store.violations()] == [v.id] and page.table.rowCount() == 1
    assert dialog.table.rowCount() == 0


def test_audit_rows_of_an_edit_travel_in_the_package_into_the_hq(
    qtbot, page: ViolationsPage, store: ElectionStore, clock: Clock, tmp_path: Path
) -> None:
    from db.merge import merge_packages
    from db.package import export_station_package, read_package
    from observer.signing import KeyPair

    page.category.setFocus()
    page.category.setCurrentIndex(page.category.findData("STUFF"))
    clock.t += timedelta(hours=3)
    page.category.setCurrentIndex(page.category.findData("FAMILY"))
    [v] = store.violations()
    package = export_station_package(store, tmp_path / "usb", KeyPair.generate())
    with read_package(package) as pkg:
        shipped = [(r["record_id"], r["field"], r["old"], r["new"]) for r in pkg.rows["audit_log"]]
    assert (v.id, "category", "STUFF", "FAMILY") in shipped
    hq = ElectionStore.create(tmp_path / "hq.baqylau", builtin_template("kz-majilis-2021"), role=ROLE_HQ)
    try:
        assert merge_packages(hq, [package], trust_new_keys=True).counts()["merged"] == 1
        assert [(h.field, h.old, h.new) for h in hq.history(v.id)][1:] == [("category", "STUFF", "FAMILY")]
    finally:
        hq.close()


def test_history_is_shown_in_the_current_language(qtbot, page: ViolationsPage, clock: Clock) -> None:
    page.category.setFocus()
    page.category.setCurrentIndex(page.category.findData("STUFF"))
    clock.t += timedelta(hours=1)
    page.severity.setFocus()
    page.severity.setCurrentIndex(page.severity.findData("high"))
    i18n.set_language("kk")
    try:
        page.show_history()
        dialog = page.history_dialog
        assert dialog is not None
        assert (dialog.cell(1, 2), dialog.cell(1, 3), dialog.cell(1, 4)) == ("Маңыздылығы", "орташа", "жоғары")
    finally:
        i18n.set_language("ru")


def test_camera_time_is_read_as_local_time_and_garbage_gives_none() -> None:
    from observer.evidence import exif_datetime

    taken = exif_datetime("2021-01-10 15:21:07")
    assert taken is not None and taken.tzinfo is not None
    assert taken.replace(tzinfo=None) == datetime(2021, 1, 10, 15, 21, 7)
    for bad in (None, "", "0000-00-00 00:00:00", "1970-01-01 00:00:00", "2021-13-45 99:00:00", "2021-01-10"):
        assert exif_datetime(bad) is None, bad


def test_protocol_versions_compared_and_a_photo_removed_and_viewed(
    qtbot, store: ElectionStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.pages.protocol import ProtocolPage

    make_application()
    page = ProtocolPage(store, Settings())
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    page.fields["issued"].setText("888")
    page.fields["issued"].value_changed.emit(888)
    page.set_source("announced")
    page.fields["issued"].setText("948")
    page.fields["issued"].value_changed.emit(948)
    assert page.comparison.differ == ["issued"]
    assert page.comparison.summary.text().startswith(tr("ui.compare.differ", "ru", count=1))
    assert "888 ≠ 948" in page.comparison.summary.text()
    # the summary sits above the scrolling form: it never scrolls away
    assert not page.scroller.widget().isAncestorOf(page.comparison.summary)

    assert page.attach_photo(jpeg(tmp_path / "protocol.jpg", "2021:01:10 22:40:00"))
    page.photos.setCurrentRow(0)
    page.photos.open_selected()
    assert page.photos.viewer is not None and page.photos.viewer.shown_size().width() == 320
    monkeypatch.setattr("ui.pages.protocol.confirm", lambda *a: True)
    qtbot.mouseClick(page.remove_photo, Qt.MouseButton.LeftButton)
    assert page.photos.count() == 0 and store.evidence() == []
    assert len(store.evidence(deleted=True)) == 1  # recoverable until export


def paste(qtbot, widget, text: str) -> None:
    """Paste from the clipboard with Ctrl+V, as an observer pasting a long text would."""
    QApplication.clipboard().setText(text)
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


def test_free_text_stops_at_the_package_limit_and_says_so(qtbot, page: ViolationsPage, store: ElectionStore) -> None:
    """The package reader refuses texts over MAX_TEXT: the fields refuse them first and show the count."""
    from observer.records import MAX_TEXT

    counter = page.limits["description"].label
    paste(qtbot, page.description, "а" * (MAX_TEXT - 3000))
    assert not counter.isVisible()  # far from the limit: nothing in the way
    paste(qtbot, page.description, "б" * 2990)
    assert counter.isVisible() and counter.text() == "19\u00a0990 из 20\u00a0000 символов."
    type_text(page.description, "0123456789ABCDEF")  # 16 keys, room for 10
    [v] = store.violations()
    assert len(v.description) == MAX_TEXT and v.description.endswith("б" * 2990 + "0123456789")
    assert counter.text().startswith("Достигнут предел: 20\u00a0000 символов")
    i18n.set_language("kk")
    page.retranslate()  # as the window does on a language switch
    try:
        assert counter.text().startswith("Шекке жетті: 20\u00a0000 таңба")
        assert page.description.toolTip() == tr("ui.text.limit_tip", "kk", limit="20\u00a0000")
    finally:
        i18n.set_language("ru")
    # A pasted text longer than the limit is cut at it, in a one-line field too.
    paste(qtbot, page.involved, "в" * (MAX_TEXT + 5000))
    assert page.limits["involved"].label.isVisible()
    [v] = store.violations()
    assert len(v.involved) == MAX_TEXT


def test_a_violation_with_texts_at_the_limit_is_exported(
    qtbot, page: ViolationsPage, store: ElectionStore, tmp_path: Path
) -> None:
    from db.package import export_station_package, read_package
    from observer.records import MAX_TEXT
    from observer.signing import KeyPair

    paste(qtbot, page.description, "а" * (MAX_TEXT + 10))
    [v] = store.violations()
    assert len(v.description) == MAX_TEXT
    package = export_station_package(store, tmp_path / "usb", KeyPair.generate())
    with read_package(package) as pkg:
        [row] = pkg.rows["violations"]
    assert len(row["description"]) == MAX_TEXT
