"""CSV decoding and splitting: encodings, BOM, separators, quoting, hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from observer.csvio import (
    CsvError,
    NotPlainDigits,
    parse_count,
    parse_csv,
    plain_digits,
    read_csv,
    read_csv_chunks,
    sniff_delimiter,
)
from observer.units import UnitResolver, builtin_units

TEXT = 'Код;Область;Адрес\n101;г. Алматы;"ул. Абая, 1"\n102;Ақмола облысы;Көкшетау\n'


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
    ],
)
def test_utf8_with_and_without_bom(raw: bytes, encoding: str) -> None:
    table = parse_csv(raw, "x.csv")
    assert table.encoding == encoding
    assert table.delimiter == ";"
    assert table.header == ("Код", "Область", "Адрес")  # no BOM glued to the first header
    assert table.rows == [["101", "г. Алматы", "ул. Абая, 1"], ["102", "Ақмола облысы", "Көкшетау"]]
    assert table.lines == [2, 3]


def test_cp1251_russian_text() -> None:
    # cp1251 has no Kazakh letters, so the CEC's Russian-only exports are what comes in it.
    text = "Код,Область,Избирателей\n7,Акмолинская область,1200\n"
    table = parse_csv(text.encode("cp1251"), "cec.csv")
    assert table.encoding == "cp1251"
    assert table.delimiter == ","
    assert table.rows == [["7", "Акмолинская область", "1200"]]


def test_forced_encoding_that_does_not_fit_names_the_line() -> None:
    raw = "a,b\n1,2\n3,Алматы\n".encode("cp1251")
    with pytest.raises(CsvError) as exc:
        parse_csv(raw, "bad.csv", encoding="utf-8")
    assert exc.value.key == "coord.csv.undecodable"
    assert exc.value.params["line"] == 3


def test_quoted_newline_keeps_line_numbers_of_later_rows() -> None:
    raw = b'code,address\n1,"line one\nline two"\n2,plain\n\n3,"x ""quoted"" y"\n'
    table = parse_csv(raw, "q.csv")
    assert table.rows == [["1", "line one\nline two"], ["2", "plain"], ["3", 'x "quoted" y']]
    # Row 2 starts on line 4 of the file because row 1 spans lines 2-3; the blank line 5 is skipped.
    assert table.lines == [2, 4, 6]


def test_crlf_line_endings() -> None:
    table = parse_csv(b"a;b\r\n1;2\r\n3;4\r\n", "w.csv")
    assert table.rows == [["1", "2"], ["3", "4"]]
    assert table.lines == [2, 3]


def test_sniffer_ignores_separators_inside_quotes() -> None:
    assert sniff_delimiter('"a;b;c",d,e') == ","
    assert sniff_delimiter('"a,b,c";d;e') == ";"
    assert sniff_delimiter("single") == ","


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"", "coord.csv.empty"),
        (b"\n\n  \n", "coord.csv.empty"),
        (b"a,b\n1,\x002\n", "coord.csv.binary"),
        (b"a,a\n1,2\n", "coord.csv.duplicate_header"),
        (b'a,b\n1,"unterminated\n', "coord.csv.broken"),
        (b"a,b\n1," + b"x" * 10_001 + b"\n", "coord.csv.field_too_long"),
    ],
)
def test_hostile_files_are_refused_with_a_reason(raw: bytes, key: str) -> None:
    with pytest.raises(CsvError) as exc:
        parse_csv(raw, "h.csv")
    assert exc.value.key == key
    assert str(exc.value) != key  # a translated message, not the bare key


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(CsvError) as exc:
        read_csv(tmp_path / "nope.csv")
    assert exc.value.key == "coord.csv.unreadable"


def test_column_lookup_is_forgiving_about_case_and_spaces() -> None:
    table = parse_csv(b" Code ; Region \n1;KZ-ALA\n", "c.csv")
    assert table.column_index("code") == 0
    assert table.column_index("REGION") == 1
    assert table.column_index("district") is None


@pytest.mark.parametrize(("text", "value"), [("12", 12), (" 1 234 ", 1234), ("1\u00a0500", 1500), ("", None), ("0", 0)])
def test_parse_count_accepts(text: str, value: int | None) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["-1", "1.5", "12a", "١٢", "1,000", "1_000", "１２３"])
def test_parse_count_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_count(text)


@pytest.mark.parametrize("text", ["1_000", "١٢٣", "１２３", "1 ２"])
def test_digits_int_reads_but_a_count_does_not(text: str) -> None:
    """int() and numpy read these; the import's one grammar does not, and says why."""
    assert int(text.replace(" ", ""))
    with pytest.raises(NotPlainDigits):
        parse_count(text)
    assert not plain_digits(["12", text])
    assert plain_digits(["12", " 1 234 ", ""])


