"""Inclusion rules: which submitted protocols a coordinator lets count in aggregates.

The rules live in the HQ file (meta key ``inclusion_rules``, JSON) so that every
aggregate, table and report computed from that file uses the same rules, and
``describe()`` gives the one sentence printed next to each of them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from db.store import ElectionStore
from observer.errors import StorageError
from observer.i18n import tr

META_KEY = "inclusion_rules"


@dataclass(frozen=True)
class InclusionRules:
    """All False (the default) means every received protocol counts."""

    only_trusted_keys: bool = False
    require_protocol_photo: bool = False
    exclude_failed_checks: bool = False

    @property
    def active(self) -> bool:
        return self.only_trusted_keys or self.require_protocol_photo or self.exclude_failed_checks

    def describe(self, lang: str | None = None) -> str:
        """One translated sentence saying what counts, for tables and the report."""
        if not self.active:
            return tr("package.rules.all", lang)
        parts = []
        if self.only_trusted_keys:
            parts.append(tr("package.rules.trusted", lang))
        if self.require_protocol_photo:
            parts.append(tr("package.rules.photo", lang))
        if self.exclude_failed_checks:
            parts.append(tr("package.rules.checks", lang))
        return tr("package.rules.some", lang, conditions="; ".join(parts))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> InclusionRules:
        try:
            data = json.loads(text)
        except ValueError:
            raise StorageError("package.rules.bad", problem="JSON") from None
        if not isinstance(data, dict):
            raise StorageError("package.rules.bad", problem="JSON")
        values: dict[str, bool] = {}
        for f in fields(cls):
            if f.name in data:
                value = data[f.name]
                if not isinstance(value, bool):
                    raise StorageError("package.rules.bad", problem=f.name)
                values[f.name] = value
        # Unknown keys are ignored: a newer Baqylau may have added rules this one cannot apply.
        return cls(**values)


def load_rules(hq: ElectionStore) -> InclusionRules:
    text = hq.meta(META_KEY)
    return InclusionRules.from_json(text) if text else InclusionRules()


def save_rules(hq: ElectionStore, rules: InclusionRules) -> None:
    hq.set_meta(META_KEY, rules.to_json())


def describe(rules: InclusionRules, lang: str | None = None) -> str:
    return rules.describe(lang)
