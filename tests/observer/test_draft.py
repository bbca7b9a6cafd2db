"""`template new --from-csv`: guesses from realistic headers (ru cp1251, kk UTF-8), relations kept at 99%."""

from __future__ import annotations

import tomllib

import pytest

from observer.csvio import parse_csv
from observer.draft import MARK, classify, make_draft, open_questions, relations, slug
from observer.template import parse_template
from tests.fixtures.anyelection.make_ru_cik import ru_cik_csv

KK_HEADER = [
    "Облыс",
    "Аумақтық комиссия",
    "Учаске нөмірі",
    "Сайлаушылар тізіміне енгізілген сайлаушылар саны",
    "Алынған бюллетеньдер саны",
    "Бюллетень алған сайлаушылар саны",
    "Пайдаланылмаған бюллетеньдер саны",
    "Жәшіктерден табылған бюллетеньдер саны",
    "Жарамсыз бюллетеньдер саны",
    "Жарамды бюллетеньдер саны",
    "«AMANAT» партиясы",
    "«Ақ жол» партиясы",
    "«Ауыл» партиясы",
]


def kk_csv(n: int = 300) -> bytes:
    lines = [";".join(KK_HEADER)]
    for i in range(n):
        reg, rec = 1000 + i, 900 + i
        issued, boxes, invalid = 600 + i % 50, 600 + i % 50, 10 + i % 7
        valid = boxes - invalid
        a, b = valid // 2, valid // 4
        region = ("Алматы қаласы", "Түркістан облысы", "Ақмола облысы")[i % 3]
        lines.append(
            f"{region};ТСК №{i % 7 + 1};{i + 1};{reg};{rec};{issued};{rec - issued};{boxes};{invalid};{valid};{a};{b};{valid - a - b}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_russian_cik_header_in_cp1251() -> None:
    table = parse_csv(ru_cik_csv(400), "ru2018.csv")
    assert table.encoding == "cp1251"
    roles = [c.role for c in classify(table)]
    assert roles[:3] == ["station:region", "station:tik", "station:uik"]
    assert roles[3:15] == [
        "line:registered", "line:received", "line:issued_early", "line:issued_station", "line:issued_outside",
        "line:cancelled", "line:in_mobile", "line:in_stationary", "line:invalid", "line:valid", "line:lost",
        "line:unaccounted",
    ]  # fmt: skip
    assert roles[15:] == [
        "party:baburin_sergey_nikolaevich",
        "party:grudinin_pavel_nikolaevich",
        "party:zhirinovskiy_vladimir_volfovich",
        "party:putin_vladimir_vladimirovich",
    ]
    draft = make_draft(table, template_id="ru-2018", date="2018-03-18", country="RU")
    mapping = tomllib.loads(draft.mapping)
    assert mapping["station"]["code"] == ["Регион", "ТИК", "УИК"]  # UIK numbers repeat across regions
    assert mapping["encoding"] == "cp1251" and mapping["delimiter"] == ","
    exprs = [e for e, _, _ in draft.relations]
    assert "valid == sum(parties)" in exprs and "in_mobile + in_stationary == valid + invalid" in exprs
    template = parse_template(draft.template, "ru-2018.toml")  # a draft is a valid template as it is
    assert template.units is None and len(template.checks) == len(exprs)
    assert len(open_questions(draft.template)) >= len(template.lines) + len(template.parties)
    assert all(f"# {MARK}" in line for _, line in open_questions(draft.mapping))


def test_kazakh_header_in_utf8() -> None:
    table = parse_csv(kk_csv(), "kz.csv")
    assert table.encoding == "utf-8" and table.delimiter == ";"
    roles = [c.role for c in classify(table)]
    assert roles[:10] == [
        "station:region", "station:tik", "station:uik", "line:registered", "line:received", "line:issued",
        "line:cancelled", "line:in_boxes", "line:invalid", "line:valid",
    ]  # fmt: skip
    assert roles[10:] == ["party:amanat_partiyasy", "party:aq_zhol_partiyasy", "party:auyl_partiyasy"]
    draft = make_draft(table, template_id="kz-test", date="2021-01-10", country="KZ")
    assert tomllib.loads(draft.mapping)["station"]["code"] == ["Учаске нөмірі"]  # unique on its own
    template = parse_template(draft.template)
    assert template.label("registered", "kk").startswith("Сайлаушылар")
    assert template.units is not None and template.units.name == "kz"
    assert {"received == issued + cancelled", "in_boxes == valid + invalid", "valid == sum(parties)"} <= {
        e for e, _, _ in draft.relations
    }


def test_relations_are_proposed_only_where_they_hold_on_99_percent() -> None:
    import numpy as np

    valid = np.arange(100, 300, dtype=np.int64)
    a = valid // 2
    b = valid - a
    broken = b.copy()
    broken[:3] = 0  # 3 of 200 rows break it: 98.5% < 99%
    assert relations({"valid": valid, "a": a, "b": b}, ["a", "b"])[0][:2] == ("valid == sum(parties)", 1.0)
    assert relations({"valid": valid, "a": a, "b": broken}, ["a", "b"]) == []
    broken[1:3] = b[1:3]  # 1 in 200: 99.5%
    assert relations({"valid": valid, "a": a, "b": broken}, ["a", "b"])[0][1] == pytest.approx(0.995)


def test_keys_from_any_header() -> None:
    assert slug("Жириновский Владимир Вольфович", "x") == "zhirinovskiy_vladimir_volfovich"
    assert slug("«Ақ жол» партиясы", "x") == "aq_zhol_partiyasy"
    assert slug("123", "party_4") == "party_4"
    assert slug("Против всех", "x") == "protiv_vsekh"
