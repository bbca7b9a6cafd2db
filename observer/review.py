"""Review before export: everything an observer left open or that does not add up.

``review_items`` lists, in page order, every empty reporting time, failed control
relation, empty protocol line, failed plausibility cross-check, violation without
a category and unanswered checklist question, each with the page and field it
belongs to (so the UI can jump there). ``progress`` counts the same things for the
marks in the page list.

An export with open items needs a typed reason. The reason and the items travel
in the package as the station file's meta value ``REVIEW_META_KEY`` (JSON, see
``review_json``); a coordinator reads it back with ``parse_review``, which treats
it as hostile input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from observer.checks import Status, involved_keys, run_checks
from observer.i18n import current_language, tr
from observer.plausibility import PROTOCOL, TURNOUT, DayFigures, Finding, all_findings
from observer.records import PROTOCOL_SOURCES
from observer.template import ElectionTemplate

REVIEW_META_KEY = "export_review"
REVIEW_FORMAT = 1
MIN_REASON = 5  # characters: a deliberate sentence, not a stray key press
MAX_REASON = 2000
# Bounds that keep a review well under a package's 100,000-character text limit.
MAX_ITEMS = 200
MAX_ITEM_TEXT = 400

SETUP, SPOILED, VIOLATIONS, CHECKLISTS = "setup", "spoiled", "violations", "checklists"
PAGES: tuple[str, ...] = (SETUP, TURNOUT, PROTOCOL, SPOILED, VIOLATIONS, CHECKLISTS)

EMPTY_SLOT = "empty_slot"
CROSS_CHECK = "cross_check"
NO_PROTOCOL = "no_protocol"
RELATION = "relation"
RELATION_WARNING = "relation_warning"
EMPTY_LINE = "empty_line"
NO_CATEGORY = "no_category"
UNANSWERED = "unanswered"
KINDS: frozenset[str] = frozenset(
    {EMPTY_SLOT, CROSS_CHECK, NO_PROTOCOL, RELATION, RELATION_WARNING, EMPTY_LINE, NO_CATEGORY, UNANSWERED}
)


@dataclass(frozen=True)
class DayRecord:
    """What the review reads: the day's figures plus checklists and violations."""

    figures: DayFigures
    checklists: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)  # checklist -> question -> answer
    violations: Sequence[tuple[str, str]] = ()  # (violation id, category code)


@dataclass(frozen=True)
class ReviewItem:
    kind: str
    page: str
    target: str  # the field: a reporting time, "<source>:<line>", "<checklist>:<question>", a violation id
    text: str  # in the language of the review

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "page": self.page, "target": self.target, "text": self.text}


@dataclass(frozen=True)
class Progress:
    """Counts behind the marks in the page list."""

    slots_filled: int
    slots_total: int
    broken: int  # failed control relations (error severity), every protocol version
    empty_lines: int
    protocol_started: bool
    answered: int
    questions: int
    uncategorised: int
    warnings: Mapping[str, int]  # page -> failed cross-checks shown there


def _version(source: str, lang: str | None) -> str:
    return tr(f"review.source.{source}", lang)


def _finding_item(finding: Finding, lang: str | None) -> ReviewItem:
    return ReviewItem(CROSS_CHECK, finding.page, finding.target, finding.text(lang))


def _protocol_items(
    template: ElectionTemplate, source: str, values: Mapping[str, int | None], lang: str | None
) -> list[ReviewItem]:
    out: list[ReviewItem] = []
    order = template.all_keys
    version = _version(source, lang)
    for outcome in run_checks(template, values):
        if outcome.status is not Status.FAILED:
            continue
        keys = [k for k in order if k in involved_keys(outcome, template.party_keys)]
        kind = RELATION_WARNING if outcome.check.severity == "warning" else RELATION
        text = tr(f"review.item.{kind}", lang, version=version, text=outcome.describe(template, lang))
        out.append(ReviewItem(kind, PROTOCOL, f"{source}:{keys[-1] if keys else ''}", text))
    for key in order:
        if values.get(key) is None:
            text = tr("review.item.empty_line", lang, version=version, line=template.label(key, lang))
            out.append(ReviewItem(EMPTY_LINE, PROTOCOL, f"{source}:{key}", text))
    return out


