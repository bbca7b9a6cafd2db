"""Plausibility cross-checks and the review before export (pure rules, no Qt, no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from observer.plausibility import DayFigures, all_findings, big_gap, protocol_findings, turnout_findings
from observer.review import (
    CROSS_CHECK,
    EMPTY_LINE,
    EMPTY_SLOT,
    NO_CATEGORY,
    NO_PROTOCOL,
    RELATION,
    UNANSWERED,
    DayRecord,
    parse_review,
    progress,
    review_items,
    review_json,
)

# A posted copy where every control relation of kz-majilis-2021 holds.
GOOD = {
    "registered": 1500,
    "received": 1500,
    "issued": 900,
    "issued_outside": 20,
    "cancelled": 590,
    "spoiled": 10,
    "in_boxes": 900,
    "invalid": 50,
    "valid": 850,
    "nur_otan": 500,
    "ak_zhol": 200,
    "qhp": 100,
    "auyl": 30,
    "adal": 20,
}
SLOTS = {"10:00": 120, "12:00": 300, "14:00": 450, "16:00": 600, "18:00": 780, "20:00": 890}


def rules(findings) -> list[tuple[str, str]]:
    return [(f.rule, f.target) for f in findings]


def test_big_gap_needs_both_voters_and_share() -> None:
    assert big_gap(50, 20)  # the example: 30 voters, 60 %
    assert not big_gap(905, 900)  # 5 voters
    assert not big_gap(1000, 915)  # 85 voters but 8.5 %
    assert big_gap(1000, 880)
    assert not big_gap(None, 20)


def test_announced_over_the_list_and_going_down(template_2021) -> None:
    day = DayFigures(registered=1500, announced={"10:00": 300, "12:00": 2000, "14:00": 100, "16:00": 1400})
    found = turnout_findings(template_2021, day)
    assert rules(found) == [
        ("turnout_over_list", "12:00"),
        ("turnout_decrease", "14:00"),
        ("turnout_decrease", "16:00"),
    ]
    assert (
        found[0].text("en") == "12:00: the commission announced 2,000, more than the 1,500 voters on the list (133%)."
    )
    # Numbers as each language writes them (observer/fmt.py): grouped with a no-break space in ru and kk.
    assert "2\u00a0000" in found[0].text("ru") and "(133\u00a0%)" in found[0].text("ru")
    assert "2\u00a0000" in found[1].text("ru") and "12:00" in found[1].text("kk")
    assert "1\u00a0500" in found[0].text("kk")
    # A rising day within the list says nothing.
    assert turnout_findings(template_2021, DayFigures(registered=1500, announced=SLOTS)) == []


def test_list_size_comes_from_the_protocol_when_set_up_has_none(template_2021) -> None:
    day = DayFigures(announced={"10:00": 1600}, protocols={"posted_copy": {"registered": 1500}})
    assert rules(turnout_findings(template_2021, day)) == [("turnout_over_list", "10:00")]


def test_protocol_against_set_up_head_count_announcements_and_tally(template_2021) -> None:
    values = dict(GOOD, registered=1400)
    day = DayFigures(
        registered=1500,
        announced={"18:00": 950},
        headcount=700,
        protocols={"posted_copy": values},
        tally={"BLANK": 30, "TORN": 5},
    )
    found = protocol_findings(template_2021, day, "posted_copy")
    assert rules(found) == [
        ("registered_mismatch", "posted_copy:registered"),
        ("headcount_vs_issued", "posted_copy:issued"),
        ("issued_below_announced", "posted_copy:issued"),
        ("tally_vs_invalid", "posted_copy:invalid"),
    ]
    texts = [f.text("en") for f in found]
    assert texts[0] == "Protocol (posted copy): 1,400 voters on the list, but 1,500 in Set-up."
    assert "900" in texts[1] and "700" in texts[1] and "200" in texts[1]
    assert (
        texts[3]
        == "Protocol (posted copy): you tallied 35 invalid ballots by reason, the protocol says 50 (difference 15)."
    )
    # All agree: nothing.
    calm = DayFigures(
        registered=1500, announced=SLOTS, headcount=880, protocols={"posted_copy": GOOD}, tally={"BLANK": 50}
    )
    assert all_findings(template_2021, calm) == []


def test_no_tally_and_no_head_count_are_not_findings(template_2021) -> None:
    day = DayFigures(registered=1500, protocols={"posted_copy": GOOD})
    assert protocol_findings(template_2021, day, "posted_copy") == []
    assert protocol_findings(template_2021, day, "announced") == []  # a version never started


def full_record(template, **changes) -> DayRecord:
    checklists = {
        "opening": {q.key: "yes" for q in template.opening_checklist},
        "closing": {q.key: "yes" for q in template.closing_checklist},
    }
    figures = DayFigures(registered=1500, announced=SLOTS, headcount=880, protocols={"posted_copy": GOOD}, tally={})
    record = DayRecord(figures, checklists, [("v1", template.violation_categories[0].code)])
    for key, value in changes.items():
        record = DayRecord(**{**record.__dict__, key: value})
    return record


def test_a_complete_day_has_nothing_open(template_2021) -> None:
    record = full_record(template_2021)
    assert review_items(template_2021, record, "en") == []
    prog = progress(template_2021, record)
    assert (prog.slots_filled, prog.slots_total, prog.broken, prog.empty_lines) == (6, 6, 0, 0)
    assert (prog.answered, prog.questions, prog.uncategorised, dict(prog.warnings)) == (
        len(template_2021.opening_checklist) + len(template_2021.closing_checklist),
    ) * 2 + (0, {})


def test_every_kind_of_open_item_in_page_order(template_2021) -> None:
    broken = dict(GOOD, invalid=40)  # in_boxes 900 != valid 850 + invalid 40
    del broken["adal"]
    opening = {q.key: "yes" for q in template_2021.opening_checklist}
    first_q = template_2021.closing_checklist[0]
    figures = DayFigures(
        registered=1500,
        announced={"10:00": 2000},
        protocols={"posted_copy": broken},
    )
    record = DayRecord(figures, {"opening": opening, "closing": {}}, [("v9", "")])
    items = review_items(template_2021, record, "en")
    kinds = [(i.kind, i.page, i.target) for i in items]
    assert kinds[:5] == [(EMPTY_SLOT, "turnout", s) for s in ("12:00", "14:00", "16:00", "18:00", "20:00")]
    assert (CROSS_CHECK, "turnout", "10:00") in kinds
    assert (RELATION, "protocol", "posted_copy:valid") in kinds  # beside the last field of the relation
    assert (EMPTY_LINE, "protocol", "posted_copy:adal") in kinds
    assert (NO_CATEGORY, "violations", "v9") in kinds
    assert (UNANSWERED, "checklists", f"closing:{first_q.key}") in kinds
    pages = [i.page for i in items]
    assert pages == sorted(pages, key=["turnout", "protocol", "violations", "checklists"].index)
    relation = next(i for i in items if i.kind == RELATION)
    assert "900 ≠ 890 (difference 10)" in relation.text and relation.text.startswith("Protocol (posted copy): ")
    prog = progress(template_2021, record)
    assert (prog.slots_filled, prog.broken, prog.empty_lines, prog.uncategorised) == (1, 1, 1, 1)
    # valid == sum(parties) fails too: adal is empty, so that relation is incomplete, not failed.
    assert prog.broken == sum(1 for i in items if i.kind == RELATION)


def test_no_posted_copy_is_one_item_not_fourteen(template_2021) -> None:
    record = full_record(template_2021)
    record = DayRecord(DayFigures(registered=1500, announced=SLOTS), record.checklists, record.violations)
    items = review_items(template_2021, record, "kk")
    assert [(i.kind, i.target) for i in items] == [(NO_PROTOCOL, "posted_copy:")]
    assert "ілінген көшірме" in items[0].text


def test_review_travels_as_json_and_is_read_back_strictly(template_2021) -> None:
    record = full_record(template_2021, violations=[("v1", "")])
    items = review_items(template_2021, record, "ru")
    text = review_json(items, "  комиссия отказала в копии ", datetime(2021, 1, 10, 22, 40, tzinfo=UTC), "ru")
    review = parse_review(text)
    assert review.reason == "комиссия отказала в копии"
    assert review.items == tuple(items) and review.lang == "ru"
    assert review.reviewed_at == "2021-01-10T22:40:00+00:00"
    body = json.loads(text)
    cases: list[object] = [
        {**body, "format": 2},
        {**body, "items": [{"kind": "x", "page": "turnout", "target": "", "text": ""}]},
        {**body, "items": [{**body["items"][0], "extra": 1}]},
        {**body, "reason": 5},
        {**body, "reason": "x" * 3000},
        [],
    ]
    for bad in cases:
        with pytest.raises(ValueError):
            parse_review(json.dumps(bad))
    with pytest.raises(ValueError):
        parse_review("[" * 100_000)
    with pytest.raises(ValueError):
        parse_review("not json")


def test_protocol_warnings_and_review_items_group_thousands(template_2021) -> None:
    """The review lists a warning's numbers as the language writes them: 10 000 in ru/kk, 10,000 in en."""
    values = dict(GOOD, registered=14000)
    day = DayFigures(registered=12500, protocols={"posted_copy": values})
    (finding,) = protocol_findings(template_2021, day, "posted_copy")
    assert "14,000" in finding.text("en") and "12,500" in finding.text("en")
    assert "14\u00a0000" in finding.text("ru") and "12\u00a0500" in finding.text("kk")
    record = DayRecord(day)
    texts = {lang: [item.text for item in review_items(template_2021, record, lang)] for lang in ("ru", "en")}
    assert any("14\u00a0000" in t and "12\u00a0500" in t for t in texts["ru"])
    assert any("14,000" in t and "12,500" in t for t in texts["en"])


def test_a_warning_without_a_language_follows_the_current_one(template_2021) -> None:
    from observer import i18n

    day = DayFigures(registered=1500, announced={"12:00": 2000})
    [finding] = turnout_findings(template_2021, day)
    try:
        for lang, grouped in (("en", "2,000"), ("ru", "2\u00a0000"), ("en", "2,000")):
            i18n.set_language(lang)
            assert grouped in finding.text()
    finally:
        i18n.set_language("ru")
