"""Election templates: what a protocol holds and how it is checked.

A template is a TOML file (see docs/templates.md). It is user input, so every
problem is reported as a :class:`TemplateError` naming the line of the file.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from observer.errors import TemplateError
from observer.expressions import ExpressionError, Relation, Term, parse_relation, parse_term
from observer.i18n import LANGUAGES, Msg, current_language, tr
from observer.regionmap import BUILTIN_MAPS, MAP_SUFFIXES
from observer.toml_limits import INT64_MAX, INT64_MIN, TomlLimit, int64_problem, line_of, read_toml
from observer.units import BUILTIN_UNITS, UnitSet, builtin_units, parse_units

FORMAT_VERSION = 1
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
SEVERITIES = ("error", "warning")
MAX_TEMPLATE_BYTES = 512 * 1024

BUILTIN_TEMPLATES: tuple[str, ...] = (
    "kz-majilis-2021",
    "kz-majilis-2023",
    "kz-president-2019",
    "kz-referendum-2022",
    "kz-president-2022",
)


@dataclass(frozen=True)
class Labels:
    """A text in ru/kk/en; a missing language falls back to ru, then en."""

    values: Mapping[str, str]

    def get(self, lang: str | None = None) -> str:
        lang = lang or current_language()
        for candidate in (lang, "ru", "en", *self.values.keys()):
            text = self.values.get(candidate)
            if text:
                return text
        return ""


@dataclass(frozen=True)
class Line:
    key: str
    labels: Labels
    number: str = ""  # the line's number on the paper form, if it has one


@dataclass(frozen=True)
class Party:
    key: str
    labels: Labels
    short: Labels | None = None  # for narrow columns and charts; per language, like the labels

    def short_name(self, lang: str | None = None) -> str:
        """The short name in ``lang`` ("Ақ жол" in Kazakh, "Ak Zhol" in English), else the full name.

        A short name given in other languages only is not borrowed: the full name in the
        reader's language reads better than a name in another alphabet.
        """
        text = self.short.values.get(lang or current_language(), "") if self.short is not None else ""
        return text or self.labels.get(lang)


@dataclass(frozen=True)
class Check:
    relation: Relation
    severity: str
    labels: Labels | None = None  # optional human wording of the rule

    @property
    def source(self) -> str:
        return self.relation.source


@dataclass(frozen=True)
class Category:
    code: str
    labels: Labels


@dataclass(frozen=True)
class Question:
    key: str
    labels: Labels


@dataclass(frozen=True)
class ElectionTemplate:
    id: str
    names: Labels
    date: str
    country: str
    lines: tuple[Line, ...]
    parties: tuple[Party, ...]
    checks: tuple[Check, ...]
    voted: Term
    registered: Term
    share_base: Term
    ballots_cast: Term
    invalid: Term
    threshold_pct: float
    reporting_times: tuple[str, ...]
    polls_open: str
    polls_close: str
    violation_categories: tuple[Category, ...]
    spoiled_reasons: tuple[Category, ...]
    opening_checklist: tuple[Question, ...]
    closing_checklist: tuple[Question, ...]
    source_text: str = field(repr=False, compare=False, default="")
    units: UnitSet | None = None  # None: any region name the files use, grouped as written
    national: Labels | None = None  # the national unit's name; else the units file's, else a generic one
    utc_offset: int | None = None  # station clocks when the units do not say (None: the computer's)
    map_file: str = ""  # [map] file: a built-in map ("kz") or a GeoJSON path relative to the template; "" = none

    def national_name(self, lang: str | None = None) -> str:
        """What the whole-country row is called: «Казахстан (все участки)», «Россия (все участки)»."""
        if self.national is not None:
            return self.national.get(lang)
        if self.units is not None and self.units.national:
            return self.units.national_name(lang)
        return tr("units.national.default", lang)

    def published_time(self, at: datetime, region: str | None = None) -> datetime:
        """``at`` as a report prints it: on the clock of ``region``'s stations, or of the capital
        (``region`` None; Astana for Kazakhstan), by the units' clocks, else the template's
        ``utc_offset``, else UTC: never the clock of the computer that builds the report, so the
        same data gives the same PDF anywhere."""
        if region is None:
            region = "KZ-AST" if self.country.upper() == "KZ" else ""
        hours = self.units.utc_offset(region, at) if self.units is not None and region else None
        if hours is None:
            hours = self.utc_offset if self.utc_offset is not None else 0
        return at.astimezone(timezone(timedelta(hours=hours)))

    def station_time(self, at: datetime, region: str) -> datetime:
        """``at`` on the clock of a station in ``region``: the units' clocks, else ``utc_offset``, else the computer's."""
        hours = self.units.utc_offset(region, at) if self.units is not None else None
        if hours is None and self.utc_offset is not None:
            hours = self.utc_offset
        return at.astimezone() if hours is None else at.astimezone(timezone(timedelta(hours=hours)))

    @property
    def line_keys(self) -> tuple[str, ...]:
        return tuple(line.key for line in self.lines)

    @property
    def party_keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.parties)

    @property
    def all_keys(self) -> tuple[str, ...]:
        return self.line_keys + self.party_keys

    def line(self, key: str) -> Line | Party:
        items: list[Line | Party] = [*self.lines, *self.parties]
        for item in items:
            if item.key == key:
                return item
        raise KeyError(key)

    def label(self, key: str, lang: str | None = None) -> str:
        return self.line(key).labels.get(lang)

    def category(self, code: str) -> Category | None:
        return next((c for c in self.violation_categories if c.code == code), None)


def _p(name: str, /, **params: object) -> Msg:
    """What is wrong with a template field, put into words in the reader's language.

    ``name`` is positional-only: a problem may well have a parameter called ``key``.
    """
    return Msg("template.problem." + name, params)


class _Reader:
    """Walks the parsed TOML and raises errors that name the file's line."""

    def __init__(self, text: str, origin: str) -> None:
        self.text = text
        self.origin = origin

    def fail(self, where: str, problem: Msg, needle: str = "", *, last: bool = False) -> TemplateError:
        line = line_of(self.text, needle, last=last) or line_of(self.text, where.split(".")[-1].split("[")[0])
        return TemplateError("error.template.field", file=self.origin, line=line or "?", where=where, problem=problem)

    def table(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, _p("not_table"))
        return data

    def string(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True, default: str = "") -> str:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(f"{where}.{key}" if where else key, _p("missing"), needle=where.split("[")[0])
            return default
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}" if where else key, _p("not_text"), needle=f"{key}")
        return value

    def labels(self, data: Mapping[str, Any], where: str, key: str = "") -> Labels:
        values = {lang: data[lang] for lang in LANGUAGES if isinstance(data.get(lang), str) and data[lang].strip()}
        if not values:
            raise self.fail(where, _p("no_label"), needle=key)
        return Labels(values)

    def key(self, data: Mapping[str, Any], where: str, name: str = "key") -> str:
        value = self.string(data, name, where)
        if not _KEY_RE.match(value):
            raise self.fail(
                f"{where}.{name}",
                _p("bad_key", value=value),
                needle=value,
            )
        return value

    def term(self, source: Any, where: str, known: set[str]) -> Term:
        if not isinstance(source, str):
            raise self.fail(where, _p("not_expression"))
        try:
            term = parse_term(source)
        except ExpressionError as exc:
            raise self.fail(where, exc.msg, needle=source) from None
        self._known(term.names, where, source, known)
        self._constants(term.node, where, source)
        return term

    def relation(self, source: Any, where: str, known: set[str]) -> Relation:
        if not isinstance(source, str):
            raise self.fail(where, _p("not_expression"))
        try:
            rel = parse_relation(source)
        except ExpressionError as exc:
            raise self.fail(where, exc.msg, needle=source) from None
        self._known(rel.names, where, source, known)
        self._constants(rel.left.node, where, source)
        self._constants(rel.right.node, where, source)
        return rel

    def _known(self, names: frozenset[str], where: str, source: str, known: set[str]) -> None:
        unknown = sorted(names - known)
        if unknown:
            raise self.fail(where, _p("unknown_line", name=unknown[0], source=source), needle=source)

    def _constants(self, node: ast.expr, where: str, source: str) -> None:
        """Every number in an expression fits int64: numpy and SQLite compute with nothing larger."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, int) and not INT64_MIN <= sub.value <= INT64_MAX:
                raise self.fail(where, int64_problem(sub.value), needle=source)

    def items(self, data: Mapping[str, Any], key: str, *, required: bool = True) -> list[dict[str, Any]]:
        value = data.get(key, [] if not required else None)
        if value is None:
            raise self.fail(key, _p("missing_list", key=key))
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, _p("not_list", key=key), needle=key)
        return value


def _toml_or_error(text: str, origin: str) -> dict[str, Any]:
    """The template's TOML as a dict; syntax errors and limits become TemplateErrors naming the line."""
    try:
        return read_toml(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _toml_error_line(str(exc))
        raise TemplateError(
            "error.template.syntax", file=origin, line=line or "?", problem=str(exc).split(" (at")[0]
        ) from None
    except TomlLimit as exc:
        raise TemplateError("error.template.limit", file=origin, line=exc.line or "?", problem=exc.problem) from None


def parse_template(text: str, origin: str = "<template>") -> ElectionTemplate:
    """Parse and validate a template; raises TemplateError naming the line."""
    data = _toml_or_error(text, origin)
    r = _Reader(text, origin)
    fmt = data.get("format", FORMAT_VERSION)
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise r.fail("format", _p("newer_format", found=fmt, supported=FORMAT_VERSION), needle="format")
    tid = r.string(data, "id", "")
    if not re.match(r"^[a-z0-9][a-z0-9._-]{0,63}$", tid):
        raise r.fail("id", _p("bad_id", value=tid), needle=tid)
    names = r.labels(r.table(data.get("name", {}), "name"), "name", "[name]")
    lines, parties, seen = _lines_and_parties(r, data)
    checks = _checks(r, data, seen)
    turnout = r.table(data.get("turnout", {}), "turnout")
    results = r.table(data.get("results", {}), "results")
    threshold = results.get("threshold_pct", 0)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < 100:
        raise r.fail("results.threshold_pct", _p("bad_threshold"), needle="threshold_pct")
    times, polls_open, polls_close = _times(r, turnout)
    checklists = r.table(data.get("checklists", {}), "checklists")
    country = r.string(data, "country", "", required=False)
    units, national, utc_offset = _units(r, data, country)
    map_file = _map(r, data, country)
    return ElectionTemplate(
        id=tid,
        names=names,
        date=r.string(data, "date", "", required=False),
        country=country,
        lines=lines,
        parties=parties,
        checks=checks,
        voted=r.term(turnout.get("voted"), "turnout.voted", seen),
        registered=r.term(turnout.get("registered"), "turnout.registered", seen),
        share_base=r.term(results.get("share_base"), "results.share_base", seen),
        ballots_cast=r.term(results.get("ballots_cast"), "results.ballots_cast", seen),
        invalid=r.term(results.get("invalid"), "results.invalid", seen),
        threshold_pct=float(threshold),
        reporting_times=times,
        polls_open=polls_open,
        polls_close=polls_close,
        violation_categories=_categories(r, data, "violation_categories"),
        spoiled_reasons=_categories(r, data, "spoiled_reasons"),
        opening_checklist=_questions(r, checklists, "opening"),
        closing_checklist=_questions(r, checklists, "closing"),
        source_text=text,
        units=units,
        national=national,
        utc_offset=utc_offset,
        map_file=map_file,
    )


def _lines_and_parties(r: _Reader, data: Mapping[str, Any]) -> tuple[tuple[Line, ...], tuple[Party, ...], set[str]]:
    """The protocol lines and the parties; their keys share one name space (returned as ``seen``)."""
    lines: list[Line] = []
    seen: set[str] = set()
    for i, item in enumerate(r.items(data, "lines")):
        where = f"lines[{i + 1}]"
        key = r.key(item, where)
        if key in seen:
            raise r.fail(f"{where}.key", _p("twice", value=key), needle=f'"{key}"', last=True)
        seen.add(key)
        lines.append(Line(key, r.labels(item, where, key), str(item.get("number", ""))))
    if not lines:
        raise r.fail("lines", _p("no_lines"), needle="lines")
    parties: list[Party] = []
    for i, item in enumerate(r.items(data, "parties")):
        where = f"parties[{i + 1}]"
        key = r.key(item, where)
        if key in seen or key == "parties":
            raise r.fail(f"{where}.key", _p("key_used", value=key), needle=f'"{key}"', last=True)
        seen.add(key)
        parties.append(Party(key, r.labels(item, where, key), _short(r, item, where)))
    if not parties:
        raise r.fail("parties", _p("no_parties"), needle="parties")
    return tuple(lines), tuple(parties), seen


def _checks(r: _Reader, data: Mapping[str, Any], seen: set[str]) -> tuple[Check, ...]:
    checks: list[Check] = []
    for i, item in enumerate(r.items(data, "checks", required=False)):
        where = f"checks[{i + 1}]"
        rel = r.relation(item.get("expr"), f"{where}.expr", seen)
        severity = r.string(item, "severity", where, required=False, default="error")
        if severity not in SEVERITIES:
            raise r.fail(
                f"{where}.severity", _p("bad_severity", value=severity, allowed=", ".join(SEVERITIES)), needle=severity
            )
        labels = r.labels(item, where) if any(lang in item for lang in LANGUAGES) else None
        checks.append(Check(rel, severity, labels))
    return tuple(checks)


def _times(r: _Reader, turnout: Mapping[str, Any]) -> tuple[tuple[str, ...], str, str]:
    """Reporting times (HH:MM, in order, no repeats) and the polls' opening and closing."""
    times = turnout.get("reporting_times", [])
    if not isinstance(times, list) or not all(isinstance(t, str) and _TIME_RE.match(t) for t in times):
        raise r.fail("turnout.reporting_times", _p("bad_times"), needle="reporting_times")
    if times != sorted(set(times)):
        raise r.fail("turnout.reporting_times", _p("times_order"), needle="reporting_times")
    polls_open = r.string(turnout, "polls_open", "turnout", required=False, default="07:00")
    polls_close = r.string(turnout, "polls_close", "turnout", required=False, default="20:00")
    for name, value in (("polls_open", polls_open), ("polls_close", polls_close)):
        if not _TIME_RE.match(value):
            raise r.fail(f"turnout.{name}", _p("bad_time", value=value), needle=name)
    return tuple(times), polls_open, polls_close


def _units(r: _Reader, data: Mapping[str, Any], country: str) -> tuple[UnitSet | None, Labels | None, int | None]:
    """The template's ``[units]``: a built-in units file, its own list, or none (any region name).

    A template without ``[units]`` for Kazakhstan (``country = "KZ"``, every template
    written before units came from data) gets the built-in ``kz`` file.
    """
    if "units" not in data:
        return (builtin_units("kz") if country.upper() == "KZ" else None), None, None
    table = r.table(data["units"], "units")
    known = {"file", "list", "national", "utc_offset"}
    for key in table:
        if key not in known:
            raise r.fail(f"units.{key}", _p("unknown_units_key", key=key, known=", ".join(sorted(known))), needle=key)
    national = (
        r.labels(r.table(table["national"], "units.national"), "units.national", "national")
        if "national" in table
        else None
    )
    offset = table.get("utc_offset")
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int) or not -12 <= offset <= 14):
        raise r.fail("units.utc_offset", _p("bad_utc"), needle="utc_offset")
    if "file" in table:
        name = table["file"]
        if name not in BUILTIN_UNITS:
            raise r.fail("units.file", _p("unknown_units", value=name, known=", ".join(BUILTIN_UNITS)), needle="file")
        return builtin_units(name), national, offset
    if "list" in table:
        units = parse_units(table, lambda where, problem: r.fail(where, problem, needle=where.rsplit(".", 1)[-1]))
        return UnitSet(country, units.units, units.national, units.utc), national, offset
    return None, national, offset


