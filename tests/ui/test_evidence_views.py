"""The photo views read evidence through the store on both backends (issue 16): a PostgreSQL HQ's
photo opens from its checked copy, and one whose bytes are damaged on the server is refused with a
message instead of shown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from db.fileformat import ROLE_HQ
from db.store import ElectionStore
from observer.i18n import tr
from ui.qt import QApplication, QMessageBox
from ui.widgets.evidence import EvidenceList

pytestmark = [pytest.mark.gui, pytest.mark.postgres]


def _error_boxes() -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "baqylauErrorBox" and w.isVisible()
    ]


def test_a_server_photo_opens_and_a_damaged_one_is_refused_with_a_message(
    qtbot, pg_url: str, template_2021, tmp_path: Path
) -> None:
    hq = ElectionStore.create(pg_url, template_2021, role=ROLE_HQ)
    try:
        st = hq.upsert_station("101", "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
        vid = hq.save_violation(st.id, category="STUFF", occurred_at=datetime.now(UTC))
        photo = tmp_path / "IMG_0001.jpg"
        Image.new("RGB", (640, 480), "blue").save(photo)
        ev = hq.add_evidence(st.id, photo, violation_id=vid)
        views = EvidenceList(locate=hq.evidence_path)
        qtbot.addWidget(views)
        views.set_evidence([ev])
        views.setCurrentRow(0)
        views.open_selected()
        assert views.viewer is not None and views.viewer.shown_size().width() > 0
        views.viewer.close()
        views.viewer = None
        hq.evidence_path(ev).unlink()  # the cached copy gone: read from the server again, which is damaged
        with hq.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE evidence_file_parts SET data = set_byte(data, 100, 255 - get_byte(data, 100))")
        views.open_selected()
        assert views.viewer is None
        (box,) = _error_boxes()
        assert box.text() == tr("error.storage.evidence_damaged", name=ev.stored_name)
        box.close()
    finally:
        hq.close()
