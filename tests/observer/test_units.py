"""Administrative units from data: dates, ISO codes that changed hands, free names, clocks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from observer.errors import TemplateError
from observer.i18n import Msg
from observer.template import builtin_template, parse_template
from observer.units import UnitResolver, builtin_units, local_time, parse_units

KZ = builtin_units("kz")


def test_kazakhstan_has_16_17_and_20_units_by_date() -> None:
    assert len(KZ.on("2016-03-20")) == 16  # South Kazakhstan still whole (Shymkent inside it)
    assert len(KZ.on("2018-06-18")) == 16 and len(KZ.on("2018-06-19")) == 17
    assert len(KZ.on("2021-01-10")) == 17
    assert len(KZ.on("2022-06-07")) == 17 and len(KZ.on("2022-06-08")) == 20
    codes_2016 = {u.code for u in KZ.on("2016-03-20")}
    assert "KZ-YUZ-1992" in codes_2016 and "KZ-SHY" not in codes_2016 and "KZ-YUZ" not in codes_2016


def test_south_kazakhstan_accepted_in_2016_refused_in_2021_with_the_dates() -> None:
    r2016 = UnitResolver(KZ, "2016-03-20")
    assert r2016.code("Южно-Казахстанская область") == "KZ-YUZ-1992"
    assert r2016.code("ЮКО") == "KZ-YUZ-1992"
    assert r2016.code("KZ-YUZ") == "KZ-YUZ-1992"  # the ISO code a file of 2016 writes
    assert r2016.code("Туркестанская область") is None

    r2021 = UnitResolver(KZ, "2021-01-10")
    assert r2021.code("Южно-Казахстанская область") is None
    assert r2021.code("KZ-YUZ") == "KZ-YUZ"  # Turkistan region since 19 June 2018
    why = r2021.refusal("Южно-Казахстанская область", "Область")
    assert why.key == "units.refused.gone"
    text = why.render("ru")
    assert "2018-06-18" in text and "2021-01-10" in text and "Туркестанская область" in text and "Шымкент" in text
    assert "2018-06-18" in why.render("kk") and "until 2018-06-18" in why.render("en")


def test_units_created_later_are_explained_too() -> None:
    r2016 = UnitResolver(KZ, "2016-03-20")
    why = r2016.refusal("г. Шымкент", "Регион")
    assert why.key == "units.refused.not_yet"
    assert "2018-06-19" in why.render("en") and "South Kazakhstan" in why.render("en")
    assert UnitResolver(KZ, "2021-01-10").refusal("Абай облысы", "Облыс").key == "units.refused.not_yet"
    assert UnitResolver(KZ, "2021-01-10").refusal("Марс", "Облыс").key == "coord.row.unknown_region"


def test_without_units_any_name_is_a_region_normalized() -> None:
    r = UnitResolver(None, "2018-03-18")
    assert r.code("Город Москва") == "Город Москва"
    assert r.code("  город\u00a0москва ") == "Город Москва"  # the first spelling met stands for all
    assert r.code("Республика Саха (Якутия)") == "Республика Саха (Якутия)"
    assert r.code("   ") is None
    assert r.code("x" * 300) is None
    assert r.refusal("x" * 300, "Регион").key == "units.refused.too_long"


def test_clocks_follow_the_units_file() -> None:
    assert KZ.utc_offset("KZ-KZY", datetime(2016, 3, 20, 12, tzinfo=UTC)) == 6  # Kyzylorda before Dec 2018
    assert KZ.utc_offset("KZ-KZY", datetime(2021, 1, 10, 12, tzinfo=UTC)) == 5
    assert KZ.utc_offset("KZ-ALA", datetime(2024, 3, 19, tzinfo=UTC)) == 5
    assert local_time(KZ, "KZ-AST", datetime(2021, 1, 10, 14, tzinfo=UTC)).hour == 20
    assert local_time(None, "Город Москва", datetime(2021, 1, 10, 14, tzinfo=UTC)).tzinfo is not None


def test_template_units_section() -> None:
    base = builtin_template("kz-majilis-2021")
    assert base.units is KZ and base.national_name("ru") == "Казахстан (все участки)"
    text = base.source_text.replace('country = "KZ"', 'country = "RU"')
    assert parse_template(text).units is None  # a foreign template without units: free names
    own = text.replace(
        "[turnout]",
        '[units]\nnational = { ru = "Россия (все участки)" }\nutc_offset = 3\n'
        '[[units.list]]\ncode = "RU-MOW"\nru = "Город Москва"\naliases = ["Москва"]\n\n[turnout]',
        1,
    )
    t = parse_template(own)
    assert t.national_name("ru") == "Россия (все участки)" and t.utc_offset == 3
    noon = datetime(2018, 3, 18, 9, tzinfo=UTC)
    assert t.station_time(noon, "RU-MOW").hour == 12  # the template's clock when its units give none
    assert base.station_time(noon, "KZ-ZAP").hour == 14 and base.station_time(noon, "KZ-ALA").hour == 15
    assert t.units is not None and UnitResolver(t.units, t.date).code("москва") == "RU-MOW"
    with pytest.raises(TemplateError) as err:
        parse_template(text.replace("[turnout]", '[units]\nfile = "mars"\n\n[turnout]', 1))
    assert "mars" in str(err.value)
    with pytest.raises(TemplateError):
        parse_template(text.replace("[turnout]", "[units]\nutc_offset = 99\n\n[turnout]", 1))


def test_a_broken_units_list_is_refused_naming_the_entry() -> None:
    def fail(where: str, problem: Msg) -> Exception:
        return ValueError(f"{where}: {problem.key}")

    with pytest.raises(ValueError, match=r"units.list\[2\].code: template.problem.twice"):
        parse_units({"list": [{"code": "A", "ru": "А"}, {"code": "a", "ru": "Б"}]}, fail)
    with pytest.raises(ValueError, match="bad_date"):
        parse_units({"list": [{"code": "A", "ru": "А", "valid_to": "2018-13-01"}]}, fail)
    with pytest.raises(ValueError, match="no_label"):
        parse_units({"list": [{"code": "A"}]}, fail)


@pytest.mark.parametrize(
    "text",
    [
        "2021-01-10",
        "2021-1-5",
        "2020-02-29",
        "2021-02-29",
        "2021-13-01",
        "2021-00-10",
        "21-01-10",
        "2021-01-10x",
        "",
        "x",
    ],
)
def test_a_units_date_is_what_strptime_takes(text: str) -> None:
    """units._is_date reads dates without importing _strptime (start-up time): the same answers."""
    from observer.units import _is_date

    try:
        datetime.strptime(text, "%Y-%m-%d")
        expected = True
    except ValueError:
        expected = False
    assert _is_date(text) is expected
