"""Control relations ("контрольные соотношения") applied to one protocol."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from observer.expressions import Term
from observer.i18n import tr
from observer.template import Check, ElectionTemplate

_SYMBOLS = {"==": "=", "!=": "≠", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}
_NEGATED = {"==": "≠", "!=": "=", "<=": ">", ">=": "<", "<": "≥", ">": "≤"}


class Status(str, Enum):
    OK = "ok"
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # a line it needs is still empty


@dataclass(frozen=True)
class CheckOutcome:
    check: Check
    status: Status
    left: int | None
    right: int | None

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED

    @property
    def keys(self) -> frozenset[str]:
        """Lines involved, so the UI can mark the fields next to the failure."""
        return self.check.relation.names

    def describe(self, template: ElectionTemplate, lang: str | None = None) -> str:
        """The rule in words with the numbers that disagree, in ``lang``."""
        rel = self.check.relation
        rule = rule_text(self.check, template, lang)
        if self.status is Status.FAILED:
            assert self.left is not None and self.right is not None
            return tr(
                "check.failed",
                lang,
                rule=rule,
                left=self.left,
                sign=_NEGATED[rel.op],
                right=self.right,
                diff=abs(self.left - self.right),
            )
        if self.status is Status.INCOMPLETE:
            return tr("check.incomplete", lang, rule=rule)
        return tr("check.ok", lang, rule=rule)


def rule_text(check: Check, template: ElectionTemplate, lang: str | None = None) -> str:
    """The control relation in words: the template's own wording, or its lines' labels."""
    if check.labels is not None:
        return check.labels.get(lang)
    rel = check.relation
    return f"{_words(rel.left, template, lang)} {_SYMBOLS[rel.op]} {_words(rel.right, template, lang)}"


def _words(term: Term, template: ElectionTemplate, lang: str | None) -> str:
    text = ast.unparse(term.node)
    text = text.replace("sum(parties)", tr("check.sum_parties", lang))

    def label(match: re.Match[str]) -> str:
        key = match.group(0)
        try:
            return "«" + template.label(key, lang) + "»"
        except KeyError:
            return key

    return re.sub(r"\b[a-z][a-z0-9_]*\b", label, text)


def involved_keys(outcome: CheckOutcome, party_keys: tuple[str, ...]) -> frozenset[str]:
    """Fields a control relation reads, with every party when it uses sum(parties)."""
    keys = set(outcome.keys)
    if outcome.check.relation.uses_parties:
        keys.update(party_keys)
    return frozenset(keys)


def run_checks(template: ElectionTemplate, values: Mapping[str, int | None]) -> list[CheckOutcome]:
    """Evaluate every control relation of the template on one protocol's values."""
    out: list[CheckOutcome] = []
    for check in template.checks:
        holds, left, right = check.relation.evaluate(values, template.party_keys)
        status = Status.INCOMPLETE if holds is None else (Status.OK if holds else Status.FAILED)
        out.append(CheckOutcome(check, status, left, right))
    return out


def failed_checks(template: ElectionTemplate, values: Mapping[str, int | None]) -> list[CheckOutcome]:
    return [o for o in run_checks(template, values) if o.failed]


def percent(part: int | float | None, whole: int | float | None) -> float | None:
    """part / whole in percent, or None when it cannot be computed."""
    if part is None or whole is None or whole <= 0:
        return None
    return 100.0 * part / whole


def turnout_pct(template: ElectionTemplate, values: Mapping[str, int | None]) -> float | None:
    return percent(
        template.voted.evaluate(values, template.party_keys), template.registered.evaluate(values, template.party_keys)
    )
