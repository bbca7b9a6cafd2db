"""The one escaping helper for text Baqylau writes out that someone else wrote.

Observer names, station codes, file and zip member names, CSV cells and
template labels arrive in packages and files a user was handed, and are
printed to a terminal or written to CSV/XLSX. Two things go wrong there:

- **Terminals** obey control characters: ESC starts a CSI or OSC sequence that
  can clear the screen, move the cursor or retitle the window, a carriage
  return overwrites the line, a line break forges a new line of output, and
  the Unicode bidi overrides reorder what is shown. :func:`terminal` shows
  each such character as a visible escape (``\\x1b``, ``\\u202e``), so the
  text is still there to read, but cannot act.
- **Spreadsheets** run a cell that starts with ``= + - @`` (or a tab or a
  carriage return before one) as a formula: ``=HYPERLINK(...)`` in a station
  code is a link to an attacker's site in the coordinator's Excel.
  :func:`spreadsheet` puts an apostrophe before such a cell (OWASP's advice:
  Excel and LibreOffice then show it as text) and escapes control characters,
  which openpyxl refuses outright.

Every printed or exported value of that kind goes through this module; the
command-line modules call it at the place they format the value, and main.py
renders error messages with :func:`terminal_error`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from observer.errors import BaqylauError
from observer.i18n import Msg, tr

T = TypeVar("T")

# Bidi marks, embeddings, overrides and isolates (Unicode TR9), and the line / paragraph separators.
_BIDI_AND_SEPARATORS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
# C0 controls (with ESC, CR, LF, TAB), DEL and the C1 controls (0x9b is a one-byte CSI).
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
# A spreadsheet treats a cell starting with one of these as a formula (or as one after a tab / CR).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    # \uXXXX (not \xXX) so that the same escape is also valid inside a JSON string.
    return _NAMED.get(ch) or f"\\u{ord(ch):04x}"


def terminal(value: object, *, keep_newlines: bool = False) -> str:
    """``value`` as text that a terminal only displays: control and bidi characters shown escaped.

    ``keep_newlines`` lets line breaks through, for text whose lines are ours
    (a whole JSON document whose strings json.dumps has already escaped).
    """
    text = value if isinstance(value, str) else str(value)
    pattern = _UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE
    return pattern.sub(_visible, text)


def terminal_params(params: Mapping[str, object]) -> dict[str, object]:
    """Message parameters with every text made terminal-safe (numbers are left as they are)."""
    out: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, Msg):
            out[key] = Msg(value.key, terminal_params(value.params))
        elif isinstance(value, (bool, int, float)):
            out[key] = value
        else:
            out[key] = terminal(value)
    return out


def terminal_error(exc: BaqylauError, lang: str | None = None) -> str:
    """An error's message for a terminal: the catalogue's words, the file's contents escaped."""
    return tr(exc.key, lang, **terminal_params(exc.params))


def spreadsheet(value: T) -> T | str:
    """A CSV/XLSX cell that a spreadsheet shows as it is and never runs; non-text values unchanged."""
    if not isinstance(value, str):
        return value
    text = _UNSAFE_BUT_NEWLINE.sub(_visible, value)
    if value.lstrip(" ").startswith(FORMULA_START):
        return "'" + text
    return text
