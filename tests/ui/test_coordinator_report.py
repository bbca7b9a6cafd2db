"""The report dialog's "Open" without a PDF viewer, and "Save as…" starting where the last report went."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from db.store import ROLE_HQ, ElectionStore
from observer import i18n
from ui.coordinator import report as report_module
from ui.coordinator.report import ReportDialog
from ui.qt import QApplication, QMessageBox

pytestmark = pytest.mark.gui


@pytest.fixture
def dialog(qtbot, tmp_path: Path, template_2021):
    store = ElectionStore.create(tmp_path / "HQ.db", template_2021, role=ROLE_HQ)
    dlg = ReportDialog(store)
    qtbot.addWidget(dlg)
    pdf = tmp_path / "built" / "HQ-kk.pdf"
    pdf.parent.mkdir()
    pdf.write_bytes(b"%PDF-1.4 a built report")
    dlg.info = SimpleNamespace(path=pdf)  # what _done keeps of a built report: its file
    yield dlg
    store.close()


class _NoViewer:
    opened: list[str] = []

    @classmethod
    def openUrl(cls, url) -> bool:  # noqa: N802 - Qt's name
        cls.opened.append(url.toLocalFile())
        return False  # what Qt returns when no program handles PDF files


def test_open_without_a_pdf_viewer_says_so_and_where_the_file_is(qtbot, dialog, monkeypatch) -> None:
    i18n.set_language("kk")
    monkeypatch.setattr(report_module, "QDesktopServices", _NoViewer)
    dialog.show()
    assert dialog.open_external() is False
    assert _NoViewer.opened == [str(dialog.info.path)]
    box = next(
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.objectName() == "noPdfViewer"
    )
    assert box.isVisible()
    assert "PDF көретін бағдарлама жоқ" in box.text() and str(dialog.info.path) in box.text()
    assert dialog.status.text() == box.text()
    box.close()


def test_save_as_starts_in_the_folder_used_last_time(qtbot, dialog, monkeypatch, tmp_path: Path) -> None:
    starts: list[Path] = []
    answers = iter([tmp_path / "stick" / "report", None])

    def fake_ask(_parent, _title, _filters, start=None, **_kw):
        starts.append(start)
        return next(answers)

    monkeypatch.setattr(report_module, "ask_save_file", fake_ask)
    (tmp_path / "stick").mkdir()
    saved = dialog.save_as()
    assert saved == tmp_path / "stick" / "report.pdf" and saved.read_bytes() == dialog.info.path.read_bytes()
    assert starts[0] == Path.home() / "HQ-kk.pdf"  # nothing saved before: the home folder
    assert dialog.save_as() is None  # cancelled
    assert starts[1] == tmp_path / "stick" / "HQ-kk.pdf"  # then where the last one went