def review_items(template: ElectionTemplate, day: DayRecord, lang: str | None = None) -> list[ReviewItem]:
    """Every open item of the day, in the order of the pages."""
    lang = lang or current_language()
    figures = day.figures
    findings = all_findings(template, figures)
    out: list[ReviewItem] = []
    for slot in template.reporting_times:
        if figures.announced.get(slot) is None:
            out.append(ReviewItem(EMPTY_SLOT, TURNOUT, slot, tr("review.item.empty_slot", lang, slot=slot)))
    out.extend(_finding_item(f, lang) for f in findings if f.page == TURNOUT)
    if PROTOCOL_SOURCES[0] not in figures.protocols:
        version = _version(PROTOCOL_SOURCES[0], lang)
        out.append(
            ReviewItem(
                NO_PROTOCOL, PROTOCOL, f"{PROTOCOL_SOURCES[0]}:", tr("review.item.no_protocol", lang, version=version)
            )
        )
    for source in PROTOCOL_SOURCES:
        values = figures.protocols.get(source)
        if values is not None:
            out.extend(_protocol_items(template, source, values, lang))
            out.extend(
                _finding_item(f, lang) for f in findings if f.page == PROTOCOL and f.params.get("source") == source
            )
    for vid, category in day.violations:
        if template.category(category) is None:
            out.append(ReviewItem(NO_CATEGORY, VIOLATIONS, vid, tr("review.item.no_category", lang)))
    for checklist, questions in (("opening", template.opening_checklist), ("closing", template.closing_checklist)):
        answers = day.checklists.get(checklist, {})
        for q in questions:
            if answers.get(q.key) is None:
                text = tr(f"review.item.unanswered.{checklist}", lang, question=q.labels.get(lang))
                out.append(ReviewItem(UNANSWERED, CHECKLISTS, f"{checklist}:{q.key}", text))
    return out


def progress(template: ElectionTemplate, day: DayRecord) -> Progress:
    figures = day.figures
    broken = 0
    empty = 0
    for source, values in figures.protocols.items():
        broken += sum(1 for o in run_checks(template, values) if o.failed and o.check.severity != "warning")
        if source == PROTOCOL_SOURCES[0]:
            empty = sum(1 for k in template.all_keys if values.get(k) is None)
    questions = [
        (c, q.key)
        for c, qs in (("opening", template.opening_checklist), ("closing", template.closing_checklist))
        for q in qs
    ]
    answered = sum(1 for c, q in questions if day.checklists.get(c, {}).get(q) is not None)
    warnings: dict[str, int] = {}
    for f in all_findings(template, figures):
        warnings[f.page] = warnings.get(f.page, 0) + 1
        if f.rule == "tally_vs_invalid":
            warnings[SPOILED] = warnings.get(SPOILED, 0) + 1
    return Progress(
        slots_filled=sum(1 for s in template.reporting_times if figures.announced.get(s) is not None),
        slots_total=len(template.reporting_times),
        broken=broken,
        empty_lines=empty if PROTOCOL_SOURCES[0] in figures.protocols else len(template.all_keys),
        protocol_started=PROTOCOL_SOURCES[0] in figures.protocols,
        answered=answered,
        questions=len(questions),
        uncategorised=sum(1 for _vid, c in day.violations if template.category(c) is None),
        warnings=warnings,
    )


# ---- what travels in the package -------------------------------------------------


@dataclass(frozen=True)
class ExportReview:
    """The review as exported: the observer's reason for exporting anyway and the open items."""

    reviewed_at: str
    lang: str
    reason: str
    items: tuple[ReviewItem, ...]


def review_json(items: Sequence[ReviewItem], reason: str, at: datetime, lang: str) -> str:
    body = {
        "format": REVIEW_FORMAT,
        "reviewed_at": at.isoformat(timespec="seconds"),
        "lang": lang,
        "reason": reason.strip()[:MAX_REASON],
        "items": [{**item.to_json(), "text": item.text[:MAX_ITEM_TEXT]} for item in items[:MAX_ITEMS]],
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True)


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError("not a short text")
    return value


def parse_review(text: str) -> ExportReview:
    """Read a review from a package; ValueError on anything that is not exactly what we write."""
    try:
        body = json.loads(text)
    except RecursionError:  # a hostile file nested a few thousand levels deep
        raise ValueError("too deep") from None
    if not isinstance(body, dict) or body.get("format") != REVIEW_FORMAT:
        raise ValueError("not a review")
    raw_items = body.get("items")
    if not isinstance(raw_items, list) or len(raw_items) > MAX_ITEMS:
        raise ValueError("items")
    items = []
    for raw in raw_items:
        if not isinstance(raw, dict) or set(raw) != {"kind", "page", "target", "text"}:
            raise ValueError("item")
        kind, page = _text(raw["kind"], 40), _text(raw["page"], 40)
        if kind not in KINDS or page not in PAGES:
            raise ValueError("item kind")
        items.append(ReviewItem(kind, page, _text(raw["target"], 200), _text(raw["text"], MAX_ITEM_TEXT)))
    return ExportReview(
        reviewed_at=_text(body.get("reviewed_at"), 40),
        lang=_text(body.get("lang"), 8),
        reason=_text(body.get("reason"), MAX_REASON),
        items=tuple(items),
    )
