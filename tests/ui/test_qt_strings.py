"""Qt's own strings (standard buttons, file dialogs) follow the app's language."""

from __future__ import annotations

from typing import Any

import pytest

from observer import i18n
from ui.app import make_application, qt_translations
from ui.qt import QDialogButtonBox

pytestmark = pytest.mark.gui

# The Kazakh and Russian texts of Qt's standard Cancel button, from PySide6's qtbase_kk.qm / qtbase_ru.qm.
QT_CANCEL = {"kk": "Бас тарту", "ru": "Отмена", "en": "Cancel"}


def test_standard_buttons_follow_the_language(qtbot: Any) -> None:
    make_application()
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    qtbot.addWidget(box)
    cancel = box.button(QDialogButtonBox.StandardButton.Cancel)
    assert cancel.text() == QT_CANCEL["ru"]  # the default language, installed by make_application

    i18n.set_language("kk")
    qtbot.waitUntil(lambda: cancel.text() == QT_CANCEL["kk"], timeout=3000)
    assert qt_translations().language == "kk"
    # A dialog made after the switch is in Kazakh from the start.
    fresh = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    qtbot.addWidget(fresh)
    assert fresh.button(QDialogButtonBox.StandardButton.Cancel).text() == QT_CANCEL["kk"]

    i18n.set_language("en")
    qtbot.waitUntil(lambda: cancel.text() == QT_CANCEL["en"], timeout=3000)
    i18n.set_language("ru")
    qtbot.waitUntil(lambda: cancel.text() == QT_CANCEL["ru"], timeout=3000)
