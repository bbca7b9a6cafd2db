"""Language switching for every window.

``observer.i18n.on_language_changed`` keeps plain callbacks forever; a Qt
widget registered there directly would be called after it is deleted. One
bridge QObject is registered once and re-emits the change as a Qt signal, which
Qt disconnects by itself when a widget goes away. Windows connect
``language_bridge().changed`` to their ``retranslate()``.
"""

from __future__ import annotations

from observer import i18n
from ui.qt import QComboBox, QObject, QWidget, Signal


class LanguageBridge(QObject):
    changed = Signal(str)  # new language code


_bridge: LanguageBridge | None = None


def language_bridge() -> LanguageBridge:
    global _bridge
    if _bridge is None:
        _bridge = LanguageBridge()
        bridge = _bridge
        i18n.on_language_changed(lambda lang: bridge.changed.emit(lang))
    return _bridge


class LanguageCombo(QComboBox):
    """Рус / Қаз / Eng chooser; language names are shown in their own language."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for code in i18n.LANGUAGES:
            self.addItem(i18n.LANGUAGE_NAMES[code], code)
        self.setCurrentIndex(i18n.LANGUAGES.index(i18n.current_language()))
        self.currentIndexChanged.connect(self._chosen)
        language_bridge().changed.connect(self._follow)

    def _chosen(self, index: int) -> None:
        i18n.set_language(self.itemData(index))

    def _follow(self, lang: str) -> None:
        # Another combo (or the menu) changed the language: show it without re-emitting.
        self.blockSignals(True)
        self.setCurrentIndex(i18n.LANGUAGES.index(lang))
        self.blockSignals(False)
