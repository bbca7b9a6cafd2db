"""Control relations: the grammar, evaluation and the message an observer reads."""

from __future__ import annotations

import random

import pytest

from observer.checks import Status, failed_checks, percent, run_checks, turnout_pct
from observer.expressions import ExpressionError, parse_relation, parse_term

GOOD = dict(
    registered=1000,
    received=800,
    issued=600,
    issued_outside=20,
    cancelled=190,
    spoiled=10,
    in_boxes=600,
    invalid=20,
    valid=580,
    nur_otan=300,
    ak_zhol=100,
    qhp=80,
    auyl=55,
    adal=45,
)


def test_consistent_protocol_passes(template_2021) -> None:
    outcomes = run_checks(template_2021, GOOD)
    assert [o.status for o in outcomes] == [Status.OK] * len(template_2021.checks)
    assert turnout_pct(template_2021, GOOD) == pytest.approx(60.0)


def test_failure_names_lines_and_numbers(template_2021) -> None:
    values = GOOD | {"valid": 575}
    failed = failed_checks(template_2021, values)
    sources = {o.check.source for o in failed}
    # 600 in boxes vs 575 + 20, and 575 valid vs 580 party votes
    assert sources == {"in_boxes == valid + invalid", "valid == sum(parties)"}
    box = next(o for o in failed if o.check.source == "in_boxes == valid + invalid")
    assert (box.left, box.right) == (600, 595)
    assert box.keys == {"in_boxes", "valid", "invalid"}
    en = box.describe(template_2021, "en")
    assert en == "«Ballots found in the boxes» = «Valid ballots» + «Invalid ballots»: 600 ≠ 595 (difference 5)"
    assert "Жарамды бюллетеньдер саны" in box.describe(template_2021, "kk")
    assert "разница 5" in box.describe(template_2021, "ru")
    parties = next(o for o in failed if o.check.source == "valid == sum(parties)")
    assert "sum of party votes" in parties.describe(template_2021, "en")


def test_missing_value_is_incomplete_not_failed(template_2021) -> None:
    values = dict(GOOD)
    del values["adal"]
    out = {o.check.source: o for o in run_checks(template_2021, values)}
    assert out["valid == sum(parties)"].status is Status.INCOMPLETE
    assert out["in_boxes == valid + invalid"].status is Status.OK
    assert "not all lines" in out["valid == sum(parties)"].describe(template_2021, "en")


def test_inequalities(template_2021) -> None:
    over = GOOD | {"issued": 1001, "received": 1201}
    sources = {o.check.source for o in failed_checks(template_2021, over)}
    assert "issued <= registered" in sources
    msg = next(o for o in failed_checks(template_2021, over) if o.check.source == "issued <= registered")
    assert "1001 > 1000" in msg.describe(template_2021, "en")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "a ==",
        "a == b == c",
        "a < b if c else d",
        "a / b == c",
        "a == 1.5",
        "open('x') == a",
        "a.b == c",
        "[a] == b",
        "a ** 2 == b",
        "sum(x) == a",
        "a == True",
    ],
)
def test_grammar_refuses(bad: str) -> None:
    with pytest.raises(ExpressionError):
        parse_relation(bad)


def test_term_refuses_comparison() -> None:
    with pytest.raises(ExpressionError):
        parse_term("a == b")


def test_percent_edge_cases() -> None:
    assert percent(1, 0) is None
    assert percent(None, 10) is None
    assert percent(1, 4) == 25.0


def test_against_straightforward_reimplementation(template_2021) -> None:
    """Random protocols: our verdicts equal the rules written out by hand."""
    rnd = random.Random(7)
    keys = template_2021.all_keys
    for _ in range(500):
        v = {k: rnd.randint(0, 40) for k in keys}
        if rnd.random() < 0.5:  # make some of them consistent
            v["valid"] = sum(v[p] for p in template_2021.party_keys)
            v["in_boxes"] = v["valid"] + v["invalid"]
        expected = {
            "received == issued + cancelled + spoiled": v["received"] == v["issued"] + v["cancelled"] + v["spoiled"],
            "in_boxes <= issued": v["in_boxes"] <= v["issued"],
            "in_boxes == valid + invalid": v["in_boxes"] == v["valid"] + v["invalid"],
            "valid == sum(parties)": v["valid"] == sum(v[p] for p in template_2021.party_keys),
            "issued <= registered": v["issued"] <= v["registered"],
            "issued_outside <= issued": v["issued_outside"] <= v["issued"],
        }
        got = {o.check.source: o.status is Status.OK for o in run_checks(template_2021, v)}
        assert got == expected