def _map(r: _Reader, data: Mapping[str, Any], country: str) -> str:
    """The template's ``[map] file``: a built-in map or a GeoJSON file (observer/regionmap.py reads it).

    A Kazakh template without ``[map]`` gets the built-in ``kz`` map, as it gets the ``kz`` units.
    """
    if "map" not in data:
        return BUILTIN_MAPS[0] if country.upper() == "KZ" else ""
    table = r.table(data["map"], "map")
    for key in table:
        if key != "file":
            raise r.fail(f"map.{key}", _p("unknown_map_key", key=key), needle=key)
    name = r.string(table, "file", "map").strip()
    if name not in BUILTIN_MAPS and (len(name) > 255 or not name.lower().endswith(MAP_SUFFIXES)):
        raise r.fail("map.file", _p("bad_map", value=name[:60], known=", ".join(BUILTIN_MAPS)), needle="file")
    return name


def _short(r: _Reader, item: Mapping[str, Any], where: str) -> Labels | None:
    """A party's short name: ``short = { ru = "...", kk = "...", en = "..." }``, or one text for all languages."""
    value = item.get("short")
    if value is None:
        return None
    if isinstance(value, dict):
        return r.labels(value, f"{where}.short", "short")
    text = r.string(item, "short", where)
    return Labels({lang: text for lang in LANGUAGES}) if text.strip() else None


