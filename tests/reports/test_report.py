"""The PDF observation report: figures, languages, Kazakh letters, fingerprint, speed shape.

The HQ file is built here with known numbers and every expected figure is
computed in the test from its own sums, never taken from reports.data.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import insert

from db import models as m
from db.store import ROLE_HQ, ElectionStore
from main import main
from observer.errors import BaqylauError
from observer.i18n import tr
from observer.template import builtin_template
from reports.build import ReportError, build_report
from reports.fingerprint import data_fingerprint, read_pdf_fingerprint, short_fingerprint

KAZAKH_LETTERS = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"
PARTIES = ("nur_otan", "ak_zhol", "qhp", "auyl", "adal")
REGIONS = ("KZ-ALA", "KZ-AKM", "KZ-KZY")


def _observed(i: int) -> dict[str, int]:
    registered = 1000 + 37 * i
    issued = 400 + 11 * i
    invalid = 5 + i % 7
    in_boxes = issued - 3
    valid = in_boxes - invalid
    votes = [valid * 48 // 100, valid * 20 // 100, valid * 9 // 100, valid * 8 // 100]
    votes.append(valid - sum(votes))
    values = {
        "registered": registered,
        "received": registered,
        "issued": issued,
        "issued_outside": 10,
        "cancelled": registered - issued - 2,
        "spoiled": 2,
        "in_boxes": in_boxes,
        "invalid": invalid,
        "valid": valid,
    }
    values.update(zip(PARTIES, votes))
    return values


def _official(obs: dict[str, int]) -> dict[str, int]:
    """The official figure inflates turnout and moves votes to the leader, like the story of 2021."""
    off = dict(obs)
    extra = obs["registered"] * 25 // 100
    off["issued"] += extra
    off["in_boxes"] += extra
    off["valid"] += extra
    off["nur_otan"] += extra
    off["cancelled"] -= extra
    return off


def _photo(tmp: Path, name: str, shade: int) -> Path:
    path = tmp / name
    Image.new("RGB", (640, 480), (shade, 80, 120)).save(path, "JPEG")
    return path


@pytest.fixture
def hq(tmp_path: Path) -> Path:
    """40 observed stations in three regions, 10 more with official results only."""
    template = builtin_template("kz-majilis-2021")
    path = tmp_path / "HQ.baqylau"
    store = ElectionStore.create(path, template, role=ROLE_HQ)
    store.set_observer("Айгүл Қасымова", "Жас сайлаушылар лигасы")
    store.set_meta("organisation", "Жас сайлаушылар лигасы — Құқық қорғау")
    official_rows = []
    for i in range(50):
        st = store.upsert_station(str(100 + i), REGIONS[i % 3], "", "", 1000 + 37 * i)
        obs = _observed(i)
        official_rows.append({"station_id": st.id, "values_json": json.dumps(_official(obs))})
        if i >= 40:
            continue
        pid = store.protocol_id(st.id, "posted_copy")
        for key, value in obs.items():
            store.set_protocol_value(pid, key, value)
        if i < 2:
            # An announced version that disagrees: a conflict nobody has decided, left out of totals.
            apid = store.protocol_id(st.id, "announced")
            for key, value in obs.items():
                store.set_protocol_value(apid, key, value + (50 if key == "issued" else 0))
        for slot, share in (("10:00", 10), ("14:00", 30), ("18:00", 50)):
            store.set_announced(st.id, slot, (1000 + 37 * i) * share // 100)
        store.set_spoiled(st.id, "WRITTEN", 1 + i % 3)
        store.set_spoiled(st.id, "BLANK", 2)
        if i % 4 == 0:
            vid = store.save_violation(
                st.id,
                category="STUFF" if i % 8 == 0 else "OBS_REMOVE",
                severity="high" if i % 8 == 0 else "medium",
                occurred_at=datetime(2021, 1, 10, 9, i % 60, tzinfo=UTC),
                description=f"Қолданушы мәтіні <b>&amp; «вброс» {i}",
            )
            store.add_evidence(st.id, _photo(tmp_path, f"v{i}.jpg", 40 + i), violation_id=vid)
    with store.engine.begin() as conn:
        conn.execute(insert(m.OfficialResult), official_rows)
    store.close()
    return path


def _sums(rows: list[dict[str, int]], key: str) -> int:
    return sum(r[key] for r in rows)


def _fmt(value: float, lang: str) -> str:
    text = f"{value:.2f}"
    return text if lang == "en" else text.replace(".", ",")


def _pct(value: float, lang: str) -> str:
    """A percentage as CLDR writes it: 35.57% (en), 35,57% (kk), 35,57 % (ru, a no-break space before the sign)."""
    return _fmt(value, lang) + (" %" if lang == "ru" else "%")


def _text(pdf: Path) -> str:
    reader = PdfReader(str(pdf))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ")


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_report_shows_independently_computed_figures(hq: Path, tmp_path: Path, lang: str) -> None:
    out = tmp_path / f"report-{lang}.pdf"
    info = build_report(hq, out, lang)
    text = _text(out)
    # Stations 0 and 1 are in conflict, so the counted observed stations are 2..39.
    counted = [_observed(i) for i in range(2, 40)]
    turnout = 100 * _sums(counted, "issued") / _sums(counted, "registered")
    official_same = [_official(o) for o in counted]
    turnout_off = 100 * _sums(official_same, "issued") / _sums(official_same, "registered")
    all_official = [_official(_observed(i)) for i in range(50)]
    turnout_all = 100 * _sums(all_official, "issued") / _sums(all_official, "registered")
    invalid = 100 * _sums(counted, "invalid") / _sums(counted, "in_boxes")
    leader = 100 * _sums(counted, "nur_otan") / _sums(counted, "in_boxes")
    for figure in (turnout, turnout_off, turnout_all, invalid, leader):
        assert _pct(figure, lang) in text, (lang, figure)
    assert "38 / 50" in text  # counted N of all M (observer.definitions: coverage)
    assert short_fingerprint(info.fingerprint) in text
    assert info.stations_observed == 40 and info.stations_total == 50
    # Every observed station is in the annex, with its number.
    for i in range(40):
        assert re.search(rf"\b{100 + i}\b", text)
    assert 6 <= info.pages <= 40
    assert len(PdfReader(str(out)).pages) == info.pages
    reader = PdfReader(str(out))
    for page in (2, info.pages):  # "page X of Y" with the final Y on every page after the cover
        lines = [line.strip() for line in reader.pages[page - 1].extract_text().splitlines()]
        before, after = tr("report.page_of", lang, page=page, pages="\x01").split("\x01")
        # The total is a form drawn once at the end; text extraction puts it on its own line.
        assert str(info.pages) in lines
        assert any(line == (before + after).strip() for line in lines), lines[-3:]
    # Turnout at 14:00 as announced: 30% of each station's list, summed before dividing.
    regs = [1000 + 37 * i for i in range(40)]
    assert _pct(100 * sum(r * 30 // 100 for r in regs) / sum(regs), lang) in text
    # Reasons for invalid ballots over the stations of the invalid total (2..39): WRITTEN 1..3 and
    # BLANK 2 each; the rest of each station's invalid ballots has no recorded reason.
    written = sum(1 + i % 3 for i in range(2, 40))
    unrecorded = _sums(counted, "invalid") - written - 2 * 38
    for n in (written, 2 * 38, unrecorded, _sums(counted, "invalid")):
        assert re.search(rf"\b{n}\b", text), n
    assert tr("report.invalid.unrecorded", lang) in text


def test_every_kazakh_letter_survives(hq: Path, tmp_path: Path) -> None:
    out = tmp_path / "kk.pdf"
    # The title carries every Kazakh-specific letter, upper and lower case.
    build_report(hq, out, "kk", title="Есеп: " + KAZAKH_LETTERS)
    text = _text(out)
    for letter in KAZAKH_LETTERS:
        assert letter in text, letter
    assert "Сайлаушылардың келуі" in text  # a catalogue heading
    assert "Қолданушы мәтіні <b>&amp; «вброс»" in text  # user text printed literally, not as markup


def test_fingerprint_round_trip_and_mismatch(hq: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.pdf"
    assert main(["--lang", "en", "report", str(hq), "--out", str(out), "--lang", "en", "--org", "MISK"]) == 0
    store = ElectionStore.open(hq)
    expected = data_fingerprint(store)
    store.close()
    assert read_pdf_fingerprint(out) == expected
    capsys.readouterr()
    assert main(["--lang", "en", "verify-report", str(out), str(hq)]) == 0
    assert "Match:" in capsys.readouterr().out
    store = ElectionStore.open(hq)
    st = store.station_by_code("105")
    assert st is not None
    store.set_spoiled(st.id, "BLANK", 9)
    store.close()
    assert main(["--lang", "en", "verify-report", str(out), str(hq)]) == 1
    assert "NO MATCH" in capsys.readouterr().out


def test_fingerprint_ignores_storage_order(tmp_path: Path) -> None:
    template = builtin_template("kz-majilis-2021")
    prints = []
    for n, order in enumerate((range(5), reversed(range(5)))):
        store = ElectionStore.create(tmp_path / f"{n}.baqylau", template, role=ROLE_HQ)
        store.set_observer("A", "B")
        for i in order:
            st = store.upsert_station(str(i), "KZ-ALA", "", "", 100 + i)
            store.set_protocol_value(store.protocol_id(st.id), "issued", 50 + i)
        # The observer id is content (it identifies who wrote the record); make it equal.
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE protocols SET observer_id = NULL")
        prints.append(data_fingerprint(store))
        store.close()
    assert prints[0] == prints[1]


def test_verify_refuses_a_file_that_is_not_a_pdf(tmp_path: Path, hq: Path) -> None:
    fake = tmp_path / "x.pdf"
    fake.write_bytes(b"GIF89a not a pdf")
    with pytest.raises(BaqylauError):
        read_pdf_fingerprint(fake)
    other = tmp_path / "plain.pdf"
    other.write_bytes(b"%PDF-1.4\n%%EOF\n")
    assert read_pdf_fingerprint(other) is None


def test_bad_logo_is_refused_and_nothing_is_written(hq: Path, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "r.pdf"
    with pytest.raises(ReportError):
        build_report(hq, out, "ru", logo=logo)
    assert not out.exists()
    assert not list(tmp_path.glob("*.part"))


def test_logo_and_organisation_on_cover(hq: Path, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (300, 100), (0, 0, 0)).save(logo)
    out = tmp_path / "r.pdf"
    build_report(hq, out, "ru", org="МИСК", logo=logo)
    first = PdfReader(str(out)).pages[0]
    assert "МИСК" in first.extract_text()
    assert len(first.images) == 1


def test_unknown_language_is_a_user_error(hq: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError):
        build_report(hq, tmp_path / "r.pdf", "de")


def test_thumbnails_of_cases_are_embedded(hq: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    build_report(hq, out, "en")
    images = [img for page in PdfReader(str(out)).pages for img in page.images]
    assert len(images) == 10  # ten violations, one photo each, all among the serious cases
    with Image.open(io.BytesIO(images[0].data)) as img:
        assert max(img.size) <= 320


def _bulk_hq(path: Path, n: int) -> Path:
    """An HQ file with ``n`` observed stations written in bulk (the report's speed test)."""
    import random

    rnd = random.Random(7)
    template = builtin_template("kz-majilis-2021")
    store = ElectionStore.create(path, template, role=ROLE_HQ)
    store.set_observer("HQ", "Org")
    now = datetime.now(UTC)
    stamp = {"created_at": now, "updated_at": now}
    stations, protocols, values, official = [], [], [], []
    for i in range(n):
        sid, pid = m.new_id(), m.new_id()
        reg = rnd.randint(500, 3000)
        obs = _observed(i % 400) | {"registered": reg}
        stations.append({"id": sid, "code": str(10_000 + i), "region": REGIONS[i % 3], "registered": reg, **stamp})
        protocols.append({"id": pid, "station_id": sid, "source": "posted_copy", **stamp})
        values += [{"id": m.new_id(), "protocol_id": pid, "key": k, "value": v, **stamp} for k, v in obs.items()]
        official.append({"station_id": sid, "values_json": json.dumps(_official(obs))})
    with store.engine.begin() as conn:
        for model, rows in (
            (m.Station, stations),
            (m.Protocol, protocols),
            (m.ProtocolValue, values),
            (m.OfficialResult, official),
        ):
            conn.execute(insert(model), rows)
    store.close()
    return path


@pytest.mark.slow
def test_report_of_10000_stations_has_the_whole_annex(tmp_path: Path) -> None:
    """The whole report (data, fingerprint, every section, the 10,000-row annex) builds at national
    scale. Its speed against bare ReportLab is measured by benchmarks/bench_report.py, not here."""
    from reports.data import collect
    from reports.sections.annexes import station_cells

    hq = _bulk_hq(tmp_path / "big.baqylau", 10_000)
    info = build_report(hq, tmp_path / "big.pdf", "ru")
    store = ElectionStore.open(hq)
    rows = [station_cells(r, "ru") for r in collect(store, "ru").stations]
    store.close()
    assert len(rows) == 10_000
    assert info.pages > 150  # the annex really is in it: about 65 rows a page


def test_report_of_an_empty_hq_file_says_so(tmp_path: Path) -> None:
    """Right after the coordinator creates the file: no stations, no data, still a valid report."""
    path = tmp_path / "empty.baqylau"
    ElectionStore.create(path, builtin_template("kz-majilis-2021"), role=ROLE_HQ).close()
    out = tmp_path / "empty.pdf"
    info = build_report(path, out, "en")
    text = _text(out)
    assert info.stations_observed == 0 and info.stations_total == 0
    # Nothing observed: the official-only report, no observation sections filled with "0 / 0".
    assert tr("report.official_only", "en")[:40] in text
    assert tr("report.annex.imports_none", "en") in text
    assert "0 / 0" not in text and tr("report.violations", "en") not in text


def test_plain_table_splits_between_rows_and_repeats_its_header(tmp_path: Path) -> None:
    from reportlab.platypus import SimpleDocTemplate

    from reports.flowables import PlainTable
    from reports.styles import FONT_CONDENSED, FONT_CONDENSED_BOLD

    rows = [[f"S{i:04d}", f"{i * 7}", "Қ"] for i in range(500)]
    table = PlainTable(
        ["Station", "Votes", "Flag"],
        rows,
        [80, 80, 80],
        row_height=10,
        header_height=14,
        font=FONT_CONDENSED,
        bold_font=FONT_CONDENSED_BOLD,
        size=7,
        header_size=7,
    )
    out = tmp_path / "t.pdf"
    SimpleDocTemplate(str(out)).build([table])
    pages = [page.extract_text() for page in PdfReader(str(out)).pages]
    # An A4 frame of ~770 pt holds about 75 rows of 10 pt under a 14 pt header.
    assert 6 <= len(pages) <= 8
    assert all("Station" in text and "Votes" in text for text in pages)
    found = [code for text in pages for code in re.findall(r"S\d{4}", text)]
    assert found == [f"S{i:04d}" for i in range(500)]  # every row once, in order, none lost at a break


def _colours(node: object) -> set[tuple[float, float, float]]:
    """Every fill and stroke colour in a drawing, charts (widgets) expanded into their shapes."""
    from reportlab.graphics.widgetbase import Widget

    if isinstance(node, Widget):
        node = node.draw()
    found: set[tuple[float, float, float]] = set()
    for attr in ("fillColor", "strokeColor"):
        colour = getattr(node, attr, None)
        if colour is not None and hasattr(colour, "red"):
            found.add((round(colour.red, 3), round(colour.green, 3), round(colour.blue, 3)))
    for child in getattr(node, "contents", []):
        found |= _colours(child)
    return found


def test_charts_print_in_black_and_white() -> None:
    """Every fill and line of every chart is a grey: nothing relies on colour."""
    from reports import charts

    series = [
        charts.Series("Observed", [48.3, 20.1, 8.9]),
        charts.Series("Official", [71.1, 10.9, 9.1]),
        charts.Series("All", [70.0, 11.0, 9.0]),
        charts.Series("Other", [1.0, 2.0, 3.0]),
    ]
    drawings = [
        charts.grouped_bars(["A", "B", "C"], series, width=480, lang="en", threshold=7, threshold_label="7%"),
        charts.grouped_bars(["Қарағанды", "Маңғыстау", "Шығыс"], series[:2], width=480, lang="en", horizontal=True),
        charts.stacked_bars(["A", "B", "C"], series, width=480, lang="en"),
        charts.line_chart(["10:00", "12:00", "14:00"], series[:2], width=480, lang="en"),
    ]
    for drawing in drawings:
        colours = _colours(drawing)
        assert colours, "no shapes found"
        assert all(r == g == b for r, g, b in colours), colours
    # The bar series differ in grey level, so they stay apart on paper.
    assert len(_colours(drawings[0])) >= 4


def test_violation_times_are_on_the_station_clock() -> None:
    """The report's clocks come from the template (ElectionTemplate.published_time), never the computer's."""
    from observer.template import builtin_template, parse_template

    kz = builtin_template("kz-majilis-2021")
    at = datetime(2021, 1, 10, 4, 30, tzinfo=UTC)
    assert kz.published_time(at, "KZ-ALA").strftime("%H:%M %z") == "10:30 +0600"
    assert kz.published_time(at, "KZ-ATY").strftime("%H:%M %z") == "09:30 +0500"  # the west kept UTC+5
    assert kz.published_time(at).strftime("%H:%M %z") == "10:30 +0600"  # the capital's, for times of no station
    later = datetime(2024, 3, 19, 4, 30, tzinfo=UTC)
    assert kz.published_time(later, "KZ-ALA").strftime("%H:%M %z") == "09:30 +0500"  # one zone since March 2024
    # A template without clocks of its own: UTC, whatever zone the building computer is in.
    source = (Path(__file__).resolve().parents[2] / "resources/templates/kz-majilis-2021.toml").read_text("utf-8")
    foreign = parse_template(source.replace('country = "KZ"', 'country = "RU"'))
    assert foreign.units is None
    assert foreign.published_time(at, "Город Москва").strftime("%H:%M %z") == "04:30 +0000"


def test_turnout_snapshot_takes_the_highest_report_per_station_and_slot(hq: Path) -> None:
    """Two observers at one station: the higher announced count and the higher non-zero head-count
    win; a slot the template does not list gets its own column; a negative cell counts as missing."""
    from reports.data import read_snapshot

    store = ElectionStore.open(hq)
    try:
        station = store.stations()[0]
        other = m.new_id()
        now = datetime.now(UTC)
        with store.engine.begin() as conn:
            conn.execute(
                insert(m.Observer),
                [{"id": other, "name": "Second", "organisation": "", "created_at": now, "updated_at": now}],
            )
            conn.execute(
                insert(m.TurnoutReport),
                [
                    {
                        "id": m.new_id(),
                        "station_id": station.id,
                        "observer_id": other,
                        "slot": "10:00",
                        "announced": 999_999,
                        "observed": 0,
                        "created_at": now,
                        "updated_at": now,
                    },
                    {
                        "id": m.new_id(),
                        "station_id": station.id,
                        "observer_id": other,
                        "slot": "21:30",
                        "announced": None,
                        "observed": 77,
                        "created_at": now,
                        "updated_at": now,
                    },
                ],
            )
            conn.exec_driver_sql(
                "UPDATE turnout_reports SET observed = 12 WHERE station_id = ? AND slot = '14:00'", (station.id,)
            )
            conn.exec_driver_sql(
                "UPDATE turnout_reports SET announced = -5 WHERE station_id = ? AND slot = '18:00'", (station.id,)
            )
        snap = read_snapshot(store)
    finally:
        store.close()
    i = snap.row_of[station.id]
    cols = {slot: j for j, slot in enumerate(snap.slots)}
    assert list(snap.slots) == sorted(snap.slots) and "21:30" in cols
    assert snap.announced[i, cols["10:00"]] == 999_999
    assert snap.counted[i, cols["10:00"]] == -1  # a head-count of 0: the counter was not used
    assert snap.counted[i, cols["14:00"]] == 12
    assert snap.announced[i, cols["18:00"]] == -1  # not a count
    assert snap.announced[i, cols["21:30"]] == -1 and snap.counted[i, cols["21:30"]] == 77
    assert snap.reported[i]
    j = next(k for k in range(len(snap.reported)) if k != i and snap.reported[k])
    assert snap.counted[j, cols["21:30"]] == -1 and snap.announced[j, cols["21:30"]] == -1


# ---- every total adds up (observer.definitions), in every language ------------------------------


def _numbers_after(label: str, text: str) -> list[int]:
    """The whole-number cells that follow the cell ``label`` (text extraction gives one cell per line)."""
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index(label)
    out: list[int] = []
    for cell in lines[at + 1 :]:
        digits = re.sub(r"[ \u202f\u00a0]", "", cell)  # thousands grouped by any kind of space
        if not digits.isdigit():
            break
        out.append(int(digits))
    return out


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_every_total_equals_the_sum_of_its_rows(hq: Path, tmp_path: Path, lang: str) -> None:
    from db.aggregate import aggregate, station_counts
    from reports.data import collect
    from reports.sections.violations import violation_matrix

    store = ElectionStore.open(hq)
    try:
        d = collect(store, lang)
        [nat] = aggregate(store, "national", "both")
        service = station_counts(store)
    finally:
        store.close()
    # One set of definitions: the report's counts are aggregate's and the service's.
    assert nat.comparison is not None and d.counts == nat.comparison.counts == service
    c = d.counts
    assert (c.total, c.observed, c.counted, c.undecided, c.disputed, c.excluded) == (50, 40, 38, 2, 0, 0)
    assert c.with_protocol == c.counted + c.disputed + c.undecided + c.excluded
    # Every region of the station list, in one order, and the national row is their sum.
    assert [u.code for u in d.regions] == sorted(REGIONS, key=lambda r: [u.code for u in d.regions].index(r))
    assert {u.code for u in d.regions} == set(REGIONS)
    assert sum(u.stations_total for u in d.regions) == d.national.stations_total == 50
    assert sum(u.stations_counted for u in d.regions) == d.national.stations_counted == 38
    assert sum(u.observed.invalid or 0 for u in d.regions) == d.national.observed.invalid
    order = [u.code for u in d.regions]
    annex_regions = list(dict.fromkeys(r.region for r in d.stations))
    assert annex_regions == [r for r in order if r in annex_regions]
    # The reasons table: the same stations and protocols as the invalid total.
    assert d.spoiled.rows_sum == d.spoiled.total == d.national.observed.invalid
    # Violations by region: rows add up across, the national row down.
    vm = violation_matrix(d)
    for line in [*vm.rows, vm.total]:
        assert sum(line[:-1]) == line[-1]
    assert vm.total == [sum(col) for col in zip(*vm.rows)]
    assert vm.total[-1] == d.violations_total == sum(d.violations_by_category.values())

    # The same in the printed PDF: the national row and the total row equal the sums above them.
    out = tmp_path / f"{lang}.pdf"
    build_report(hq, out, lang)
    text = _text(out)
    names = [u.name for u in d.regions]
    reasons = [d.spoiled_name(code) for code in d.spoiled.reasons] + [tr("report.invalid.unrecorded", lang)]
    printed = [_numbers_after(r, text)[0] for r in reasons]
    assert sum(printed) == _numbers_after(tr("report.total", lang), text)[0] == d.spoiled.total
    lines = [line.strip() for line in text.splitlines()]
    heading = max(i for i, line in enumerate(lines) if line.endswith(tr("report.violations.regions", lang)))
    section = "\n".join(lines[heading:])  # the section's heading, not the contents' line
    rows = [_numbers_after(n, section) for n in names]
    national = _numbers_after(d.national.name, section)
    assert national == [sum(col) for col in zip(*rows)] and national[-1] == d.violations_total


# ---- verifiable reports ---------------------------------------------------------------------------


def _verify(*args: str) -> int:
    return main(["--lang", "en", "verify-report", *args])


def test_same_data_same_bytes_and_verify_refuses_every_change(hq: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.pdf", tmp_path / "two.pdf"
    build_report(hq, one, "kk", org="МИСК")
    build_report(hq, two, "kk", org="МИСК")
    genuine = one.read_bytes()
    assert genuine == two.read_bytes()
    assert _verify(str(one), str(hq)) == 0

    # An edited figure: the same length, one character of the metadata or content changed.
    edited = tmp_path / "edited.pdf"
    at = genuine.index(b"Baqylau")
    edited.write_bytes(genuine[:at] + b"Baqylaw" + genuine[at + 7 :])
    assert _verify(str(edited), str(hq)) == 1
    # An incremental update appended after the report (how a PDF editor saves a change).
    updated = tmp_path / "updated.pdf"
    updated.write_bytes(genuine + b"1 0 obj\n<< /Title (forged) >>\nendobj\ntrailer\n<< /Size 2 >>\n%%EOF\n")
    assert _verify(str(updated), str(hq)) == 1
    # An unrelated PDF carrying the genuine fingerprint and options keywords.
    keywords = re.findall(rb"baqylau-(?:fingerprint|options):[A-Za-z0-9_=-]+", genuine)
    assert len(keywords) == 2
    from reportlab.pdfgen.canvas import Canvas

    fake = tmp_path / "fake.pdf"
    canvas = Canvas(str(fake))
    canvas.setKeywords(" ".join(k.decode() for k in keywords))
    canvas.drawString(100, 700, "Official turnout 99%")
    canvas.save()
    assert read_pdf_fingerprint(fake) == read_pdf_fingerprint(one)
    assert _verify(str(fake), str(hq)) == 1

    # A merge after the report that adds a photo reused at another station (shown in the report).
    store = ElectionStore.open(hq)
    a, b = store.station_by_code("110"), store.station_by_code("111")
    assert a is not None and b is not None
    photo = _photo(tmp_path, "same.jpg", 200)
    before = data_fingerprint(store)
    store.add_evidence(a.id, photo)
    store.add_evidence(b.id, photo)
    after = data_fingerprint(store)
    store.close()
    assert before != after
    assert _verify(str(one), str(hq)) == 1


def test_signed_report_checks_with_only_the_public_key(
    hq: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert main(["--lang", "en", "org-keygen", str(keys)]) == 0
    private, public = keys / "org-ed25519.pem", keys / "org-ed25519.pub.pem"
    out = tmp_path / "signed.pdf"
    args = ["--lang", "en", "report", str(hq), "--out", str(out), "--lang", "ru", "--org-key", str(private)]
    assert main(args) == 0
    data = out.read_bytes()
    assert data.endswith(b"%%EOF\n") and b"%baqylau-signature v1 ed25519 " in data[-200:]
    capsys.readouterr()
    assert _verify(str(out), "--org-public", str(public)) == 0  # no HQ file
    assert "Signature valid" in capsys.readouterr().out
    assert _verify(str(out), str(hq), "--org-public", str(public)) == 0  # and the rebuild matches too

    flipped = tmp_path / "flipped.pdf"
    at = data.index(b"/Producer")
    flipped.write_bytes(data[:at] + b"/Producex" + data[at + 9 :])
    assert _verify(str(flipped), "--org-public", str(public)) == 1
    appended = tmp_path / "appended.pdf"
    appended.write_bytes(data + b"1 0 obj\n<< >>\nendobj\n%%EOF\n")
    assert _verify(str(appended), "--org-public", str(public)) == 1
    # Another organisation's key does not vouch for it.
    other = tmp_path / "other"
    assert main(["--lang", "en", "org-keygen", str(other)]) == 0
    capsys.readouterr()
    assert _verify(str(out), "--org-public", str(other / "org-ed25519.pub.pem")) == 1
    assert "INVALID" in capsys.readouterr().out
    # A private key where the public one is expected is a user error, not a traceback.
    assert _verify(str(out), "--org-public", str(private)) != 0


def test_official_results_only_report_leaves_out_observation(tmp_path: Path) -> None:
    template = builtin_template("kz-majilis-2021")
    path = tmp_path / "cec.baqylau"
    store = ElectionStore.create(path, template, role=ROLE_HQ)
    rows = []
    for i in range(12):
        st = store.upsert_station(str(500 + i), REGIONS[i % 3], "", "", 1000 + i)
        rows.append({"station_id": st.id, "values_json": json.dumps(_official(_observed(i)))})
    with store.engine.begin() as conn:
        conn.execute(insert(m.OfficialResult), rows)
    store.close()
    for lang in ("ru", "en"):
        out = tmp_path / f"{lang}.pdf"
        build_report(path, out, lang)
        text = _text(out)
        assert tr("report.official.regions", lang) in text
        for absent in ("report.findings", "report.violations", "report.annex.stations", "report.method"):
            assert tr(absent, lang) not in text, absent
        assert not re.search(r"\b0 (of|из) 12\b", text)
        all_official = [_official(_observed(i)) for i in range(12)]
        turnout = 100 * _sums(all_official, "issued") / _sums(all_official, "registered")
        assert _pct(turnout, lang) in text


def test_fingerprint_station_lines_are_what_the_json_encoder_writes(hq: Path) -> None:
    """The station lines are written directly for speed; each must equal the encoder's line, byte for byte."""
    from reports.data import read_snapshot
    from reports.fingerprint import _station_lines, station_line_reference

    store = ElectionStore.open(hq)
    try:
        snap = read_snapshot(store)
        lines = list(_station_lines(snap, range(len(snap.observed))))
        obs, off = snap.observed, snap.official
        nc = obs.not_counted
        expected = [
            station_line_reference(
                [
                    str(obs.codes[i]),
                    str(obs.regions[i]),
                    str(obs.districts[i]),
                    int(obs.registered[i]),
                    obs.values[i].tolist() if obs.has_figures[i] else None,
                    off.values[i].tolist() if off.has_figures[i] else None,
                    bool(nc[i]) if nc is not None else False,
                    snap.announced[i].tolist() if snap.reported[i] else None,
                    snap.counted[i].tolist() if snap.reported[i] else None,
                ]
            )
            for i in range(len(obs))
        ]
    finally:
        store.close()
    assert len(lines) == len(expected) > 40
    assert lines == expected


def test_fingerprint_is_the_digest_of_every_line_sorted_at_once(hq: Path) -> None:
    """The stations are streamed in the order of their codes and merged with the rest: the digest must
    stay that of sorting every line as one list (what reports printed before)."""
    import hashlib

    from reports.data import read_snapshot
    from reports.fingerprint import _records, _station_lines

    store = ElectionStore.open(hq)
    try:
        snap = read_snapshot(store)
        every = [*_station_lines(snap, range(len(snap.observed))), *_records(store, snap)]
        digest = hashlib.sha256(b"baqylau-data-v2\n")
        for line in sorted(every):
            digest.update(line + b"\n")
        assert data_fingerprint(store, snap) == digest.hexdigest()
    finally:
        store.close()


def test_fingerprint_station_order_is_byte_order_for_any_code(hq: Path) -> None:
    """Codes in Kazakh and Russian, with quotes, backslashes, one a prefix of another, two alike:
    the streamed order is the byte order of the whole lines."""
    import dataclasses

    import numpy as np

    from reports.data import read_snapshot
    from reports.fingerprint import _sorted_station_lines, _station_lines

    store = ElectionStore.open(hq)
    try:
        snap = read_snapshot(store)
    finally:
        store.close()
    odd = ["Қ-01", "К-01", "A", "A ", 'A"', "A\\", "Ә1", "а", "Z", "Ө", "Қ-01", "ұ", "A-1", "A0", "я", "\u00e9"]
    n = len(snap.observed)
    codes = np.array([odd[i % len(odd)] for i in range(n)], dtype=object)
    snap = dataclasses.replace(snap, observed=dataclasses.replace(snap.observed, codes=codes))
    assert list(_sorted_station_lines(snap)) == sorted(_station_lines(snap, range(n)))
