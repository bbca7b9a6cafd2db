"""TOML with limits, for every TOML file a user hands the program (templates, column mappings).

``tomllib`` recurses once per nested array or table, and TOML integers may be larger than
SQLite and numpy hold: a hostile file must be refused with its line, never a RecursionError
or an overflow later on.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from observer.i18n import Msg


def line_of(text: str, needle: str, *, last: bool = False) -> int:
    """1-based line of the first (or last) occurrence of ``needle`` in the file, or 0."""
    if not needle:
        return 0
    found = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            if not last:
                return number
            found = number
    return found


MAX_TOML_DEPTH = 20  # a template nests 3 deep ([[checklists.opening]]); tomllib recurses per level
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite and numpy hold; TOML 1.0 allows no more either


class TomlLimit(ValueError):
    """A TOML file that goes past what Baqylau reads: ``problem`` says how, ``line`` where (0 if unknown)."""

    def __init__(self, line: int, problem: Msg) -> None:
        super().__init__(problem.render("en"))
        self.line = line
        self.problem = problem


def read_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` that refuses nesting deeper than MAX_TOML_DEPTH and integers beyond int64.

    The brackets are counted before parsing, because tomllib recurses once per
    nested array or inline table and 2,000 levels end in a RecursionError;
    the parsed document is measured again, because tables and dotted keys
    (``a.b.c = 1``) nest without brackets. Raises tomllib.TOMLDecodeError for
    bad syntax and TomlLimit for the limits.
    """
    too_deep = Msg("template.problem.too_deep", {"limit": MAX_TOML_DEPTH})
    brackets, bracket_line = _bracket_depth(text)
    if brackets > MAX_TOML_DEPTH:
        raise TomlLimit(bracket_line, too_deep)
    try:
        data = tomllib.loads(text)
    except RecursionError:  # the count above should have seen it first; still never a traceback
        raise TomlLimit(0, too_deep) from None
    if not _check_values(data, text):
        raise TomlLimit(_line_of_dots(text, MAX_TOML_DEPTH) or bracket_line, too_deep)
    return data


# Strings and comments (their brackets do not nest anything), and the brackets that do.
_TOML_TOKEN = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*(?:"""|$)'
    r"|'''(?:[^']|'(?!''))*(?:'''|$)"
    r'|"(?:[^"\\\n]|\\.)*(?:"|$)'
    r"|'[^'\n]*(?:'|$)"
    r"|#[^\n]*"
    r"|[\[\]{}]",
    re.DOTALL | re.MULTILINE,
)


def _bracket_depth(text: str) -> tuple[int, int]:
    """How deep arrays and inline tables nest (outside strings and comments), and the first line that deep.

    One regex walks from string to comment to bracket, so the Python loop only
    runs once per token, not once per character.
    """
    depth = deepest = 0
    where = 0
    for token in _TOML_TOKEN.finditer(text):
        kind = token.group()
        if kind in ("[", "{"):
            depth += 1
            if depth > deepest:
                deepest, where = depth, token.start()
        elif kind in ("]", "}"):
            depth = max(0, depth - 1)
    return deepest, (text.count("\n", 0, where) + 1 if deepest else 0)


def _check_values(data: dict[str, Any], text: str) -> bool:
    """False when tables and lists nest deeper than MAX_TOML_DEPTH below the top level; refuses big integers.

    Walks with a stack, not recursion: the document may be as deep as the file allows.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_TOML_DEPTH:
                return False
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
        elif isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
            raise TomlLimit(line_of(text, str(abs(value))[:12]), int64_problem(value))
    return True


def int64_problem(value: int) -> Msg:
    shown = str(value) if len(str(value)) <= 30 else str(value)[:27] + "…"
    return Msg("template.problem.int64", {"value": shown})


def _line_of_dots(text: str, limit: int) -> int:
    """The first line whose key or table header has ``limit`` dotted parts or more, or 0."""
    for number, raw in enumerate(text.splitlines(), start=1):
        head = raw.strip()
        key = head.strip("[]") if head.startswith("[") else head.split("=", 1)[0]
        if key.count(".") >= limit - 1:
            return number
    return 0