def _categories(r: _Reader, data: Mapping[str, Any], key: str) -> tuple[Category, ...]:
    """Violation categories or spoiled-ballot reasons: what observers record, so optional (empty when absent).

    A coordinator's template for official results only has no use for them.
    """
    out: list[Category] = []
    codes: set[str] = set()
    for i, item in enumerate(r.items(data, key, required=False)):
        where = f"{key}[{i + 1}]"
        code = r.string(item, "code", where)
        if not re.match(r"^[A-Z][A-Z0-9_]{0,39}$", code):
            raise r.fail(f"{where}.code", _p("bad_code", value=code), needle=code)
        if code in codes:
            raise r.fail(f"{where}.code", _p("twice", value=code), needle=f'"{code}"', last=True)
        codes.add(code)
        out.append(Category(code, r.labels(item, where, code)))
    return tuple(out)


def _questions(r: _Reader, data: Mapping[str, Any], key: str) -> tuple[Question, ...]:
    out: list[Question] = []
    keys: set[str] = set()
    for i, item in enumerate(r.items(data, key, required=False)):
        where = f"checklists.{key}[{i + 1}]"
        qkey = r.key(item, where)
        if qkey in keys:
            raise r.fail(f"{where}.key", _p("twice", value=qkey), needle=f'"{qkey}"', last=True)
        keys.add(qkey)
        out.append(Question(qkey, r.labels(item, where, qkey)))
    return tuple(out)


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def load_template(path: str | Path) -> ElectionTemplate:
    """Read a user's template file."""
    p = Path(path)
    try:
        raw = p.read_bytes()[: MAX_TEMPLATE_BYTES + 1]
    except OSError as exc:
        raise TemplateError("error.template.unreadable", file=str(p), problem=exc.strerror or str(exc)) from None
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise TemplateError("error.template.too_big", file=str(p), limit=MAX_TEMPLATE_BYTES // 1024)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TemplateError("error.template.encoding", file=str(p)) from None
    return parse_template(text, p.name)


def builtin_template(template_id: str) -> ElectionTemplate:
    if template_id not in BUILTIN_TEMPLATES:
        raise TemplateError("error.template.unknown", name=template_id, known=", ".join(BUILTIN_TEMPLATES))
    text = resources.files("resources.templates").joinpath(f"{template_id}.toml").read_text(encoding="utf-8")
    return parse_template(text, f"{template_id}.toml")


def resolve_template(name_or_path: str) -> ElectionTemplate:
    """A built-in template id, or a path to a template file."""
    if name_or_path in BUILTIN_TEMPLATES:
        return builtin_template(name_or_path)
    return load_template(name_or_path)
