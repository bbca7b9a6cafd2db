"""Typesetting of the PDF report: no word broken in a table, numbers and names per language.

The report check builds the real report of a demo election in ru, kk and en and looks at
every table ReportLab placed on a page: each line of each cell must consist of whole words
of that cell's text (a break only at a space or after a hyphen), and no plain-string cell
may run past its column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table

from reports.flowables import PlainTable
from reports.styles import FONT, FONT_CONDENSED, FRAME_WIDTH, get_styles, register_fonts
from reports.tables import PAD, data_table, pieces, running_header, wrap_hard, wrap_words

LANGS = ("ru", "kk", "en")


# ---- the wrapping itself ---------------------------------------------------------------


def test_wrap_breaks_only_at_spaces_and_after_hyphens() -> None:
    register_fonts()
    assert pieces("Северо-Казахстанская") == ["Северо-", "Казахстанская"]
    lines = wrap_words("Северо-Казахстанская область", FONT_CONDENSED, 8, 60)
    assert lines == ["Северо-", "Казахстанская", "область"]
    assert wrap_words("Наблюдается", FONT_CONDENSED, 8, 30) is None  # never "Наблюда" / "ется"
    # A no-break space joins a number's groups: "10 000" is one piece.
    assert wrap_words("учаскелер: 10\u00a0000", FONT_CONDENSED, 8, 45) == ["учаскелер:", "10\u00a0000"]


def test_hard_wrap_cuts_only_what_fits_nowhere() -> None:
    register_fonts()
    run = "Қ" * 300
    lines = wrap_hard(f"{run} сөз", FONT_CONDENSED, 8, 60)
    assert "".join(lines[:-1]) + lines[-1].split(" ")[0] == run
    assert lines[-1].endswith(" сөз")


def _cell_lines(para: Paragraph) -> list[str]:
    bl = para.blPara
    if bl.kind == 0:
        return [" ".join(words) for _, words in bl.lines]
    return ["".join(getattr(f, "text", "") for f in line.words) for line in bl.lines]


def _tokens(text: str) -> set[str]:
    # ReportLab keeps a line's words as a list split at any space, no-break ones included.
    words = [w for w in re.split(r"[ \n\u00a0\u202f]+", text) if w]
    return set(words) | {p for w in words for p in pieces(w)}


def _broken_words(table: Table) -> list[str]:
    """Lines of ``table``'s cells that hold part of a word, or plain strings wider than their column."""
    problems: list[str] = []
    user = getattr(table, "user_columns", ())
    for r, row in enumerate(table._cellvalues):
        for c, value in enumerate(row):
            where = f"row {r} col {c}"
            if isinstance(value, str):
                style = table._cellStyles[r][c]
                for line in value.split("\n"):
                    if stringWidth(line, style.fontname, style.fontsize) > table._colWidths[c] - 2 * PAD + 0.5:
                        problems.append(f"{where}: {line!r} wider than its column")
                continue
            # ReportLab keeps flowable cells as (tuples of) flowables.
            for flow in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(flow, Table):
                    problems += _broken_words(flow)
                elif isinstance(flow, Paragraph) and c not in user and flow.style.name != "quote":
                    # User text (marked columns, an observer's description) may be cut if nothing else fits.
                    source = _tokens(getattr(flow, "source_text", None) or flow.getPlainText())
                    for line in _cell_lines(flow):
                        if any(t not in source for t in _tokens(line)):
                            problems.append(f"{where}: {line!r} is not made of the words of {sorted(source)[:8]}")
    return problems


def test_data_table_keeps_every_word_whole_where_reportlab_cut_them(tmp_path: Path) -> None:
    """The forensics table of the issue (ru p. 12): narrow columns under long one-word heads."""
    register_fonts()
    s = get_styles()
    heads = ["Показатель", "Округление до", "Участки", "Наблюдается", "Ожидается", "Диапазон 95%", "Набл./ожид.", "p"]
    rows: list[list[Any]] = [[Paragraph(h, s["cell_head"]) for h in heads]]
    rows += [
        [
            "Северо-Казахстанская область",
            "кратно 5%",
            "10\u00a0000",
            "1\u00a0489",
            "1\u00a0419,5",
            "1–2",
            "1,049",
            "0,021",
        ]
    ]
    widths = [FRAME_WIDTH * x for x in (0.2, 0.14, 0.1, 0.07, 0.07, 0.16, 0.16, 0.1)]
    plain = Table([list(r) for r in rows], colWidths=widths)
    fitted = data_table(rows, widths)
    placed: list[Table] = []

    class Doc(SimpleDocTemplate):
        def afterFlowable(self, flowable: Flowable) -> None:
            if isinstance(flowable, Table):
                placed.append(flowable)

    Doc(str(tmp_path / "t.pdf")).build([plain, fitted])
    assert _broken_words(placed[0]), "the check must see ReportLab's own cut (else it proves nothing)"
    assert _broken_words(placed[1]) == []
    assert abs(sum(placed[1]._colWidths) - sum(widths)) < 0.01  # as wide as asked


