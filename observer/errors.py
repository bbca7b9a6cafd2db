"""Typed errors that carry a translatable message.

Every layer raises these; only the UI or the command line turns them into text,
in the user's language, with ``str(err)`` or ``err.message(lang)``.
"""

from __future__ import annotations

from observer.i18n import tr


class BaqylauError(Exception):
    """Base error: ``key`` names a message in resources/i18n, ``params`` fill it."""

    key = "error.generic"

    def __init__(self, key: str | None = None, /, **params: object) -> None:
        self.key = key or self.key
        self.params = params
        super().__init__(self.key)

    def message(self, lang: str | None = None) -> str:
        return tr(self.key, lang, **self.params)

    def __str__(self) -> str:
        return self.message()


class TemplateError(BaqylauError):
    """An election template file is broken."""

    key = "error.template"


class StorageError(BaqylauError):
    """The election file cannot be opened, written or upgraded."""

    key = "error.storage"


class EvidenceError(BaqylauError):
    """A photo or other evidence file is refused."""

    key = "error.evidence"


class PackageError(BaqylauError):
    """A station package is refused (corrupt, forged, unsafe, unsupported)."""

    key = "error.package"


class ImportDataError(BaqylauError):
    """A CSV or other import file is refused."""

    key = "error.import"
