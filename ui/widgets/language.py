"""Language switching for every window.

``observer.i18n.on_language_changed`` keeps plain callbacks forever, so one
bridge is registered there once and passes each change on to the windows that
subscribe with ``language_bridge().changed.connect(self.retranslate_slot)``.

The bridge is not a Qt signal on purpose. A Qt connection to a lambda outlives
the window the lambda calls into, and the next language change then calls a
deleted widget ("Internal C++ object already deleted") and raises. Here bound
methods are held weakly, and a subscriber whose widget is gone is dropped
instead of failing the language switch for every other window.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

from observer import i18n
from ui.input_guard import ComboBox
from ui.qt import QWidget

log = logging.getLogger("baqylau.ui")

Slot = Callable[[str], object]


class LanguageSignal:
    """connect / disconnect / emit, like a Qt signal carrying the language code."""

    def __init__(self) -> None:
        self._slots: list[Callable[[], Slot | None]] = []

    def connect(self, slot: Slot) -> None:
        if hasattr(slot, "__self__") and hasattr(slot, "__func__"):
            ref = weakref.WeakMethod(slot)  # type: ignore[arg-type]
            self._slots.append(ref)
        else:
            self._slots.append(lambda: slot)

    def disconnect(self, slot: Slot) -> None:
        self._slots = [ref for ref in self._slots if ref() not in (slot, None)]

    def emit(self, lang: str) -> None:
        gone: list[Callable[[], Slot | None]] = []
        for ref in list(self._slots):  # a slot may subscribe or unsubscribe others meanwhile
            slot = ref()
            if slot is None:
                gone.append(ref)
                continue
            try:
                slot(lang)
            except RuntimeError as exc:
                if "already deleted" not in str(exc):
                    raise
                log.debug("dropped a language subscriber whose widget is gone: %s", exc)
                gone.append(ref)
        self._slots = [ref for ref in self._slots if ref not in gone]


class LanguageBridge:
    def __init__(self) -> None:
        self.changed = LanguageSignal()


_bridge: LanguageBridge | None = None


def language_bridge() -> LanguageBridge:
    global _bridge
    if _bridge is None:
        _bridge = LanguageBridge()
        i18n.on_language_changed(_bridge.changed.emit)
    return _bridge


class LanguageCombo(ComboBox):
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