# ---- the whole report ----------------------------------------------------------------------


@dataclass
class Built:
    pdf: Path
    tables: list[Table | PlainTable]
    text: str


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """The demo election's report in ru, kk and en, with every Table ReportLab placed on a page."""
    import reports.build as build
    from db.demo import demo_hq

    hq = demo_hq(tmp_path_factory.mktemp("demo"), stations=800, seed=3)
    out = tmp_path_factory.mktemp("reports")
    placed: list[Table | PlainTable] = []
    original = build.ReportDoc.afterFlowable

    def after(self: Any, flowable: Flowable) -> None:
        placed.extend(_walk(flowable))
        original(self, flowable)

    built: dict[str, Built] = {}
    build.ReportDoc.afterFlowable = after  # watches what the real document places, changes nothing
    try:
        for lang in LANGS:
            placed.clear()
            pdf = out / f"{lang}.pdf"
            build.build_report(hq, pdf, lang, org="Жас сайлаушылар лигасы")
            text = "\n".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
            built[lang] = Built(pdf, list(placed), text)
    finally:
        build.ReportDoc.afterFlowable = original
    return built


def _walk(flowable: Flowable) -> Iterator[Table | PlainTable]:
    if isinstance(flowable, (Table, PlainTable)):
        yield flowable
    for inner in getattr(flowable, "_content", None) or []:  # KeepTogether
        yield from _walk(inner)


@pytest.mark.parametrize("lang", LANGS)
def test_no_table_of_the_report_breaks_a_word(demo_reports: dict[str, Built], lang: str) -> None:
    placed = demo_reports[lang].tables
    assert len(placed) > 10
    problems = [p for t in placed for p in (_broken_words(t) if isinstance(t, Table) else _overflow(t))]
    assert problems == [], "\n".join(problems[:20])
    assert any(isinstance(t, PlainTable) for t in placed)  # the station annex was looked at too


def _overflow(table: PlainTable) -> list[str]:
    """Header lines and cells of the station annex wider than their column (it draws plain strings)."""
    out = []
    for c, label in enumerate(table.header):
        for line in label.split("\n"):
            if stringWidth(line, table.bold_font, table.header_size) > table.widths[c] - 2 * PAD:
                out.append(f"annex header {line!r} wider than its column")
    for row in table.rows:
        for c, cell in enumerate(row):
            if stringWidth(cell, table.font, table.size) > table.widths[c] - 2 * PAD:
                out.append(f"annex cell {cell!r} wider than its column")
    return out


def _outside_forensics(built: Built, lang: str) -> str:
    """The report's text without the forensics section (its numbers are the forensics module's to write)."""
    from observer.i18n import tr

    text = built.text
    start = text.rfind(tr("forensics.title", lang))  # the heading, not its TOC line
    end = text.rfind(tr("report.annex.disputed", lang))
    return text[:start] + text[end:] if 0 < start < end else text


def test_numbers_and_counts_as_each_language_writes_them(demo_reports: dict[str, Built]) -> None:
    raw = {lang: _outside_forensics(demo_reports[lang], lang) for lang in LANGS}
    ru, kk, en = (raw[lang].replace("\u00a0", " ").replace("\u202f", " ") for lang in LANGS)
    # Plural forms: "на 71 участке", never "на 71 участках"; "1 station", never "1 stations".
    assert not re.search(r"(?<![\d ])(\d* )*(\d*[02-9])?1 участках", ru)
    assert not re.search(r"\b1 (stations|violations|cases)\b", en)
    # Decimal comma in ru/kk, point in en; thousands grouped by a space in ru/kk, a comma in en.
    for text in (ru, kk):
        assert not re.search(r"\d\.\d+ ?%", text)
    assert not re.search(r"\d,\d+ ?%", en)
    assert not re.search(r"\d[\u00a0\u202f]\d{3}\b", raw["en"])  # "10 000" in English
    assert re.search(r"\b\d{1,3},\d{3}\b", en)


