"""Election-night stress: merges running while the coordinator switches tabs, filters and sorts.

The window once vanished during a merge (a click on the Stations tab at 74%). Whatever
the order of events, the background work must never touch a widget from its thread and
a table reset during a background read must be safe: here a few hundred rounds of tab
switches, filter toggles, header clicks and overview clicks run while packages merge.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from db.merge import trust_key
from db.store import ROLE_HQ, ElectionStore
from observer.signing import KeyPair
from tests.ui.test_coordinator_merge import BASE, make_package
from ui.coordinator.merge import MergeDialog
from ui.coordinator.stations import COLUMNS
from ui.coordinator.window import TABS, CoordinatorWindow
from ui.qt import QApplication, Qt

pytestmark = pytest.mark.gui

PACKAGES = 8
ROUNDS = 300


def test_tabs_filters_and_sorting_during_merges_never_crash(qtbot, tmp_path: Path, template_2021) -> None:
    hq = ElectionStore.create(tmp_path / "hq.baqylau", template_2021, role=ROLE_HQ)
    try:
        for i in range(PACKAGES):
            keys = KeyPair.generate()
            trust_key(hq, keys.public_hex, f"k{i}", "test")
            batch = tmp_path / ("first" if i % 2 else "second")
            batch.mkdir(exist_ok=True)
            make_package(
                batch, f"s{i}", f"{101 + i}", f"Observer {i}", keys, template_2021, {**BASE, "issued": 900 + i}
            )
        window = CoordinatorWindow(hq)
        qtbot.addWidget(window)
        window.show()
        rng = random.Random(17)
        stations = window.stations
        header = stations.view.horizontalHeader()
        boxes = [stations.observed, stations.disputed, stations.violations, stations.checks]
        dialogs: list[MergeDialog] = []
        for folder in ("first", "second"):
            dialog = window.merge_dropped([tmp_path / folder / "out"])
            dialogs.append(dialog)
            for _ in range(ROUNDS // 2):
                action = rng.randrange(5)
                if action == 0:
                    window.show_tab(rng.choice(TABS))
                elif action == 1:
                    rng.choice(boxes).click()
                elif action == 2:
                    order = rng.choice((Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder))
                    header.setSortIndicator(rng.randrange(len(COLUMNS)), order)
                elif action == 3 and "overview" in window._pages and window.overview.overview is not None:
                    window.overview.buttons[rng.choice(list(window.overview.buttons))].click()
                else:
                    stations.view.scrollToBottom()
                    for r in range(min(stations.model.rowCount(), 5)):
                        stations.model.index(r, COLUMNS.index("flags")).data()
                QApplication.processEvents()
            qtbot.waitUntil(lambda d=dialog: d.report is not None, timeout=60000)
        # Everything merged, and the table agrees once the filters are off.
        for box in boxes:
            box.setChecked(False)
        window.refresh()
        qtbot.waitUntil(lambda: stations.model.rowCount() == PACKAGES, timeout=20000)
        # The second drop went to the dialog still open: it merged the new folder, the first one was a duplicate.
        assert dialogs[0] is dialogs[1] and dialogs[1].report is not None
        counts = dialogs[1].report.counts()
        assert (counts["merged"], counts["duplicate"]) == (PACKAGES // 2, PACKAGES // 2)
        assert {s.code for s in hq.stations()} == {f"{101 + i}" for i in range(PACKAGES)}
        window.close()
    finally:
        hq.close()
