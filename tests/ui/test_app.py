"""Starting the app: first-run screen, creating and reopening files, demo, errors."""

from __future__ import annotations

import logging
import os
import sys
import types
from pathlib import Path

import pytest

from db.store import ROLE_HQ, ElectionStore
from observer import i18n
from observer.i18n import tr
from observer.template import builtin_template
from tests.ui.test_violations import wheel
from ui import app as app_module
from ui.app import Launcher, install_exception_hook, make_application
from ui.first_run import FirstRunWindow
from ui.main_window import MainWindow
from ui.qt import QMessageBox, Qt, is_alive
from ui.settings import Settings

pytestmark = pytest.mark.gui


@pytest.fixture
def launcher(qtbot) -> Launcher:
    make_application()
    launcher = Launcher(Settings())
    yield launcher
    if launcher.window is not None:
        launcher.window.close()
    launcher._close_store()


def test_first_run_creates_a_file_and_the_next_start_reopens_it(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    first = launcher.start(None)
    assert isinstance(first, FirstRunWindow)
    assert first.demo_button.text() == "Открыть демонстрационные выборы"
    first.template.setCurrentIndex(first.template.findData("kz-majilis-2023"))
    first.save_path.setText(str(tmp_path / "my-station"))  # the suffix is added
    qtbot.mouseClick(first.create_button, Qt.MouseButton.LeftButton)
    assert isinstance(launcher.window, MainWindow)
    created = tmp_path / "my-station.baqylau"
    assert launcher.store is not None and launcher.store.path == created
    assert launcher.store.template.id == "kz-majilis-2023"
    assert Settings().last_file == created
    launcher.window.close()
    launcher._close_store()

    again = Launcher(Settings())
    window = again.start(None)
    try:
        assert isinstance(window, MainWindow)
        assert window.store.path == created
    finally:
        window.close()
        again._close_store()


def test_refuses_to_overwrite_an_existing_file(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    existing = tmp_path / "taken.baqylau"
    existing.write_bytes(b"precious")
    first = launcher.start(None)
    first.save_path.setText(str(existing))
    qtbot.mouseClick(first.create_button, Qt.MouseButton.LeftButton)
    assert launcher.window is first
    assert first.message_bar.text() == tr("error.storage.exists", "ru", file=str(existing))
    assert existing.read_bytes() == b"precious"


def test_a_broken_template_file_names_the_line(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        'format = 1\nid = "x"\n[name]\nru = "Выборы"\n[[lines]]\nkey = "Bad Key"\nru = "Строка"\n', encoding="utf-8"
    )
    first = launcher.start(None)
    assert not first.load_custom_template(broken)
    text = first.message_bar.text()
    assert "broken.toml" in text and "6" in text and "Bad Key" in text
    assert first.chosen_template().id == "kz-majilis-2021"  # falls back to a built-in one


def test_a_good_custom_template_is_used(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    source = builtin_template("kz-majilis-2021").source_text.replace('id = "kz-majilis-2021"', 'id = "my-local-vote"')
    custom = tmp_path / "local.toml"
    custom.write_text(source, encoding="utf-8")
    first = launcher.start(None)
    assert first.load_custom_template(custom)
    assert first.chosen_template().id == "my-local-vote"
    assert first.template.currentText() == builtin_template("kz-majilis-2021").names.get("ru")


def test_a_missing_last_file_shows_the_first_run_screen(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    launcher.settings.last_file = tmp_path / "gone.baqylau"
    assert isinstance(launcher.start(None), FirstRunWindow)


def test_opening_a_file_that_is_not_an_election(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    junk = tmp_path / "notes.baqylau"
    junk.write_text("hello")
    window = launcher.start(junk)
    assert isinstance(window, FirstRunWindow)
    assert window.message_bar.text() == tr("error.storage.not_election", "ru", file=str(junk))


def test_hq_file_opens_in_the_coordinator_window(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    from ui.coordinator.window import CoordinatorWindow

    hq = tmp_path / "hq.baqylau"
    ElectionStore.create(hq, builtin_template("kz-majilis-2021"), role=ROLE_HQ).close()
    launcher.start(None)
    assert launcher.open_path(hq)
    assert isinstance(launcher.window, CoordinatorWindow)
    qtbot.waitUntil(lambda: launcher.store is not None, timeout=10_000)  # opened behind the window
    assert launcher.store is not None and launcher.store.role == ROLE_HQ


def test_demo_is_built_in_the_background_then_opened(
    qtbot, launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def demo_hq(out_dir: Path) -> Path:
        calls.append(out_dir)
        path = out_dir / "demo.baqylau"
        ElectionStore.create(path, builtin_template("kz-majilis-2021")).close()
        return path

    fake = types.ModuleType("db.demo")
    fake.demo_hq = demo_hq  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "db.demo", fake)
    first = launcher.start(None)
    qtbot.mouseClick(first.demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(launcher.window, MainWindow), timeout=10_000)
    assert calls and calls[0].name == "demo"
    assert launcher.store is not None and launcher.store.path.name == "demo.baqylau"


def test_first_run_screen_switches_language(qtbot, launcher: Launcher) -> None:
    first = launcher.start(None)
    first.language_combo.setCurrentIndex(i18n.LANGUAGES.index("kk"))
    assert first.create_button.text() == "Жасау және бастау"
    assert first.demo_button.text() == "Демонстрациялық сайлауды ашу"
    assert first.template.itemText(0) == builtin_template("kz-majilis-2021").names.get("kk")


def test_unexpected_error_is_logged_and_shown_and_the_app_goes_on(
    qtbot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    make_application()
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_exception_hook()
    with caplog.at_level(logging.ERROR, logger="baqylau.ui"):
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    assert any("boom in a slot" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    [box] = app_module._open_boxes
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.text() == tr("ui.crash.text", "ru", log=str(app_module.log_path()))
    assert "boom in a slot" in box.detailedText()
    box.close()


def test_settings_are_typed_and_durable(tmp_path: Path) -> None:
    s = Settings()
    assert s.language == "ru" and s.last_file is None
    s.language = "kk"
    s.last_file = tmp_path / "a.baqylau"
    s.organisation = "  MISK  "
    fresh = Settings()
    assert (fresh.language, fresh.last_file, fresh.organisation) == ("kk", tmp_path / "a.baqylau", "MISK")
    with pytest.raises(ValueError):
        s.language = "de"


def test_language_subscribers_of_deleted_windows_are_dropped(qtbot) -> None:
    from ui.qt import QLabel
    from ui.widgets.language import LanguageSignal

    make_application()
    signal = LanguageSignal()
    alive, gone = QLabel(), QLabel()
    qtbot.addWidget(alive)
    seen: list[str] = []
    signal.connect(lambda lang: gone.setText(lang))  # a lambda outlives the widget it calls into
    signal.connect(lambda lang: alive.setText(lang))
    signal.connect(seen.append)
    gone.deleteLater()
    qtbot.waitUntil(lambda: not is_alive(gone))
    signal.emit("kk")
    assert alive.text() == "kk" and seen == ["kk"]
    signal.emit("en")  # the dead subscriber was dropped, not called again
    assert alive.text() == "en" and seen == ["kk", "en"]
    assert len(signal._slots) == 2


def test_a_long_day_of_qt_calls_does_not_free_none(qtbot) -> None:
    """PySide6 6.12 on Python 3.11 drops a reference to None on every void call (see ui/qt.py).

    Without the guard CPython aborts with "none_dealloc" after a few thousand
    calls, i.e. a few hundred head-count clicks; this would abort the test run.
    """
    import ui.qt
    from ui.qt import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for i in range(200_000):
        label.setText(str(i % 10))
    assert label.text() == "9"
    if ui.qt.SINGLETON_GUARD_APPLIED:
        assert before > 1 << 39  # None is effectively immortal, as on Python 3.12
    else:
        assert sys.getrefcount(None) >= before - 1000  # a PySide6 that keeps its references


def test_a_second_copy_is_refused_while_the_file_is_open(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    path = tmp_path / "station.baqylau"
    ElectionStore.create(path, builtin_template("kz-majilis-2021")).close()
    assert isinstance(launcher.start(path), MainWindow)
    other = Launcher(Settings())
    try:
        window = other.start(path)
        assert isinstance(window, FirstRunWindow) and other.store is None
        text = window.message_bar.text()
        assert text.startswith("Файл station.baqylau уже открыт в другом окне Baqylau")
        assert str(os.getpid()) in text
    finally:
        if other.window is not None:
            other.window.close()
        other._close_store()
    # closed in the first copy, the file opens in the next
    launcher.shutdown()
    again = Launcher(Settings())
    try:
        assert isinstance(again.start(path), MainWindow)
    finally:
        again.shutdown()


def test_language_switch_retranslates_the_status_bar_and_the_export_result(
    qtbot, launcher: Launcher, store: ElectionStore, tmp_path: Path
) -> None:
    from ui.pages.export import ExportPage
    from ui.widgets.messages import saved

    window = MainWindow(store, Settings())
    qtbot.addWidget(window)
    saved()
    assert window.saved_label.text().startswith("Сохранено ")
    export = window.page(ExportPage)
    usb = tmp_path / "usb"
    usb.mkdir()
    # The day is not finished (review items open): export anyway, with the reason it needs.
    assert export.export_to(usb, "Тест: день не закончен") is not None
    assert export.result.text().startswith("Записан ")
    open_items = tr("review.ui.exported_anyway", "ru", count=1).split("1")[0].strip()
    assert open_items and open_items in export.result.text()
    i18n.set_language("kk")
    try:
        assert window.saved_label.text().startswith("Сақталды ")
        assert export.last_package is not None and export.last_package.name in export.result.text()
        assert "ішіне жазылды" in export.result.text()
        assert tr("review.ui.exported_anyway", "kk", count=1).split("1")[0].strip() in export.result.text()
    finally:
        i18n.set_language("ru")
    window.close()


def test_the_highlighted_item_of_an_open_drop_down_is_readable(qtbot) -> None:
    from ui.input_guard import ComboBox
    from ui.qt import QColor, QWidget

    make_application()
    holder = QWidget()
    qtbot.addWidget(holder)
    combo = ComboBox(holder)
    for text in ("Вброс бюллетеней", "Семейное голосование", "Карусель"):
        combo.addItem(text)
    holder.show()
    qtbot.waitExposed(holder)
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    view.setCurrentIndex(combo.model().index(1, 0))
    rect = view.visualRect(view.currentIndex())
    image = view.viewport().grab(rect).toImage()
    colours = [QColor(image.pixel(x, y)) for x in range(image.width()) for y in range(image.height())]
    highlight = sum(1 for c in colours if c.blue() > 150 and c.red() < 80)
    light_text = sum(1 for c in colours if c.lightness() > 200)
    # a highlighted background, with the item's text drawn on it in a light colour
    assert highlight > len(colours) // 2
    assert 0 < light_text < len(colours) // 2
    combo.hidePopup()


def test_the_wheel_scrolls_the_page_over_an_unfocused_input_widget(qtbot) -> None:
    """Over a combo, number, date or slider without the focus the wheel scrolls the page, value kept."""
    from ui.input_guard import ComboBox, DateTimeEdit, WheelGuard
    from ui.qt import QLineEdit, QScrollArea, QSlider, QSpinBox, QStyledItemDelegate, QVBoxLayout, QWidget

    class SpinBox(WheelGuard, QSpinBox):
        pass

    class Slider(WheelGuard, QSlider):
        pass

    make_application()
    area = QScrollArea()
    qtbot.addWidget(area)
    inner = QWidget()
    column = QVBoxLayout(inner)
    text = QLineEdit()
    combo, own_sheet = ComboBox(), ComboBox()
    for box in (combo, own_sheet):
        box.addItems(["Вброс бюллетеней", "Семейное голосование", "Карусель"])
    own_sheet.setStyleSheet("QComboBox { color: #b3261e; }")  # its own style sheet style, over the app's
    number, when, slider = SpinBox(), DateTimeEdit(), Slider(Qt.Orientation.Horizontal)
    number.setValue(5)
    slider.setValue(5)
    guarded = (combo, own_sheet, number, when, slider)
    for w in (text, *guarded):
        column.addWidget(w)
        column.addSpacing(300)  # taller than the area: the page has something to scroll
    area.setWidget(inner)
    area.resize(400, 300)
    area.show()
    qtbot.waitExposed(area)
    for w in guarded:
        assert w.focusPolicy() == Qt.FocusPolicy.StrongFocus, type(w).__name__
    assert isinstance(combo.itemDelegate(), QStyledItemDelegate)
    assert isinstance(own_sheet.itemDelegate(), QStyledItemDelegate)
    text.setFocus()
    qtbot.waitUntil(text.hasFocus)
    before = [combo.currentIndex(), own_sheet.currentIndex(), number.value(), when.dateTime(), slider.value()]
    bar = area.verticalScrollBar()
    for w in guarded:
        bar.setValue(0)
        wheel(w, -2)
        assert bar.value() > 0, type(w).__name__  # the page scrolled instead
    assert [combo.currentIndex(), own_sheet.currentIndex(), number.value(), when.dateTime(), slider.value()] == before
    assert text.hasFocus()
    # focused, the wheel works as usual, and the page stays
    for w, changed in ((combo, combo.currentIndex), (number, number.value), (slider, slider.value)):
        w.setFocus()
        qtbot.waitUntil(w.hasFocus)
        bar.setValue(0)
        was = changed()
        wheel(w, -1)
        assert changed() != was, type(w).__name__
        assert bar.value() == 0, type(w).__name__
    # the scroll bar is no input field: over it the wheel scrolls
    bar.setValue(0)
    wheel(bar, -1)
    assert bar.value() > 0


def test_ui_makes_input_widgets_only_from_the_guarded_classes() -> None:
    """No screen makes a Qt combo, spin box, date edit or slider itself (or subclasses one): the
    wheel would change its value under a scrolling page."""
    import ast

    from ui.input_guard import GUARDED_QT_CLASSES

    def qt_name(node: ast.expr, aliases: dict[str, str]) -> str:
        if isinstance(node, ast.Name):
            return aliases.get(node.id, node.id)
        return node.attr if isinstance(node, ast.Attribute) else ""  # qt.QComboBox, QtWidgets.QSlider

    ui_dir = Path(__file__).resolve().parents[2] / "ui"
    found = []
    for path in sorted(ui_dir.rglob("*.py")):
        if path.name == "input_guard.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {
            a.asname: a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names if a.asname
        }
        for node in ast.walk(tree):
            used = [node.func] if isinstance(node, ast.Call) else node.bases if isinstance(node, ast.ClassDef) else []
            found += [
                f"{path.relative_to(ui_dir)}:{node.lineno} {qt_name(n, aliases)}"
                for n in used
                if qt_name(n, aliases) in GUARDED_QT_CLASSES
            ]
    assert found == []


def test_the_wheel_guard_must_come_first_in_the_bases() -> None:
    from ui.input_guard import WheelGuard
    from ui.qt import QSpinBox

    with pytest.raises(TypeError, match="WheelGuard must come before QSpinBox"):

        class Unguarded(QSpinBox, WheelGuard):  # Qt's wheelEvent would be found first
            pass


def test_enter_and_tab_walk_the_set_up_form_in_reading_order(qtbot, store: ElectionStore) -> None:
    from ui.pages.setup import SetupPage

    make_application()
    window = MainWindow(store, Settings())
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.show_page(0)
    setup = window.page(SetupPage)
    assert isinstance(setup, SetupPage)
    setup.code.setFocus()
    qtbot.waitUntil(setup.code.hasFocus)
    qtbot.keyClick(setup.code, Qt.Key.Key_Tab)
    assert setup.region.hasFocus()  # not "Import CSV"
    setup.address.setFocus()
    qtbot.keyClick(setup.address, Qt.Key.Key_Return)
    assert setup.registered.hasFocus()
    qtbot.keyClicks(setup.registered, "1600")
    qtbot.keyClick(setup.registered, Qt.Key.Key_Return)
    assert setup.registered.hasFocus()  # not the language box
    assert store.current_station().registered == 1600
    window.close()


def test_enter_in_the_first_screen_path_creates_the_file(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    first = launcher.start(None)
    assert isinstance(first, FirstRunWindow)
    first.save_path.setText(str(tmp_path / "entered"))
    qtbot.keyClick(first.save_path, Qt.Key.Key_Return)
    assert isinstance(launcher.window, MainWindow)
    assert launcher.store is not None and launcher.store.path == tmp_path / "entered.baqylau"


def test_set_up_offers_the_templates_regions_or_takes_a_typed_one(qtbot, tmp_path: Path, template_2021) -> None:
    """A Kazakh election lists its regions on its date, in Kazakh alphabetical order; an election whose
    template has no list of regions (a foreign file's own names) lets the observer type the region."""
    from observer.fmt import formatter
    from observer.template import load_template
    from ui.pages.setup import SetupPage

    make_application()
    i18n.set_language("kk")
    try:
        kz = ElectionStore.create(tmp_path / "kz.baqylau", template_2021)
        window = MainWindow(kz, Settings())
        qtbot.addWidget(window)
        setup = window.page(SetupPage)
        assert isinstance(setup, SetupPage) and not setup.region.isEditable()
        names = [setup.region.itemText(i) for i in range(1, setup.region.count())]
        assert "Түркістан облысы" in names and "Оңтүстік Қазақстан облысы" not in names  # 2021: after 2018
        assert names == sorted(names, key=formatter("kk").sort_key)
        window.close()
        kz.close()

        source = (Path(__file__).resolve().parents[2] / "resources/templates/kz-majilis-2021.toml").read_text("utf-8")
        foreign = tmp_path / "ru-duma-2021.toml"
        foreign.write_text(
            source.replace('id = "kz-majilis-2021"', 'id = "ru-duma-2021"').replace('country = "KZ"', 'country = "RU"'),
            encoding="utf-8",
        )
        ru = ElectionStore.create(tmp_path / "ru.baqylau", load_template(foreign))
        assert ru.template.units is None
        window = MainWindow(ru, Settings())
        qtbot.addWidget(window)
        setup = window.page(SetupPage)
        assert isinstance(setup, SetupPage) and setup.region.isEditable()
        setup.code.setText("Москва/ТИК №1/УИК №101")
        setup.code.editingFinished.emit()
        setup.region.setEditText("  Город Москва ")
        setup.region.lineEdit().editingFinished.emit()
        st = ru.current_station()
        assert st is not None and st.region == "Город Москва"
        window.close()
        ru.close()
    finally:
        i18n.set_language("ru")


def test_opening_a_file_removes_work_folders_a_crashed_merge_left_beside_it(
    qtbot, launcher: Launcher, tmp_path: Path
) -> None:
    from db.workdirs import WORK_PREFIX, drop_work_dir, make_work_dir

    path = tmp_path / "hq.baqylau"
    ElectionStore.create(path, builtin_template("kz-majilis-2023"), role=ROLE_HQ).close()
    crashed = tmp_path / f"{WORK_PREFIX}999999999-abc"
    (crashed / "x").mkdir(parents=True)
    running = make_work_dir(tmp_path)  # a merge of this process still running: kept
    try:
        assert launcher.open_path(path)
        assert not crashed.exists()
        assert running.is_dir()
    finally:
        drop_work_dir(running)


def test_the_first_screen_creates_a_coordinators_hq_file(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    from ui.coordinator.window import CoordinatorWindow

    first = launcher.start(None)
    assert isinstance(first, FirstRunWindow)
    first.template.setCurrentIndex(first.template.findData("kz-majilis-2023"))
    first.role.setCurrentIndex(first.role.findData(ROLE_HQ))
    assert first.role.currentText() == "штаб координатора (HQ)"
    first.save_path.setText(str(tmp_path / "HQ"))  # the README's HQ.db
    qtbot.mouseClick(first.create_button, Qt.MouseButton.LeftButton)
    assert isinstance(launcher.window, CoordinatorWindow)
    assert launcher.store is not None and launcher.store.path == tmp_path / "HQ.db"
    assert launcher.store.role == ROLE_HQ and launcher.store.template.id == "kz-majilis-2023"
    launcher.window.close()
    launcher._close_store()
    reopened = ElectionStore.open(tmp_path / "HQ.db")
    assert reopened.role == ROLE_HQ
    reopened.close()


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_the_open_dialog_offers_db_files_too(qtbot, launcher: Launcher, monkeypatch, tmp_path: Path, lang: str) -> None:
    from ui.coordinator.window import CoordinatorWindow

    path = tmp_path / "HQ.db"
    ElectionStore.create(path, builtin_template("kz-majilis-2023"), role=ROLE_HQ).close()
    i18n.set_language(lang)
    first = launcher.start(None)
    asked: list[str] = []

    def fake_ask(_parent, _title, filters, _start=None, **_kw):
        asked.append(filters)
        return path

    monkeypatch.setattr("ui.first_run.ask_open_file", fake_ask)
    qtbot.mouseClick(first.open_button, Qt.MouseButton.LeftButton)
    assert "*.db" in asked[0].split(";;")[0] and "*.baqylau" in asked[0].split(";;")[0]
    assert isinstance(launcher.window, CoordinatorWindow)


def test_the_coordinator_windows_language_is_remembered(qtbot, launcher: Launcher, tmp_path: Path) -> None:
    from ui.coordinator.window import CoordinatorWindow

    path = tmp_path / "HQ.db"
    ElectionStore.create(path, builtin_template("kz-majilis-2023"), role=ROLE_HQ).close()
    window = launcher.start(path)
    assert isinstance(window, CoordinatorWindow)
    window.language.setCurrentIndex(window.language.findData("kk"))  # the toolbar's language chooser
    assert i18n.current_language() == "kk"
    assert Settings().language == "kk"  # the next start opens in Kazakh
    window.language.setCurrentIndex(window.language.findData("en"))
    assert Settings().language == "en"


def test_the_bundled_fonts_are_registered(qtbot) -> None:
    """DejaVu Sans (Kazakh letters on any system) is the application's, each file given to Qt by name."""
    from ui.widgets.style import FALLBACK_FAMILY

    app = make_application()
    families = app.property("baqylauFontFamilies")  # what ui.widgets.style loaded, once per process
    assert {FALLBACK_FAMILY, f"{FALLBACK_FAMILY} Condensed"} <= set(families)
    if sys.platform not in ("win32", "darwin"):
        assert app.font().family() == FALLBACK_FAMILY
