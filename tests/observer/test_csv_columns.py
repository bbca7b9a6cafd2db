"""The plain CSV reader (observer.csv_columns): what it takes gives exactly what csv.reader gives, the rest it leaves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observer.csv_columns import PlainCsv, plain_csv
from observer.csvio import CsvError, CsvTable, parse_count, parse_csv
from observer.mapping import compound_codes


def _plain(data: bytes, encoding: str = "cp1251", delimiter: str = ";") -> PlainCsv | None:
    text = data.decode("utf-8" if encoding.startswith("utf-8") else encoding)
    return plain_csv(data, text.removeprefix("\ufeff"), "x.csv", encoding, delimiter, 10_000)


def _same_as_csv_reader(data: bytes, table: PlainCsv, encoding: str = "cp1251", delimiter: str = ";") -> None:
    ref = parse_csv(data, "x.csv", encoding=encoding.removesuffix("-sig"), delimiter=delimiter)
    assert table.header == ref.header
    assert table.lines == ref.lines
    for idx in range(len(ref.header)):
        assert table.column(idx) == ref.column(idx), idx


@pytest.mark.parametrize(
    "data",
    [
        b"a;b\r\n1;2\r\n",
        b"a;b\n1;2",  # no line break at the end
        b"a;b\n1;2\r\n\r\n\r\n",  # Excel's blank last lines
        b"a;b\n1;\n;2\n",  # empty cells, also the last one
        b'a;b\n"x;y";2\n',  # a quoted separator
        b'a;b\n"x""y";"2"\r\n',  # a doubled quote; a quoted last cell before CR LF
        b'a;b\n"";2\n',  # an empty quoted cell
        b'"a;x";b\n1;2\n',  # a quoted header cell
        b"a;b\n 1 ;\xa0x\n",  # spaces are kept: csv.reader keeps them too
    ],
)
def test_a_plain_file_reads_as_csv_reader_reads_it(data: bytes) -> None:
    table = _plain(data)
    assert table is not None
    _same_as_csv_reader(data, table)


@pytest.mark.parametrize(
    "data",
    [
        b"a;b\r\n1;2\r\n\r\n3;4\r\n",  # a blank line in between
        b"a;b\n1;2;3\n",  # a long row
        b"a;b\n1\n",  # a short row
        b'a;b\nx"y;2\n',  # a quote inside an unquoted cell
        b'a;b\n"x"y;2\n',  # text after a closing quote (csv.reader's strict error)
        b'a;b\n"x\ny";2\n',  # a quoted line break: one record over two lines
        b'a;b\n"x;2\n',  # an unclosed quote
        b'a;b\n"x"""";2\n',  # an odd number of quotes in a cell
        b"a;b\n1\r2;3\n",  # a lone CR (a line break for csv.reader)
        b"\na;b\n1;2\n",  # a blank first line
        b"a;b\n",  # a header only
        b"a\n1\n",  # one column
    ],
)
def test_anything_less_plain_is_left_to_csv_reader(data: bytes) -> None:
    assert _plain(data) is None


def test_a_field_over_the_limit_is_left_to_csv_reader_which_names_its_line() -> None:
    data = b"a;b\n1;2\n3;" + b"x" * 10_001 + b"\n"
    assert _plain(data) is None
    with pytest.raises(CsvError) as exc:
        parse_csv(data, "x.csv")
    assert exc.value.key == "coord.csv.field_too_long" and exc.value.params["line"] == 3


def test_utf8_with_bom_and_commas() -> None:
    data = '\ufeffКод,Адрес,Число\n1,"ул. Абая, 1",10\n2,Көкшетау,20\n'.encode()
    table = _plain(data, "utf-8-sig", ",")
    assert table is not None and table.header == ("Код", "Адрес", "Число")
    _same_as_csv_reader(data, table, "utf-8-sig", ",")
    assert table.digits([2]).tolist() == [[10], [20]]  # type: ignore[union-attr]


def test_digits_of_the_last_cells_before_cr_lf() -> None:
    """A run of number columns ending the line: the CR before the line feed is not part of the last number."""
    table = _plain(b"a;b;c\r\n1;2;3\r\n4;5;60\r\n")
    assert table is not None
    assert table.digits([1, 2]).tolist() == [[2, 3], [5, 60]]  # type: ignore[union-attr]
    assert table.digits([2]).tolist() == [[3], [60]]  # type: ignore[union-attr]
    assert table.digits([0, 1, 2]).tolist() == [[1, 2, 3], [4, 5, 60]]  # type: ignore[union-attr]


