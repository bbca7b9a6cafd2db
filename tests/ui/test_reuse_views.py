"""Photos submitted for more than one station, as the coordinator sees them: the stations table's flag,
its tooltip and filter, the window's background scan, and the report's subsection (db.reuse finds them:
tests/db/test_reuse.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from db.merge import merge_packages, set_trust_on_first_use
from db.services.station_table import FLAG_REUSED
from db.store import ROLE_HQ, ElectionStore
from observer.i18n import tr
from reports.build import build_report
from ui.coordinator.stations import StationsPage, flag_text
from ui.coordinator.window import CoordinatorWindow
from ui.qt import Qt

pytestmark = pytest.mark.gui


# The photo and package makers of the reuse tests (tests/ is on sys.path under pytest's default import mode).
from tests.db.test_reuse import scene as _scene  # noqa: E402
from tests.db.test_reuse import station_package as _package  # noqa: E402


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    out = {"original": tmp_path / "IMG_0001.jpg", "smaller": tmp_path / "photo_2021-01-10.jpg"}
    _scene(1).save(out["original"], "JPEG", quality=90)
    _scene(1).resize((800, 600)).save(out["smaller"], "JPEG", quality=35)  # what a messenger makes of it
    for i in range(3):
        out[f"other{i}"] = tmp_path / f"other{i}.jpg"
        _scene(100 + i).save(out[f"other{i}"], "JPEG", quality=85)
    return out


@pytest.fixture
def hq_reuse(tmp_path: Path, template_2021: Any, photos: dict[str, Path]) -> Iterator[ElectionStore]:
    """101 and 102 sent the same file; 103 a recompressed copy of it; 104 photos of its own."""
    packages = [
        _package(tmp_path, template_2021, "101", "Айгүл", [photos["original"], photos["other0"]]),
        _package(tmp_path, template_2021, "102", "Бауыржан", [photos["original"]]),
        _package(tmp_path, template_2021, "103", "Сәуле", [photos["smaller"]]),
        _package(tmp_path, template_2021, "104", "Данияр", [photos["other1"]]),
    ]
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role=ROLE_HQ)
    assert merge_packages(hq, packages, trust_new_keys=True).counts()["merged"] == 4
    yield hq
    hq.close()


def _row_of(page: StationsPage, code: str) -> Any:
    model = page.model
    for r in range(model.rowCount()):
        row = model.row_data(r)
        if row is not None and row.code == code:
            return row
    raise AssertionError(f"station {code} not in the table")


def test_stations_table_flags_reused_photos(qtbot: Any, hq_reuse: ElectionStore) -> None:
    page = StationsPage(hq_reuse)
    qtbot.addWidget(page)
    assert FLAG_REUSED not in _row_of(page, "101").flags  # nothing until the background scan is done
    op = page.scan_reused_evidence()
    with qtbot.waitSignal(op.finished, timeout=20000):
        pass
    assert op.outcome == "success"
    flagged = {code for code in ("101", "102", "103", "104") if FLAG_REUSED in _row_of(page, code).flags}
    assert flagged == {"101", "102", "103"}
    row = _row_of(page, "102")
    assert tr("coordui.flag.reused") in flag_text(row)
    assert {p.kind for p in row.reused} == {"identical", "near"}

    # The tooltip of the flag names the other stations, their observers and the files.
    index = page.model.index(next(r for r in range(page.model.rowCount()) if page.model.station_id(r) == row.id), 7)

    tip = str(page.model.data(index, Qt.ItemDataRole.ToolTipRole))
    assert tr("rel.reuse.tip_title") in tip
    assert "101" in tip and "Айгүл" in tip and "103" in tip and "Сәуле" in tip
    assert "IMG_0001.jpg" in tip and "photo_2021-01-10.jpg" in tip
    assert tr("rel.reuse.identical") in tip

    page.reused.setChecked(True)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)
    assert sorted(page.model.row_data(r).code for r in range(3)) == ["101", "102", "103"]  # type: ignore[union-attr]


def test_window_scans_on_open_and_after_a_merge(
    qtbot: Any, tmp_path: Path, template_2021: Any, photos: dict[str, Path]
) -> None:
    first = [
        _package(tmp_path, template_2021, "201", "Айгүл", [photos["other0"]]),
        _package(tmp_path, template_2021, "202", "Бауыржан", [photos["other2"]]),
    ]
    later = _package(tmp_path, template_2021, "203", "Сәуле", [photos["other0"]])  # 201's photo again
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role=ROLE_HQ)
    try:
        set_trust_on_first_use(hq, True)  # the merge through the dialog must not hold the new key
        assert merge_packages(hq, first).counts()["merged"] == 2
        window = CoordinatorWindow(hq)
        qtbot.addWidget(window)
        page = window.stations
        op = page.reuse_operation
        assert op is not None  # started by opening the window
        qtbot.waitUntil(lambda: op.outcome != "pending", timeout=20000)
        assert op.outcome == "success"
        assert FLAG_REUSED not in _row_of(page, "201").flags

        dialog = window.open_merge()
        dialog.add_paths([later])
        with qtbot.waitSignal(dialog.merged, timeout=20000):
            dialog.merge_button.click()
        qtbot.waitUntil(lambda: dialog.merge_button.isEnabled())
        assert dialog.outcomes() == {later.name: "merged"}
        qtbot.waitUntil(lambda: FLAG_REUSED in _row_of(page, "203").flags, timeout=20000)
        assert FLAG_REUSED in _row_of(page, "201").flags
        assert FLAG_REUSED not in _row_of(page, "202").flags
        window.close()
    finally:
        hq.close()


def _section_text(pdf: Path, heading: str, until: str) -> str:
    """The text from ``heading`` (not the table of contents' line) to ``until``."""
    text = "\n".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    start = text.rfind(heading)
    assert start >= 0, heading
    end = text.find(until, start)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_report_lists_photos_submitted_for_more_than_one_station(
    hq_reuse: ElectionStore, tmp_path: Path, lang: str
) -> None:
    pdf = tmp_path / f"report-{lang}.pdf"
    build_report(hq_reuse, pdf, lang)
    section = _section_text(pdf, tr("rel.report.title", lang), tr("report.annex.disputed", lang))
    assert tr("rel.report.intro", lang, pairs=3, identical=1, near=2) in " ".join(section.split())
    for code in ("101", "102", "103"):
        assert code in section
    assert "104" not in section
    for name in ("Айгүл", "Бауыржан", "Сәуле", "IMG_0001.jpg"):
        assert name in section
    assert tr("rel.reuse.identical", lang) in section


def test_report_says_when_no_photo_was_reused(tmp_path: Path, template_2021: Any, photos: dict[str, Path]) -> None:
    packages = [
        _package(tmp_path, template_2021, "301", "Айгүл", [photos["other0"]]),
        _package(tmp_path, template_2021, "302", "Бауыржан", [photos["other1"]]),
    ]
    hq = ElectionStore.create(tmp_path / "hq" / "hq.baqylau", template_2021, role=ROLE_HQ)
    try:
        merge_packages(hq, packages, trust_new_keys=True)
        pdf = tmp_path / "report.pdf"
        build_report(hq, pdf, "en")
    finally:
        hq.close()
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(str(pdf)).pages).split())
    assert tr("rel.report.none", "en") in text
    assert tr("rel.report.col.match", "en") not in text