def test_regions_by_code_and_name_on_the_election_date() -> None:
    r2021 = UnitResolver(builtin_units("kz"), "2021-01-10")
    assert r2021.code("kz-75") == "KZ-ALA"
    assert r2021.code("г. Алматы") == "KZ-ALA"
    assert r2021.code("Алматинская область") == "KZ-ALM"
    assert r2021.code("Ақмола облысы") == "KZ-AKM"
    assert r2021.code("West Kazakhstan") == "KZ-ZAP"
    assert r2021.code("Нур-Султан") == "KZ-AST"
    assert r2021.code("Алматы") is None  # city or oblast: ambiguous, refused rather than guessed
    assert r2021.code("Абай облысы") is None  # created in 2022
    assert UnitResolver(builtin_units("kz"), "2023-03-19").code("Абай облысы") == "KZ-10"


def test_blank_lines_without_quoted_newlines_keep_file_line_numbers() -> None:
    table = parse_csv(b"a;b\n1;2\n\n3;4\n\n", "blank.csv")
    assert table.rows == [["1", "2"], ["3", "4"]]
    assert table.lines == [2, 4]


@pytest.mark.parametrize(
    ("raw", "rows", "lines"),
    [
        # single-line records with a blank line: streamed in chunks, file line numbers kept
        (b"a;b\n1;2\n3;4\n\n5;6\n7;8\n", [["1", "2"], ["3", "4"], ["5", "6"], ["7", "8"]], [2, 3, 5, 6]),
        # a quoted line break: read whole the careful way, then handed out in chunks
        (b'a;b\n1;"x\ny"\n3;4\n5;6\n', [["1", "x\ny"], ["3", "4"], ["5", "6"]], [2, 4, 5]),
    ],
)
def test_chunks_keep_rows_and_line_numbers(tmp_path: Path, raw: bytes, rows: list[list[str]], lines: list[int]) -> None:
    f = tmp_path / "c.csv"
    f.write_bytes(raw)
    head, chunks = read_csv_chunks(f, chunk_rows=2)
    assert head.header == ("a", "b") and head.rows == []
    got = list(chunks)
    assert all(len(c.rows) <= 2 for c in got)
    assert [r for c in got for r in c.rows] == rows
    assert [n for c in got for n in c.lines] == lines


def test_chunks_report_broken_quoting_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_bytes(b'a,b\n1,2\n3,"oops\n')
    with pytest.raises(CsvError) as exc:
        head, chunks = read_csv_chunks(f, chunk_rows=1)
        list(chunks)
    assert exc.value.key == "coord.csv.broken" and exc.value.params["line"] == 3


def test_import_summary_writes_numbers_as_the_language_does() -> None:
    from observer.csvio import ImportReport

    report = ImportReport("stations.csv", "utf-8", ",", 10_000, 9_500, 500, 10_000)
    assert "10\u00a0000" in report.summary("ru") and "9\u00a0500" in report.summary("kk")
    assert "10,000 rows imported" in report.summary("en")