_CELL = st.text(alphabet='ab1 ;,"\r\n\xa0Ж', max_size=6)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_CELL, min_size=2, max_size=4), min_size=2, max_size=6), st.sampled_from([";", ","]))
def test_whatever_it_takes_it_reads_as_csv_reader(rows: list[list[str]], delimiter: str) -> None:
    """Random cells, quoted or not, joined by hand (so also broken): plain_csv says None or agrees with csv.reader."""
    text = "\n".join(delimiter.join(cells) for cells in rows) + "\n"
    data = text.encode("cp1251")
    table = _plain(data, "cp1251", delimiter)  # never raises: a refusal is the csv path's to word
    if table is None:
        return
    try:
        ref = parse_csv(data, "x.csv", encoding="cp1251", delimiter=delimiter)
    except CsvError:
        pytest.fail("plain_csv read a file csv.reader refuses")
    assert table.header == ref.header and table.lines == ref.lines
    for idx in range(len(ref.header)):
        assert table.column(idx) == ref.column(idx)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.text(alphabet='0123456789 -x"', max_size=11), min_size=3, max_size=3), min_size=1, max_size=5),
    st.sampled_from(["\n", "\r\n"]),
)
def test_digits_are_the_counts_or_nothing(cells: list[list[str]], end: str) -> None:
    """The block of numbers is exactly what parse_count reads, and only when every cell is 1-9 plain digits, unquoted
    (a CR before the line feed is not in the last cell)."""
    data = ("a;b;c" + end + end.join(";".join(row) for row in cells) + end).encode()
    table = _plain(data)
    if table is None:
        return
    ref = parse_csv(data, "x.csv", encoding="cp1251", delimiter=";")
    for idxs in ([0, 1, 2], [1], [2, 0], [1, 2]):
        block = table.digits(idxs)
        plain = all(ref.column(i)[r].isdigit() and len(ref.column(i)[r]) <= 9 for i in idxs for r in range(len(ref)))
        plain = plain and all(c.isascii() for i in idxs for c in ref.column(i))
        if not plain:
            assert block is None
            continue
        if b'"' in data:  # a quoted number is left to the cell-by-cell parse
            continue
        assert block is not None
        assert block.tolist() == [[parse_count(ref.column(i)[r]) for i in idxs] for r in range(len(ref))]


@pytest.mark.parametrize(
    ("data", "encoding", "fast"),
    [
        (b"r;t;u;v\nA;B;C;1\nX;Y;Z;2\n", "cp1251", True),
        (b"r;t;u;v\nA ;B;C;1\nA;B;C;2\n", "cp1251", False),  # a part to strip
        (b"r;t;u;v\nA;\xa0B;C;1\nX;Y;Z;2\n", "cp1251", False),  # a no-break space to strip
        ("r;t;u;v\nА;Б\u00a0;В;1\nГ;Д;Е;2\n".encode(), "utf-8", False),
        ("r;t;u;v\nА;Б;В\u3000;1\nГ;Д;Е;2\n".encode(), "utf-8", False),
        ("r;t;u;v\nА;Б;В;1\nГ;Д;Е;2\n".encode(), "utf-8", True),
        (b'r;t;u;v\n"A";B;C;1\nX;Y;Z;2\n', "cp1251", False),  # a quoted part
        (b"r;t;u;v\nA;;C;1\nX;Y;Z;2\n", "cp1251", False),  # an empty part: named by the slow way
    ],
)
def test_compound_codes_of_a_plain_file_are_the_stripped_parts_joined(data: bytes, encoding: str, fast: bool) -> None:
    table = _plain(data, encoding)
    assert table is not None
    for idxs, sep in (([0, 1, 2], "/"), ([0, 1, 2], ";"), ([0, 2], " | "), ([1], "/")):
        ref = compound_codes(parse_csv(data, "x.csv", encoding=encoding), idxs, sep)
        assert compound_codes(table, idxs, sep) == ref
        joined = table.joined(idxs, sep)
        assert joined is None or joined == ref[0]
    assert (table.joined([0, 1, 2], "/") is not None) == fast


def test_a_plain_table_and_a_csv_table_are_both_chunks() -> None:
    data = b"a;b\n1;2\n"
    table = _plain(data)
    assert table is not None and len(table) == 1 and not isinstance(table, CsvTable)
    assert isinstance(table.digits([0, 1]), np.ndarray)
