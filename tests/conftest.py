"""Shared fixtures. Qt runs offscreen; every test gets its own BAQYLAU_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from observer import i18n
from ui.qt import guard_singleton_refcounts

guard_singleton_refcounts()  # the PySide6 6.12 reference guard, before pytest-qt makes its first Qt call


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BAQYLAU_HOME", str(home))
    yield home
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


@pytest.fixture
def template_2021():
    from observer.template import builtin_template

    return builtin_template("kz-majilis-2021")


@pytest.fixture
def store(tmp_path: Path, template_2021):
    from db.store import ElectionStore

    s = ElectionStore.create(tmp_path / "station.baqylau", template_2021)
    s.set_observer("Айгүл Қасымова", "MISK")
    st = s.upsert_station("101", "KZ-ALA", "Алмалы", "ул. Абая, 1", 1500)
    s.select_station(st.id)
    yield s
    s.close()
