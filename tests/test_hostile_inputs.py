"""Hostile inputs outside packages (issue 12): templates, mappings, CSV cells, and what is printed or exported.

Every case goes through the real command (``main.main`` or a subprocess) and
checks the message in Russian and English, and that nothing was written.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import main
from db.store import ROLE_HQ, ElectionStore
from observer.i18n import tr
from observer.safe_text import spreadsheet, terminal
from observer.template import builtin_template, parse_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_2021 = (ROOT / "resources" / "templates" / "kz-majilis-2021.toml").read_text(encoding="utf-8")
KEYS = builtin_template("kz-majilis-2021").all_keys
OBSERVER_SECTIONS = ("[[violation_categories]]", "[[spoiled_reasons]]", "[checklists]", "[[checklists.")


def run(capsys: pytest.CaptureFixture[str], lang: str, *argv: str) -> tuple[int, str, str]:
    code = main.main(["--lang", lang, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def fragment(key: str, lang: str) -> str:
    """The fixed words of a message before its first placeholder: what a user sees whatever the values."""
    return tr(key, lang).split("{")[0].strip()


def without_observer_sections(text: str) -> str:
    """The template with its violation categories, spoiled-ballot reasons and checklists cut out."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.startswith("["):
            skipping = line.startswith(OBSERVER_SECTIONS)
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def official_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """A UTF-8 official results file whose columns are the template's keys."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "region", "district", *KEYS])
    for row in rows:
        writer.writerow([row.get(k, "") for k in ("code", "region", "district", *KEYS)])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def mapping(path: Path) -> Path:
    lines = ['[station]\ncode = "code"\nregion = "region"\ndistrict = "district"\n[lines]']
    template = builtin_template("kz-majilis-2021")
    lines += [f'{k} = "{k}"' for k in template.line_keys]
    lines += ["[parties]", *(f'{k} = "{k}"' for k in template.party_keys)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def station_row(code: str, **override: str) -> dict[str, str]:
    """A consistent official protocol of 1,000 voters."""
    values = dict(registered=1000, received=1000, issued=600, issued_outside=20, cancelled=400, spoiled=0)
    values |= dict(in_boxes=600, invalid=10, valid=590, nur_otan=400, ak_zhol=90, qhp=50, auyl=30, adal=20)
    row = {"code": code, "region": "KZ-ALA", "district": "Алмалинский"} | {k: str(v) for k, v in values.items()}
    return row | override


def table_dump(path: Path) -> list[tuple]:
    """Every row of the tables an import writes, to compare before and after."""
    with sqlite3.connect(path) as conn:
        return [
            *conn.execute("SELECT code, region, district, registered FROM stations ORDER BY code"),
            *conn.execute("SELECT station_id, values_json, hex(values_blob) FROM official_results ORDER BY station_id"),
            *conn.execute("SELECT key, value FROM meta WHERE key LIKE 'official%' ORDER BY key"),
        ]


@pytest.fixture
def hq_path(tmp_path: Path, template_2021) -> Path:
    path = tmp_path / "hq.baqylau"
    ElectionStore.create(path, template_2021, role=ROLE_HQ).close()
    return path


# ---- 1. templates and mapping files ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("arrays", "deep = " + "[" * 2000 + "]" * 2000 + "\n" + TEMPLATE_2021, 1),
        ("inline tables", TEMPLATE_2021 + "\n[x]\ny = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n", None),
        ("dotted keys", TEMPLATE_2021 + "\n" + ".".join(["a"] * 2000) + " = 1\n", None),
    ],
    ids=["arrays", "inline-tables", "dotted-keys"],
)
def test_template_nested_2000_deep_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, line: int | None
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    line = line or len(text.splitlines())
    for lang, words in (("en", "nested more than 20 levels"), ("ru", "глубже 20 уровней")):
        code, _, err = run(capsys, lang, "template", "check", str(path))
        assert code == 2 and "RecursionError" not in err
        assert err.startswith("baqylau: " + tr("error.template.limit", lang, file="deep.toml", line=line, problem=""))
        assert words in err


def test_mapping_nested_2000_deep_refuses_the_import(
    tmp_path: Path, hq_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = official_csv(tmp_path / "official.csv", [station_row("1")])
    deep = tmp_path / "deep.toml"
    text = mapping(tmp_path / "map.toml").read_text(encoding="utf-8") + "x = " + "[" * 2000 + "]" * 2000 + "\n"
    deep.write_text(text, encoding="utf-8")
    line = len(text.splitlines())
    before = table_dump(hq_path)
    for lang in ("en", "ru"):
        code, _, err = run(capsys, lang, "official", "import", str(hq_path), str(csv_path), "--map", str(deep))
        assert code == 2
        assert tr("coord.map.limit", lang, file="deep.toml", line=line, problem="") in err
        assert fragment("template.problem.too_deep", lang) in err
    assert table_dump(hq_path) == before


@pytest.mark.parametrize(
    ("old", "new", "shown"),
    [
        ('expr = "in_boxes <= issued"', 'expr = "in_boxes <= issued + 99999999999999999999"', "99999999999999999999"),
        ('expr = "in_boxes <= issued"', 'expr = "in_boxes * 9223372036854775808 <= issued"', "9223372036854775808"),
        ("threshold_pct = 7", "threshold_pct = 123456789012345678901234567890", "123456789012345678901234567890"),
    ],
)
def test_integer_beyond_int64_is_refused_by_template_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, shown: str
) -> None:
    assert old in TEMPLATE_2021
    text = TEMPLATE_2021.replace(old, new, 1)
    path = tmp_path / "big.toml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if new in t)
    for lang, words in (("en", "is too large"), ("ru", "слишком велико")):
        code, out, err = run(capsys, lang, "template", "check", str(path))
        assert code == 2 and out == ""
        assert err.startswith("baqylau: " + tr("error.template.limit", lang, file="big.toml", line=line, problem=""))
        assert shown in err and words in err


def test_largest_int64_constant_still_passes() -> None:
    text = TEMPLATE_2021.replace('expr = "in_boxes <= issued"', 'expr = "in_boxes <= issued + 9223372036854775807"', 1)
    assert parse_template(text).checks[1].source == "in_boxes <= issued + 9223372036854775807"


def test_template_without_observer_sections_works_on_official_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No violation categories, spoiled-ballot reasons or checklists: template check, import, check, aggregate, report."""
    text = without_observer_sections(TEMPLATE_2021)
    assert "[[violation_categories]]" not in text and "[[checklists" not in text
    path = tmp_path / "official-only.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "en", "template", "check", str(path))
    assert code == 0 and "is valid" in out and err == ""
    template = parse_template(text)
    assert template.violation_categories == () and template.spoiled_reasons == () and template.opening_checklist == ()

    hq = tmp_path / "hq.baqylau"
    csv_path = official_csv(tmp_path / "official.csv", [station_row("1"), station_row("2", issued="700")])
    argv = ["official", "import", str(hq), str(csv_path), "--map", str(mapping(tmp_path / "map.toml"))]
    assert run(capsys, "en", *argv, "--template", str(path))[0] == 0
    code, out, _ = run(capsys, "en", "check", str(hq))
    assert code == 1 and "1 official result(s)" in out  # station 2: issued 700 but 600 in the boxes + ...
    code, out, _ = run(capsys, "ru", "aggregate", str(hq), "--source", "official", "--format", "csv")
    assert code == 0 and out.startswith("unit,level,name,stations") and ",2," in out
    assert run(capsys, "en", "violations", str(hq))[0] == 0
    code, out, err = run(capsys, "kk", "report", str(hq), "--out", str(tmp_path / "r.pdf"))
    assert code == 0 and "Traceback" not in err and (tmp_path / "r.pdf").stat().st_size > 10_000


# ---- 2. one number grammar on every import path ------------------------------------------


@pytest.mark.parametrize("cell", ["1_000", "١٢٣", "１２３"])
@pytest.mark.parametrize("path", ["numpy", "row"])
def test_official_cells_outside_ascii_digits_are_refused_on_both_paths(
    tmp_path: Path, hq_path: Path, capsys: pytest.CaptureFixture[str], cell: str, path: str
) -> None:
    rows = [station_row(str(i)) for i in range(1, 6)]
    rows[2]["registered"] = cell  # line 4 of the file
    if path == "row":
        rows[0]["registered"] = "1 000"  # a thousands separator: the column goes cell by cell
    csv_path = official_csv(tmp_path / "official.csv", rows)
    map_path = mapping(tmp_path / "map.toml")
    before = table_dump(hq_path)
    for lang, words in (("en", "digits 0-9 only"), ("ru", "только цифрами 0-9")):
        code, out, err = run(capsys, lang, "official", "import", str(hq_path), str(csv_path), "--map", str(map_path))
        assert code == 2 and "Traceback" not in err and out == ""
        problem = next(line for line in err.splitlines() if words in line)
        assert problem.startswith(tr("coord.import.problem_line", lang, line=4, problem=""))
        assert f"«registered» = '{cell}'" in problem or f"«registered» = «{cell}»" in problem
    assert table_dump(hq_path) == before


def test_station_list_cells_outside_ascii_digits_are_refused(
    tmp_path: Path, hq_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "stations.csv"
    csv_path.write_text("code,region,registered\n1,KZ-ALA,1500\n2,KZ-ALA,１２３\n3,KZ-ALA,1_000\n", encoding="utf-8")
    before = table_dump(hq_path)
    for lang, words in (("en", "digits 0-9 only"), ("ru", "только цифрами 0-9")):
        code, _, err = run(capsys, lang, "stations", "import", str(hq_path), str(csv_path))
        assert code == 2 and "Traceback" not in err
        assert [line.split(":")[0] for line in err.splitlines() if words in line and "baqylau" not in line] == [
            tr("coord.import.problem_line", lang, line=n, problem="").rstrip(": ") for n in (3, 4)
        ]
    assert table_dump(hq_path) == before


# ---- 3. one escaping helper for every output ---------------------------------------------


def test_terminal_shows_control_and_bidi_characters_escaped() -> None:
    assert terminal("a\x1b[2Jb\x1b]0;title\x07") == "a\\u001b[2Jb\\u001b]0;title\\u0007"
    assert terminal("x\x9b31m\u202eevil\u2066") == "x\\u009b31m\\u202eevil\\u2066"
    assert terminal("one\ntwo\r\tthree") == "one\\ntwo\\r\\tthree"
    assert terminal("one\ntwo\x1b", keep_newlines=True) == "one\ntwo\\u001b"
    assert terminal("Қазақстан — «ok» C:\\dir") == "Қазақстан — «ok» C:\\dir"


def test_spreadsheet_cells_never_start_a_formula() -> None:
    assert spreadsheet('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    for cell in ("+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "  =1"):
        assert spreadsheet(cell).startswith("'"), cell
    assert spreadsheet("a\x1bb\nc") == "a\\u001bb\nc"  # openpyxl refuses ESC; a line break in a cell is fine
    assert spreadsheet(-5) == -5 and spreadsheet(None) is None and spreadsheet("Алматы") == "Алматы"


FORMULA_CODE = '=HYPERLINK("http://ev.il";1)'  # 32 characters at most: a station code
ESCAPE_DISTRICT = "Алмалинский\x1b[2J\x1b]0;pwned\x07\u202e"
FAKE_NAME = "Болат\x1b[2J\x1b[H\rNo conflicting protocols."


@pytest.fixture
def hostile_hq(tmp_path: Path, capsys: pytest.CaptureFixture[str], hq_path: Path) -> Path:
    """An HQ whose station code is a formula, whose district and observer name carry terminal escapes.

    The formula station has one observed protocol (it counts: gaps lists it), station 2 two that disagree.
    """
    rows = [station_row(FORMULA_CODE, district=ESCAPE_DISTRICT), station_row("2", district=ESCAPE_DISTRICT)]
    csv_path = official_csv(tmp_path / "official.csv", rows)
    map_path = mapping(tmp_path / "map.toml")
    assert run(capsys, "en", "official", "import", str(hq_path), str(csv_path), "--map", str(map_path))[0] == 0
    hq = ElectionStore.open(hq_path)
    try:
        hq.set_observer(FAKE_NAME, "Org")
        for code in (FORMULA_CODE, "2"):
            station = hq.station_by_code(code)
            assert station is not None
            versions = [("posted_copy", "600"), ("announced", "650")] if code == "2" else [("posted_copy", "600")]
            for source, issued in versions:  # two that differ (and 650 breaks a relation), or one that counts
                pid = hq.protocol_id(station.id, source)
                for key, value in (station_row(code, issued=issued)).items():
                    if key in KEYS:
                        hq.set_protocol_value(pid, key, int(value))
    finally:
        hq.close()
    return hq_path


def test_gaps_and_aggregate_csv_and_xlsx_neutralise_formulas(
    tmp_path: Path, hostile_hq: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "en", "gaps", str(hostile_hq), "--format", "csv")
    cells = [row[0] for row in csv.reader(io.StringIO(out))]
    assert code == 0 and "'" + FORMULA_CODE in cells and FORMULA_CODE not in cells
    assert "\x1b" not in out and "\u202e" not in out
    code, out, _ = run(capsys, "en", "aggregate", str(hostile_hq), "--level", "district", "--format", "csv")
    assert code == 0 and "\x1b" not in out and "\\u001b[2J" in out
    xlsx = tmp_path / "a.xlsx"
    code, out, _ = run(
        capsys, "ru", "aggregate", str(hostile_hq), "--level", "district", "--format", "xlsx", "--out", str(xlsx)
    )
    assert code == 0 and xlsx.exists()  # openpyxl refuses ESC in a cell: it would have raised
    from openpyxl import load_workbook

    values = [v for row in load_workbook(xlsx).active.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    assert any("\\u001b[2J" in v for v in values) and not any(v.startswith(("=", "+", "@")) for v in values)


@pytest.mark.parametrize("command", ["conflicts", "check", "gaps", "aggregate"])
def test_terminal_output_shows_escapes_instead_of_obeying_them(
    hostile_hq: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    extra = ["--level", "district"] if command == "aggregate" else []
    code, out, err = run(capsys, "en", command, str(hostile_hq), *extra)
    assert code in (0, 1) and "Traceback" not in err
    assert "\x1b" not in out + err and "\u202e" not in out and "\x07" not in out
    assert "\\u001b[2J" in out
    if command in ("conflicts", "check"):
        # The fake "No conflicting protocols." stays inside the observer's name on the same line.
        assert "Болат\\u001b[2J\\u001b[H\\rNo conflicting protocols." in out
        assert not any(line.startswith("No conflicting protocols.") for line in out.splitlines())


def test_import_problems_and_errors_print_cells_escaped(
    tmp_path: Path, hq_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = official_csv(tmp_path / "official.csv", [station_row("1", registered="\x1b[2J\x1b]0;x\x07")])
    code, _, err = run(
        capsys, "ru", "official", "import", str(hq_path), str(csv_path), "--map", str(mapping(tmp_path / "m.toml"))
    )
    assert code == 2 and "\x1b" not in err and "\x07" not in err and "\\u001b[2J" in err
    assert fragment("coord.import.refused", "ru").split(":")[-1].strip() in err


# ---- 4. a closed pipe ----------------------------------------------------------------------


def test_closed_pipe_ends_quietly(hostile_hq: Path) -> None:
    """``baqylau conflicts HQ | head``: the reader is gone before the output comes."""
    proc = subprocess.Popen(
        [sys.executable, "main.py", "--lang", "en", "conflicts", str(hostile_hq)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` exiting: every write now fails with EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit


# ---- 5. evidence on a full disk ----------------------------------------------------------------


ADD_EVIDENCE_WITH_FILE_LIMIT = """
import resource, signal, sys
from db.store import ElectionStore
from observer.errors import BaqylauError
store = ElectionStore.open(sys.argv[1])
station = store.current_station()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit, write() fails with EFBIG instead of a kill
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
try:
    store.add_evidence(station.id, sys.argv[2])
except BaqylauError as exc:
    print(exc.key)
    print(exc.message("en"))
    print(exc.message("ru"))
"""


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_add_evidence_on_a_full_disk_leaves_no_part_file(tmp_path: Path, store: ElectionStore) -> None:
    import numpy as np
    from PIL import Image

    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (400, 600, 3), dtype=np.uint8)).save(photo, quality=95)
    assert photo.stat().st_size > 200_000
    folder = store.evidence_dir
    store.close()
    result = subprocess.run(
        [sys.executable, "-c", ADD_EVIDENCE_WITH_FILE_LIMIT, str(store.path), str(photo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    key, en, ru = result.stdout.strip().splitlines()
    assert key == "error.storage.io" and "File too large" in en  # a full disk gives error.storage.disk_full
    assert en.startswith(fragment("error.storage.io", "en")) and ru.startswith(fragment("error.storage.io", "ru"))
    assert sorted(p.name for p in folder.iterdir()) == []  # no <sha>.jpg.part left behind
    reopened = ElectionStore.open(store.path)
    try:
        assert reopened.evidence() == []
    finally:
        reopened.close()


# ---- 6. a violation description the report cannot break ------------------------------------------


def test_violation_description_without_spaces_does_not_break_the_report(
    tmp_path: Path, hq_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """2,000 characters without a space passed package validation, then broke report and verify-report."""
    csv_path = official_csv(tmp_path / "official.csv", [station_row("1"), station_row("2")])
    map_path = mapping(tmp_path / "map.toml")
    assert run(capsys, "en", "official", "import", str(hq_path), str(csv_path), "--map", str(map_path))[0] == 0
    hq = ElectionStore.open(hq_path)
    try:
        hq.set_observer("Айгүл Қасымова", "MISK")
        station = hq.station_by_code("1")
        assert station is not None
        when = datetime(2021, 1, 10, 9, 30, tzinfo=UTC)
        hq.save_violation(station.id, category="STUFF", occurred_at=when, description="Ж" * 2000, severity="high")
    finally:
        hq.close()
    pdf = tmp_path / "report.pdf"
    for lang in ("kk", "en"):
        code, out, err = run(capsys, lang, "report", str(hq_path), "--out", str(pdf))
        assert code == 0 and err == "" and pdf.stat().st_size > 10_000
        code, out, _ = run(capsys, lang, "verify-report", str(pdf), str(hq_path))
        assert code == 0 and out.startswith(fragment("report.cli.rebuilt_same", lang))
