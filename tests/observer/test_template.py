from __future__ import annotations

import pytest

from observer.errors import TemplateError
from observer.template import BUILTIN_TEMPLATES, builtin_template, load_template, parse_template

MINIMAL = """
id = "t"
[name]
en = "Test"
[turnout]
voted = "issued"
registered = "registered"
reporting_times = ["10:00", "12:00"]
[results]
share_base = "valid"
ballots_cast = "in_boxes"
invalid = "invalid"
threshold_pct = 5
[[lines]]
key = "registered"
en = "Registered"
[[lines]]
key = "issued"
en = "Issued"
[[lines]]
key = "in_boxes"
en = "In boxes"
[[lines]]
key = "invalid"
en = "Invalid"
[[lines]]
key = "valid"
en = "Valid"
[[parties]]
key = "a"
en = "A"
[[checks]]
expr = "in_boxes == valid + invalid"
[[violation_categories]]
code = "OTHER"
en = "Other"
[[spoiled_reasons]]
code = "BLANK"
en = "Blank"
"""


@pytest.mark.parametrize("tid", BUILTIN_TEMPLATES)
def test_builtin_templates_parse(tid: str) -> None:
    t = builtin_template(tid)
    assert t.id == tid
    assert {"registered", "issued", "in_boxes", "invalid", "valid"} <= set(t.line_keys)
    assert len(t.violation_categories) == 20
    for item in (*t.lines, *t.parties, *t.violation_categories):
        for lang in ("ru", "kk", "en"):
            assert item.labels.values.get(lang), (tid, item, lang)


def test_thresholds() -> None:
    assert builtin_template("kz-majilis-2021").threshold_pct == 7
    assert builtin_template("kz-majilis-2023").threshold_pct == 5
    assert builtin_template("kz-majilis-2021").party_keys == ("nur_otan", "ak_zhol", "qhp", "auyl", "adal")


def test_minimal_template() -> None:
    t = parse_template(MINIMAL, "t.toml")
    assert t.reporting_times == ("10:00", "12:00")
    assert t.checks[0].relation.op == "=="


def _last_line_with(text: str, needle: str) -> int:
    return max(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('expr = "in_boxes == valid + invalid"', 'expr = "in_boxes == valid + spoilt"', "spoilt"),
        ('key = "issued"', 'key = "Issued Ballots"', "Issued Ballots"),
        ('expr = "in_boxes == valid + invalid"', "expr = \"__import__('os') == valid\"", "not allowed"),
        ("threshold_pct = 5", 'threshold_pct = "5"', "percent"),
        ('["10:00", "12:00"]', '["12:00", "10:00"]', "order"),
        ('key = "valid"', 'key = "invalid"', "twice"),
        ("[[parties]]", "[[parties]", "TOML"),
    ],
)
def test_broken_template_names_line(old: str, new: str, fragment: str) -> None:
    broken = MINIMAL.replace(old, new)
    with pytest.raises(TemplateError) as info:
        parse_template(broken, "t.toml")
    text = info.value.message("en")
    assert f"line {_last_line_with(broken, new)}:" in text, text
    assert fragment in text


def test_template_file_errors(tmp_path) -> None:
    p = tmp_path / "x.toml"
    p.write_bytes(b"\xff\xfe bad")
    with pytest.raises(TemplateError, match="UTF-8"):
        load_template(p)
    with pytest.raises(TemplateError) as info:
        load_template(tmp_path / "missing.toml")
    assert "missing.toml" in info.value.message("en")


@pytest.mark.parametrize(
    ("old", "new", "ru", "kk"),
    [
        ('key = "valid"', 'key = "invalid"', "определено дважды", "екі рет анықталған"),
        (
            'expr = "in_boxes == valid + invalid"',
            'expr = "in_boxes == valid / invalid"',
            "допустимы только + - *",
            "тек + - *",
        ),
        (
            'expr = "in_boxes == valid + invalid"',
            'expr = "in_boxes == valid + spoilt"',
            "неизвестная строка «spoilt»",
            "белгісіз «spoilt» жолы",
        ),
        ("threshold_pct = 5", 'threshold_pct = "5"', "процентов от 0 до 100", "пайыз болуы керек"),
    ],
)
def test_template_problem_in_reader_language(old: str, new: str, ru: str, kk: str) -> None:
    """The part that says what is wrong is translated too, not only the frame around it."""
    broken = MINIMAL.replace(old, new)
    assert broken != MINIMAL
    with pytest.raises(TemplateError) as info:
        parse_template(broken, "t.toml")
    assert ru in info.value.message("ru")
    assert kk in info.value.message("kk")
    # the same error object renders in the language chosen when it is shown
    assert ru not in info.value.message("en")


def test_missing_list_names_itself_instead_of_a_type_error() -> None:
    """`_p("missing_list", key=...)` used to clash with _p's own first parameter (a TypeError)."""
    without_parties = MINIMAL.replace('[[parties]]\nkey = "a"\nen = "A"\n', "")
    assert without_parties != MINIMAL
    with pytest.raises(TemplateError) as info:
        parse_template(without_parties, "t.toml")
    assert "[[parties]]" in info.value.message("en") and "[[parties]]" in info.value.message("ru")


