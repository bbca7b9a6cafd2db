"""Plausibility cross-checks between the figures an observer types on different pages.

Control relations (observer/checks.py) hold inside one protocol by law. These
rules compare figures from different sources (set-up, the commission's hourly
announcements, the observer's own head-count, the invalid-ballot tally, the final
protocol). A finding is a warning to look again, never a refusal: the commission
may really have announced a figure that cannot be right, and that is evidence.

Thresholds are this project's own choice (no law sets them): a gap between two
counts of the same voters is "big" when it is at least ``MIN_GAP_VOTERS`` voters
and more than ``GAP_SHARE`` of the larger count. The observer's head-count misses
voters now and then and never sees the mobile box, so small gaps are normal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from observer.expressions import Term
from observer.fmt import Formatter, formatter
from observer.i18n import current_language, tr
from observer.records import PROTOCOL_SOURCES
from observer.template import ElectionTemplate

MIN_GAP_VOTERS = 10
GAP_SHARE = 0.10

TURNOUT = "turnout"
PROTOCOL = "protocol"
SPOILED = "spoiled"


def big_gap(first: int | None, second: int | None) -> bool:
    """Two counts of the same voters differ by more than a head-count's usual slack."""
    if first is None or second is None:
        return False
    diff = abs(first - second)
    return diff >= MIN_GAP_VOTERS and diff > GAP_SHARE * max(first, second)


@dataclass(frozen=True)
class DayFigures:
    """Every number one observer typed for one station, as plain values."""

    registered: int | None = None  # voters on the list, from set-up
    announced: Mapping[str, int | None] = field(default_factory=dict)  # slot -> commission figure
    headcount: int = 0  # the observer's own count of voters
    protocols: Mapping[str, Mapping[str, int | None]] = field(default_factory=dict)  # source -> line values
    tally: Mapping[str, int] = field(default_factory=dict)  # invalid-ballot reason -> ballots


@dataclass(frozen=True)
class Finding:
    """One failed cross-check: where to show it and the numbers that disagree."""

    rule: str
    page: str  # TURNOUT | PROTOCOL | SPOILED
    target: str  # a reporting time, "<source>:<line key>", or "" for the page as a whole
    params: Mapping[str, object]  # numbers and reporting times, as shown in the message

    def text(self, lang: str | None = None) -> str:
        """The warning in ``lang``, its numbers written as the language writes them (10 000 / 10,000)."""
        fmt = formatter(lang or current_language())  # formatter(None) is cached: the language at first call
        params: dict[str, object] = {key: _shown(fmt, key, value) for key, value in self.params.items()}
        source = self.params.get("source")
        if isinstance(source, str):
            params["version"] = tr(f"review.source.{source}", lang)
        return tr(f"review.plaus.{self.rule}", lang, **params)


def _shown(fmt: Formatter, key: str, value: object) -> object:
    """A finding's parameter as text: whole numbers grouped, the share of the list as a percentage."""
    if key == "pct":
        return fmt.pct(float(value) if isinstance(value, int | float) else None, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # reporting times, protocol sources
    return fmt.integer(value)


def _field(term: Term) -> str:
    """The protocol line a warning about ``term`` is shown beside (its first line, in a stable order)."""
    return min(term.names) if term.names else ""


def _ordered_announced(template: ElectionTemplate, announced: Mapping[str, int | None]) -> list[tuple[str, int]]:
    return [(slot, v) for slot in template.reporting_times if (v := announced.get(slot)) is not None]


def turnout_findings(template: ElectionTemplate, day: DayFigures) -> list[Finding]:
    """Announced figures within the list, and never going down over the day."""
    out: list[Finding] = []
    registered = day.registered
    if registered is None:
        posted = day.protocols.get("posted_copy", {})
        registered = template.registered.evaluate(posted, template.party_keys)
    best: tuple[str, int] | None = None
    for slot, value in _ordered_announced(template, day.announced):
        if registered is not None and value > registered:
            pct = 100.0 * value / registered if registered else None
            out.append(
                Finding(
                    "turnout_over_list",
                    TURNOUT,
                    slot,
                    {"slot": slot, "announced": value, "registered": registered, "pct": pct},
                )
            )
        if best is not None and value < best[1]:
            params = {
                "slot": slot,
                "announced": value,
                "earlier_slot": best[0],
                "earlier": best[1],
            }
            out.append(Finding("turnout_decrease", TURNOUT, slot, params))
        if best is None or value >= best[1]:
            best = (slot, value)
    return out


def protocol_findings(template: ElectionTemplate, day: DayFigures, source: str) -> list[Finding]:
    """One protocol version against set-up, the head-count, the announcements and the tally."""
    values = day.protocols.get(source)
    if values is None:
        return []
    keys = template.party_keys
    out: list[Finding] = []
    registered = template.registered.evaluate(values, keys)
    if registered is not None and day.registered is not None and registered != day.registered:
        out.append(
            Finding(
                "registered_mismatch",
                PROTOCOL,
                f"{source}:{_field(template.registered)}",
                {"source": source, "protocol": registered, "setup": day.registered},
            )
        )
    voted = template.voted.evaluate(values, keys)
    voted_at = f"{source}:{_field(template.voted)}"
    if voted is not None and day.headcount > 0 and big_gap(voted, day.headcount):
        params = {
            "source": source,
            "issued": voted,
            "headcount": day.headcount,
            "diff": abs(voted - day.headcount),
        }
        out.append(Finding("headcount_vs_issued", PROTOCOL, voted_at, params))
    announced = _ordered_announced(template, day.announced)
    if voted is not None and announced:
        slot, top = max(announced, key=lambda pair: pair[1])
        if voted < top:
            params = {"source": source, "issued": voted, "slot": slot, "announced": top}
            out.append(Finding("issued_below_announced", PROTOCOL, voted_at, params))
    invalid = template.invalid.evaluate(values, keys)
    tallied = sum(day.tally.values())
    if invalid is not None and tallied > 0 and tallied != invalid:
        params = {"source": source, "tally": tallied, "invalid": invalid, "diff": abs(tallied - invalid)}
        out.append(Finding("tally_vs_invalid", PROTOCOL, f"{source}:{_field(template.invalid)}", params))
    return out


def _source_order(source: str) -> tuple[int, str]:
    return (PROTOCOL_SOURCES.index(source) if source in PROTOCOL_SOURCES else len(PROTOCOL_SOURCES), source)


def all_findings(template: ElectionTemplate, day: DayFigures) -> list[Finding]:
    """Every failed cross-check of the day, turnout first, then each protocol version."""
    out = turnout_findings(template, day)
    for source in sorted(day.protocols, key=_source_order):
        out.extend(protocol_findings(template, day, source))
    return out
