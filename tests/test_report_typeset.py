"""Typesetting of the PDF report: no word broken in a table, numbers and names per language.

The report check builds the real report of a demo election in ru, kk and en and looks at
every table ReportLab placed on a page: each line of each cell must consist of whole words
of that cell's text (a break only at a space or after a hyphen), and no plain-string cell
may run past its column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table

from reports.styles import FONT_CONDENSED, FRAME_WIDTH, get_styles, register_fonts
from reports.tables import PAD, data_table, pieces, wrap_hard, wrap_words

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
                elif isinstance(flow, Paragraph) and c not in user:  # user text may be cut if nothing else fits
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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from db.demo import demo_hq

    return demo_hq(tmp_path_factory.mktemp("demo"), stations=800, seed=3)


def _placed_tables(monkeypatch: pytest.MonkeyPatch) -> list[Table]:
    """Every Table the report's document places on a page (after splitting), collected as it happens."""
    import reports.build as build

    placed: list[Table] = []
    original = build.ReportDoc.afterFlowable

    def after(self: Any, flowable: Flowable) -> None:
        for f in _walk(flowable):
            placed.append(f)
        original(self, flowable)

    monkeypatch.setattr(build.ReportDoc, "afterFlowable", after)
    return placed


def _walk(flowable: Flowable) -> Iterator[Table]:
    if isinstance(flowable, Table):
        yield flowable
    for inner in getattr(flowable, "_content", None) or []:  # KeepTogether
        yield from _walk(inner)


@pytest.mark.parametrize("lang", LANGS)
def test_no_table_of_the_report_breaks_a_word(
    demo: Path, tmp_path: Path, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reports.build import build_report

    placed = _placed_tables(monkeypatch)
    build_report(demo, tmp_path / f"{lang}.pdf", lang, org="Жас сайлаушылар лигасы")
    assert len(placed) > 10
    problems = [p for t in placed for p in _broken_words(t)]
    assert problems == [], "\n".join(problems[:20])