def test_kazakh_regions_in_kazakh_alphabetical_order(demo_reports: dict[str, Built]) -> None:
    """Ақмола before Атырау, the Қ regions after Жамбыл and before Маңғыстау: not code-point order."""
    text = demo_reports["kk"].text
    section = text[text.index("Өңірлер бойынша келу") :]
    names = ["Ақмола облысы", "Атырау облысы", "Жамбыл облысы", "Қарағанды облысы", "Маңғыстау облысы"]
    present = [n for n in names if n in section]
    assert len(present) >= 4, present
    assert sorted(present, key=section.index) == present


def test_party_short_names_in_the_reader_alphabet(demo_reports: dict[str, Built]) -> None:
    assert "Ақ жол" in demo_reports["kk"].text and "ҚХП" in demo_reports["kk"].text
    assert "Ак жол" in demo_reports["ru"].text and "НПК" in demo_reports["ru"].text
    for lang in ("ru", "kk"):
        assert "Ak Zhol" not in demo_reports[lang].text and "QHP" not in demo_reports[lang].text


def test_cover_gives_local_times_and_the_zones(demo_reports: dict[str, Built]) -> None:
    """A 2021 election: two clocks in the country; the build time on the capital's clock."""
    cover = PdfReader(str(demo_reports["ru"].pdf)).pages[0].extract_text().replace("\u00a0", " ")
    assert "UTC+6" in cover and "UTC+5" in cover
    assert "Атырауская область" in cover and "Мангистауская область" in cover
    assert "UTC+00" not in cover


def test_running_header_wraps_instead_of_cutting() -> None:
    register_fonts()
    title = (
        "Отчёт о наблюдении за выборами — Выборы депутатов Мажилиса Парламента РК, 10 января 2021 (партийные списки)"
    )
    left, right, size = running_header([title, "Выборы"], "Демо: Жас сайлаушылар лигасы", FONT, FRAME_WIDTH)
    assert " ".join(left) == title and len(left) <= 2
    assert " ".join(right) == "Демо: Жас сайлаушылар лигасы"
    assert size >= 6


# ---- hostile text and a missing organisation ------------------------------------------------


def _small_hq(path: Path, description: str, reason: str) -> Path:
    from datetime import UTC, datetime

    from db.conflicts import resolve_station
    from db.store import ROLE_HQ, ElectionStore
    from observer.template import builtin_template

    store = ElectionStore.create(path, builtin_template("kz-majilis-2021"), role=ROLE_HQ)
    st = store.upsert_station("101", "KZ-SEV", "", "", 1500)
    for source, issued in (("posted_copy", 700), ("announced", 750)):
        pid = store.protocol_id(st.id, source)
        store.set_protocol_value(pid, "registered", 1500)
        store.set_protocol_value(pid, "issued", issued)
    resolve_station(store, st.id, protocol_id=None, status="disputed", reason=reason, decided_by="Қ")
    store.save_violation(
        st.id,
        category="STUFF",
        severity="high",
        occurred_at=datetime(2021, 1, 10, 9, 0, tzinfo=UTC),
        description=description,
    )
    store.close()
    return path


def test_long_unbreakable_user_text_is_wrapped_not_a_layout_error(tmp_path: Path) -> None:
    from reports.build import build_report

    run = "ҚҰЖАТ" * 400  # 2,000 characters without a space, in a description and in a decision's reason
    hq = _small_hq(tmp_path / "hq.baqylau", run, run[:600])
    info = build_report(hq, tmp_path / "r.pdf", "kk", org="Ұйым")
    text = "".join(page.extract_text() for page in PdfReader(str(info.path)).pages).replace("\n", "")
    assert run[:300] in text  # printed, cut into lines, not dropped


def test_missing_organisation_is_said_on_the_cover_and_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from main import main
    from observer.i18n import tr

    hq = _small_hq(tmp_path / "hq.baqylau", "сипаттама", "себебі")
    out = tmp_path / "r.pdf"
    assert main(["--lang", "en", "report", str(hq), "--out", str(out), "--lang", "ru"]) == 0
    assert tr("report.cli.no_org", "en") in capsys.readouterr().err
    cover = PdfReader(str(out)).pages[0].extract_text().replace("\n", " ")
    assert tr("report.cover.no_org", "ru").split(":")[0] in cover


