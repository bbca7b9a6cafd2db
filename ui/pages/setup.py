"""Set-up: the election, the observer and the polling station."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from db.store import ROLE_HQ, ElectionStore, storage_error
from observer.errors import BaqylauError
from observer.fmt import formatter
from observer.i18n import tr
from observer.paths import app_home
from observer.records import MAX_STATION_CODE, StationInfo
from ui.input_guard import ComboBox
from ui.pages.base import Page, plain_label
from ui.qt import (
    QCompleter,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
)
from ui.settings import Settings
from ui.widgets.dialogs import ask_open_file, confirm
from ui.widgets.fields import IntField
from ui.widgets.messages import attempt, post_error, post_info, succeeded


class SetupPage(Page):
    title_key = "ui.nav.setup"
    needs_station = False

    def __init__(self, store: ElectionStore, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(store, settings, parent)
        self._loading = False
        self.station_list: dict[str, StationInfo] = {}
        col = QVBoxLayout(self.body)
        col.setContentsMargins(0, 0, 0, 0)

        self.election_box = QGroupBox(self.body)
        eform = QFormLayout(self.election_box)
        eform.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.election_name = plain_label("", self.election_box)
        self.election_name.setWordWrap(True)
        self.election_name_label = plain_label()
        eform.addRow(self.election_name_label, self.election_name)
        col.addWidget(self.election_box)

        self.observer_box = QGroupBox(self.body)
        oform = QFormLayout(self.observer_box)
        oform.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.observer_name = QLineEdit(self.observer_box)
        self.organisation = QLineEdit(self.observer_box)
        self.observer_name_label, self.organisation_label = plain_label(), plain_label()
        oform.addRow(self.observer_name_label, self.observer_name)
        oform.addRow(self.organisation_label, self.organisation)
        col.addWidget(self.observer_box)

        self.station_box = QGroupBox(self.body)
        sform = QFormLayout(self.station_box)
        sform.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        code_row = QHBoxLayout()
        self.code = QLineEdit(self.station_box)
        self.code.setMaxLength(MAX_STATION_CODE)
        self.import_button = QPushButton(self.station_box)
        code_row.addWidget(self.code, 1)
        code_row.addWidget(self.import_button)
        self.region = ComboBox(self.station_box)
        self._region_typed = False
        self.district = QLineEdit(self.station_box)
        self.address = QLineEdit(self.station_box)
        self.registered = IntField(self.station_box)
        self.registered.setMaximumWidth(200)
        self.code_label, self.region_label, self.district_label = plain_label(), plain_label(), plain_label()
        self.address_label, self.registered_label = plain_label(), plain_label()
        sform.addRow(self.code_label, code_row)
        sform.addRow(self.region_label, self.region)
        sform.addRow(self.district_label, self.district)
        sform.addRow(self.address_label, self.address)
        sform.addRow(self.registered_label, self.registered)
        self.station_hint = plain_label("", self.station_box)
        self.station_hint.setObjectName("hint")
        self.station_hint.setWordWrap(True)
        sform.addRow(self.station_hint)
        col.addWidget(self.station_box)
        col.addStretch(1)

        self.observer_name_label.setBuddy(self.observer_name)
        self.organisation_label.setBuddy(self.organisation)
        self.code_label.setBuddy(self.code)
        self.region_label.setBuddy(self.region)
        self.district_label.setBuddy(self.district)
        self.address_label.setBuddy(self.address)
        self.registered_label.setBuddy(self.registered)

        self._keyboard_order()
        self.observer_name.textEdited.connect(self._save_observer)
        self.organisation.textEdited.connect(self._save_observer)
        self.code.editingFinished.connect(self._commit_code)
        self.region.currentIndexChanged.connect(self._save_station)
        self.district.textEdited.connect(self._save_station)
        self.address.textEdited.connect(self._save_station)
        self.registered.value_changed.connect(self._save_station)
        self.import_button.clicked.connect(self._import_stations)
        self._load_station_list()
        self.retranslate()
        self.refresh()

    def _keyboard_order(self) -> None:
        """Tab and Enter walk the form in reading order; "Import CSV" comes last, not after the number."""
        chain: list[QWidget] = [
            self.observer_name,
            self.organisation,
            self.code,
            self.region,
            self.district,
            self.address,
            self.registered,
            self.import_button,
        ]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)
        for edit, following in zip(chain[:6], chain[1:7]):
            if isinstance(edit, QLineEdit):
                # as Tab does: the next field's text is selected, so typing replaces it
                edit.returnPressed.connect(lambda w=following: w.setFocus(Qt.FocusReason.TabFocusReason))
        # Enter on the last field keeps it (the next widget in the window is the language box).
        self.registered.enter_moves_on = False

    # ---- texts ---------------------------------------------------------
    def retranslate(self) -> None:
        super().retranslate()
        tpl = self.store.template
        self.election_box.setTitle(tr("ui.setup.election"))
        self.election_name_label.setText(tr("ui.setup.template"))
        self.election_name.setText(tr("ui.setup.template_value", name=tpl.names.get(), id=tpl.id, date=tpl.date or "—"))
        self.observer_box.setTitle(tr("ui.setup.observer"))
        self.observer_name_label.setText(tr("ui.setup.observer_name"))
        self.organisation_label.setText(tr("ui.setup.organisation"))
        self.station_box.setTitle(tr("ui.setup.station"))
        self.code_label.setText(tr("ui.setup.code"))
        self.code.setPlaceholderText(tr("ui.setup.code_placeholder"))
        self.import_button.setText(tr("ui.setup.import"))
        self.region_label.setText(tr("ui.setup.region"))
        self.district_label.setText(tr("ui.setup.district"))
        self.address_label.setText(tr("ui.setup.address"))
        self.registered_label.setText(tr("ui.setup.registered"))
        self._fill_regions()
        self._update_hint()

    def _fill_regions(self) -> None:
        """The regions of the election's template on its date; without a list, the observer types the name."""
        chosen = self._region_value()
        was_loading, self._loading = self._loading, True
        self.region.clear()
        units = self.store.template.units
        self.region.setEditable(units is None)
        typed = self.region.lineEdit()
        if typed is not None and not self._region_typed:  # a typed name is saved when the field is left
            typed.editingFinished.connect(self._save_station)
            self._region_typed = True
        if units is not None:
            self.region.addItem("—", "")
            n = formatter()
            for r in sorted(units.on(self.store.template.date), key=lambda r: n.sort_key(r.name())):
                self.region.addItem(r.name(), r.code)
        self._select_region(chosen)
        self._loading = was_loading

    def _select_region(self, code: str) -> None:
        units = self.store.template.units
        if units is None:
            self.region.setEditText(code)
            return
        found = units.get(code) if code else None
        index = self.region.findData(found.code if found else "")
        self.region.setCurrentIndex(max(index, 0))

    def _region_value(self) -> str:
        """The region as stored: a code from the template's list, or the name the observer typed."""
        if self.region.isEditable():
            return self.region.currentText().strip()
        return str(self.region.currentData() or "")

    def _update_hint(self) -> None:
        count = len(self.station_list)
        self.station_hint.setText(tr("ui.setup.station_list", count=count) if count else tr("ui.setup.station_hint"))

    # ---- loading -------------------------------------------------------
    def refresh(self) -> None:
        super().refresh()
        self._loading = True
        try:
            obs = self.store.observer()
            if not self.observer_name.hasFocus():
                self.observer_name.setText(obs.name if obs else self.settings.observer_name)
            if not self.organisation.hasFocus():
                self.organisation.setText(obs.organisation if obs else self.settings.organisation)
            self._show_station(self.station)
            self._update_completer()
        finally:
            self._loading = False

    def _show_station(self, st: StationInfo | None) -> None:
        self.code.setText(st.code if st else "")
        self._select_region(st.region if st else "")
        self.district.setText(st.district if st else "")
        self.address.setText(st.address if st else "")
        self.registered.set_value(st.registered if st else None)

    def _update_completer(self) -> None:
        # Picking from an imported list: the codes complete as the observer types.
        if self.station_list:
            completer = QCompleter(sorted(self.station_list), self.code)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchStartsWith)
            completer.activated.connect(lambda _text: self._commit_code())
            self.code.setCompleter(completer)

    # ---- saving --------------------------------------------------------
    def _save_observer(self) -> None:
        if self._loading:
            return
        name, org = self.observer_name.text(), self.organisation.text()
        if attempt(lambda: self.store.set_observer(name, org)) is not None:
            self.settings.observer_name = name
            self.settings.organisation = org

    def _station_values(self) -> dict[str, object]:
        return {
            "region": self._region_value(),
            "district": self.district.text(),
            "address": self.address.text(),
            "registered": self.registered.value(),
        }

    def _save_station(self) -> None:
        if self._loading:
            return
        st = self.station
        if st is None:
            # Nothing to attach the fields to yet; they are saved with the station number.
            if self.code.text().strip():
                self._commit_code()
            return
        values = self._station_values()
        attempt(lambda: self.store.upsert_station(st.code, **values))  # type: ignore[arg-type]

    def _commit_code(self) -> None:
        if self._loading:
            return
        code = self.code.text().strip()
        current = self.station
        if not code or (current is not None and current.code == code):
            return
        if current is not None and not confirm(
            self, tr("ui.setup.switch_title"), tr("ui.setup.switch_question", old=current.code, new=code)
        ):
            # Keep working at the current station; put its number back.
            self.code.setText(current.code)
            return
        known = self.store.station_by_code(code)
        listed = self.station_list.get(code)
        if known is None and listed is not None:
            # Picked from the imported list: its details come along into this file.
            known = attempt(
                lambda: self.store.upsert_station(
                    code, listed.region, listed.district, listed.address, listed.registered
                )
            )
            if known is None:
                return
        if known is not None:
            chosen = known
            if not succeeded(lambda: self.store.select_station(chosen.id)):
                return
            self.refresh()
            if listed is not None:
                post_info(tr("ui.setup.station_selected", code=code))
        else:
            values = self._station_values()
            created = attempt(lambda: self.store.upsert_station(code, **values))  # type: ignore[arg-type]
            if created is None:
                return
            if not succeeded(lambda: self.store.select_station(created.id)):
                return
        self._update_hint()
        self.station_changed.emit()

    # ---- the station list ------------------------------------------------
    def _list_path(self) -> Path:
        """Where the imported list for this election file is kept.

        The list is not copied into the observer's file: that file holds the
        observer's one station, and a package carrying 10,000 listed stations
        would mean nothing to the coordinators. It is a coordinator-style file
        of its own (``db.stations_import`` fills HQ files), reused on the next start.
        """
        digest = hashlib.sha256(str(self.store.path.resolve()).encode("utf-8")).hexdigest()[:10]
        return app_home() / "station-lists" / f"{self.store.path.stem}-{digest}.baqylau"

    def _load_station_list(self) -> None:
        path = self._list_path()
        self.station_list = {}
        if not path.is_file():
            return
        try:
            listing = ElectionStore.open(path)
        except BaqylauError as exc:  # a damaged cache only costs a re-import
            post_error(str(exc))
            return
        try:
            self.station_list = {st.code: st for st in listing.stations()}
        finally:
            listing.close()

    def _import_stations(self) -> None:
        path = ask_open_file(self, tr("ui.setup.import_title"), tr("ui.filter.csv"), purpose="csv")
        if path is None:
            return
        self.import_station_list(path)

    def import_station_list(self, path: Path) -> bool:
        """Read a station list CSV; every bad row is reported and the old list kept."""
        from db import stations_import as module

        target = self._list_path()
        work = target.parent / (target.stem + ".part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            listing = ElectionStore.create(work / target.name, self.store.template, role=ROLE_HQ)
            try:
                module.import_stations(listing, path)
            finally:
                listing.close()
            os.replace(work / target.name, target)
        except BaqylauError as exc:
            post_error(str(exc))
            return False
        except OSError as exc:
            post_error(str(storage_error(exc, target)))
            return False
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self._load_station_list()
        post_info(tr("ui.setup.imported", count=len(self.station_list)))
        self._update_hint()
        self._update_completer()
        return True