def test_observer_sections_are_optional_and_empty_when_absent() -> None:
    cut = MINIMAL.split("[[violation_categories]]")[0]
    t = parse_template(cut, "t.toml")
    assert (t.violation_categories, t.spoiled_reasons, t.opening_checklist, t.closing_checklist) == ((), (), (), ())
    assert t.category("OTHER") is None


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (
            '\n[x]\ny = """[[[[[[[[[[[[[[[[[[[[[[[[[["""\nz = \'[[[[[[[[[[[[[[[[[[[[[[[[[[\'  # [[[[[[[[[[[[[[[[[[[[[\n',
            0,
        ),
        ("\n[x]\ny = " + "[" * 2000 + "]" * 2000 + "\n", -1),  # refused before tomllib recurses
        ("\n[x]\ny = " + "[" * 20 + "]" * 20 + "\n", -1),  # 21 levels below the top: [x], then 20 lists
        ("\n[x]\ny = " + "[" * 19 + "]" * 19 + "\n", 0),
    ],
    ids=["strings-and-comments", "2000-lists", "21-levels", "20-levels"],
)
def test_nesting_is_counted_outside_strings_and_comments(extra: str, line: int) -> None:
    text = MINIMAL + extra
    if line == 0:
        parse_template(text, "t.toml")  # brackets inside strings and comments nest nothing
        return
    with pytest.raises(TemplateError) as info:
        parse_template(text, "t.toml")
    assert f"line {len(text.splitlines()) + line + 1}:" in info.value.message("en")
    assert "nested more than 20 levels" in info.value.message("en")


# ---- party short names (per language, the old single string still read) ----


def _with_short(line: str) -> str:
    return MINIMAL.replace(
        'key = "a"\nen = "A"', f'key = "a"\nru = "Партия А"\nkk = "А партиясы"\nen = "Party A"\n{line}'
    )


def test_short_name_per_language() -> None:
    party = parse_template(_with_short('short = { ru = "Ак жол", kk = "Ақ жол", en = "Ak Zhol" }')).parties[0]
    assert [party.short_name(lang) for lang in ("ru", "kk", "en")] == ["Ак жол", "Ақ жол", "Ak Zhol"]


def test_old_single_short_name_serves_every_language() -> None:
    party = parse_template(_with_short('short = "QHP"')).parties[0]
    assert [party.short_name(lang) for lang in ("ru", "kk", "en")] == ["QHP", "QHP", "QHP"]


def test_short_name_missing_in_a_language_falls_back_to_that_language_full_name() -> None:
    # An English short name in a Kazakh table would put Latin letters back where the issue found them.
    party = parse_template(_with_short('short = { en = "Ak Zhol" }')).parties[0]
    assert party.short_name("kk") == "А партиясы"
    assert party.short_name("en") == "Ak Zhol"
    assert parse_template(MINIMAL).parties[0].short_name("ru") == "A"  # no short name at all


@pytest.mark.parametrize("bad", ["short = { ru = 5 }", "short = {}", "short = 7"])
def test_bad_short_name_is_a_template_error_naming_its_line(bad: str) -> None:
    broken = _with_short(bad)
    with pytest.raises(TemplateError) as info:
        parse_template(broken, "t.toml")
    assert f"line {_last_line_with(broken, bad)}:" in info.value.message("en")


@pytest.mark.parametrize("tid", [t for t in BUILTIN_TEMPLATES if "majilis" in t])
def test_builtin_short_names_are_in_each_language_own_alphabet(tid: str) -> None:
    t = builtin_template(tid)
    names = {lang: [p.short_name(lang) for p in t.parties] for lang in ("ru", "kk", "en")}
    assert "Ақ жол" in names["kk"] and "Ак жол" in names["ru"] and "Ak Zhol" in names["en"]
    assert "ҚХП" in names["kk"] and "НПК" in names["ru"] and "QHP" in names["en"]
    # Latin letters in ru/kk only where the party itself writes its name in Latin.
    latin = {n for lang in ("ru", "kk") for n in names[lang] if any("a" <= ch.lower() <= "z" for ch in n)}
    assert latin <= {"AMANAT", "Respublica"}


def test_referendum_is_yes_or_no_on_the_regions_of_its_date() -> None:
    t = builtin_template("kz-referendum-2022")
    assert t.party_keys == ("yes", "no") and t.threshold_pct == 0
    assert [p.short_name("kk") for p in t.parties] == ["Иә", "Жоқ"]
    assert t.units is not None and len(t.units.on(t.date)) == 17  # three days before the three new oblasts


@pytest.mark.parametrize(
    ("tid", "units", "first"), [("kz-president-2019", 17, "tokayev"), ("kz-president-2022", 20, "tokayev")]
)
def test_presidential_templates_have_candidates_on_the_regions_of_their_date(tid: str, units: int, first: str) -> None:
    t = builtin_template(tid)
    assert t.party_keys[0] == first and len(t.parties) == 7 and t.threshold_pct == 50
    assert t.units is not None and len(t.units.on(t.date)) == units
    assert ("against_all" in t.party_keys) == (tid == "kz-president-2022")