@pytest.mark.parametrize(
    ("lang", "key", "n", "expected"),
    [
        ("ru", "report.kf.violation_stations", 71, "на 71 участке"),
        ("ru", "report.kf.violation_stations", 74, "на 74 участках"),
        ("ru", "report.kf.violation_stations", 11, "на 11 участках"),
        ("ru", "report.method.in_regions", 21, "в 21 регионе"),
        ("ru", "report.method.in_regions", 17, "в 17 регионах"),
        ("en", "report.kf.violation_stations", 1, "at 1 station"),
        ("en", "report.cases.intro", 1, "1 case;"),
        ("kk", "report.kf.violation_stations", 71, "71 учаскеде"),
    ],
)
def test_plural_forms_of_the_report(lang: str, key: str, n: int, expected: str) -> None:
    from observer.fmt import formatter

    assert formatter(lang).count(key, n).startswith(expected)


def test_of_n_stations_agrees_with_the_total_in_russian() -> None:
    """ "из 101 участка" but "из 10 000 участков": the genitive follows the total, not the observed count."""
    from observer.fmt import formatter

    f = formatter("ru")
    assert f.count("report.method.at_stations", 101, observed="20") == "на 20 из 101 участка"
    assert f.count("report.method.at_stations", 10_000, observed="200") == "на 200 из 10\u00a0000 участков"


@pytest.mark.parametrize(
    ("lang", "n", "expected"),
    [
        ("en", 1, "1 station had conflicting versions"),
        ("en", 21, "21 stations had conflicting versions"),
        ("ru", 21, "были у 21 участка"),
        ("ru", 3, "были у 3 участков"),
        ("ru", 5, "были у 5 участков"),
        ("kk", 1, "учаскелер: 1."),
    ],
)
def test_disputed_stations_sentence_takes_the_plural_of_its_number(lang: str, n: int, expected: str) -> None:
    from observer.fmt import formatter

    f = formatter(lang)
    text = f.count(
        "report.method.disputed_text",
        n,
        excluded=f.count("count.stations", 1),
        disputed=f.integer(0),
        undecided=f.integer(1),
        by_rule=f.integer(0),
    )
    assert expected in text
    assert not re.search(r"(?<!\d)1 stations", text)


def test_annex_cells_write_every_number_as_fmt_does() -> None:
    """The annex's memo is keyed by the value Babel prints (rounded half-even from the float's
    shortest decimal): a hit must be the very string observer.fmt writes, ties and signs included."""
    import random

    from observer.fmt import formatter
    from reports.sections.annexes import AnnexCells

    rnd = random.Random(5)
    ties = [k / 100 + 0.05 for k in range(-200, 10_000, 7)] + [k / 1000 + 0.005 for k in range(-500, 500, 3)]
    values: list[float | None] = [None, float("nan"), 0.0, -0.0, 0.04, -0.04, 0.05, -0.05, 1.005, 1.015, 2.675]
    values += (
        ties + [rnd.uniform(-150, 150) for _ in range(3000)] + [round(rnd.uniform(0, 100), 2) for _ in range(3000)]
    )
    for lang in LANGS:
        f, cells = formatter(lang), AnnexCells(lang)
        for _ in range(2):  # the second round is answered from the memo
            for v in values:
                assert cells._cached("%", v) == f.pct(v), (lang, v)
                assert cells._cached("pp", v) == f.pp(v), (lang, v)
        for i in [0, 1, 999, 1000, 12_345, 1_234_567, None]:
            assert cells._cached("i", i) == f.integer(i)


def test_turnout_is_one_word_in_the_report_and_forensics_catalogues() -> None:
    """Kazakh "келу" (never "қатысу"), Russian "явка" (never "участие"): the reader sees one term."""
    import json

    root = Path(__file__).resolve().parents[2] / "resources" / "i18n"
    for lang, banned in (("kk", r"(?<!\w)[Ққ]атысу"), ("ru", r"(?<!\w)[Уу]части[еяюи]")):
        for area in ("report", "forensics"):
            texts = json.loads((root / lang / f"{area}.json").read_text(encoding="utf-8"))
            found = {k: v for k, v in texts.items() if re.search(banned, v)}
            assert not found, found
