"""Typed settings of this installation (language, last file, organisation).

Stored with QSettings in an INI file inside ``observer.paths.app_home()`` so a
portable USB install (``BAQYLAU_HOME``) carries them along and tests stay
isolated. Every setter syncs at once: a power cut must not forget which
election file the observer was working in.
"""

from __future__ import annotations

from pathlib import Path

from observer import i18n
from observer.paths import app_home
from ui.qt import QSettings

_LANGUAGE = "ui/language"
_LAST_FILE = "files/last"
_ORGANISATION = "observer/organisation"
_OBSERVER_NAME = "observer/name"
_EXPORT_DIR = "export/last_dir"
_FOLDERS = "folders/"  # + purpose: the folder a file dialog of that purpose last chose from
# Key names predate the typed properties; kept so existing installations keep their choice.
_ORG_PUBLIC_KEY = "export/org_public_key"
_ENCRYPT_EXPORTS = "export/encrypt"
_ORG_PRIVATE_KEY = "merge/org_private_key"


class Settings:
    """One typed view over the INI file; create as many as needed, they share the file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or app_home() / "settings.ini"
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _text(self, key: str) -> str:
        value = self._qs.value(key, "")
        return value if isinstance(value, str) else ""

    def _set(self, key: str, value: str) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()

    def _path(self, key: str) -> Path | None:
        text = self._text(key)
        return Path(text) if text else None

    def _set_path(self, key: str, path: Path | None) -> None:
        self._set(key, str(path) if path else "")

    @property
    def language(self) -> str:
        lang = self._text(_LANGUAGE)
        return lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE

    @language.setter
    def language(self, lang: str) -> None:
        if lang not in i18n.LANGUAGES:
            raise ValueError(f"unknown language {lang!r}")
        self._set(_LANGUAGE, lang)

    @property
    def last_file(self) -> Path | None:
        text = self._text(_LAST_FILE)
        return Path(text) if text else None

    @last_file.setter
    def last_file(self, path: Path | None) -> None:
        self._set(_LAST_FILE, str(path) if path else "")

    @property
    def organisation(self) -> str:
        return self._text(_ORGANISATION)

    @organisation.setter
    def organisation(self, name: str) -> None:
        self._set(_ORGANISATION, name.strip())

    @property
    def observer_name(self) -> str:
        return self._text(_OBSERVER_NAME)

    @observer_name.setter
    def observer_name(self, name: str) -> None:
        self._set(_OBSERVER_NAME, name.strip())

    @property
    def export_dir(self) -> Path | None:
        text = self._text(_EXPORT_DIR)
        return Path(text) if text else None

    @export_dir.setter
    def export_dir(self, path: Path | None) -> None:
        self._set(_EXPORT_DIR, str(path) if path else "")

    @property
    def org_public_key_path(self) -> Path | None:
        """The organisation's public key that observers seal their packages for."""
        return self._path(_ORG_PUBLIC_KEY)

    @org_public_key_path.setter
    def org_public_key_path(self, path: Path | None) -> None:
        self._set_path(_ORG_PUBLIC_KEY, path)

    @property
    def org_private_key_path(self) -> Path | None:
        """The organisation's private key file the coordinator opens sealed packages with.

        Only the path is remembered; the key itself is read from the file at each merge.
        """
        return self._path(_ORG_PRIVATE_KEY)

    @org_private_key_path.setter
    def org_private_key_path(self, path: Path | None) -> None:
        self._set_path(_ORG_PRIVATE_KEY, path)

    @property
    def encrypt_exports(self) -> bool:
        return self._text(_ENCRYPT_EXPORTS) == "1"

    @encrypt_exports.setter
    def encrypt_exports(self, on: bool) -> None:
        self._set(_ENCRYPT_EXPORTS, "1" if on else "0")

    def last_folder(self, purpose: str) -> Path | None:
        """The folder the last file dialog of ``purpose`` (photos, export, csv ...) was left in."""
        if purpose == "export":
            return self.export_dir
        return self._path(_FOLDERS + purpose)

    def remember_folder(self, purpose: str, folder: Path) -> None:
        if purpose == "export":
            self.export_dir = folder
        else:
            self._set_path(_FOLDERS + purpose, folder)
