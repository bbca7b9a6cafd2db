"""Safe arithmetic expressions over protocol lines, used by templates.

Templates are user files, so expressions are parsed with :mod:`ast` and only a
tiny grammar is accepted: integer literals, line names, ``+ - *``, parentheses,
``sum(parties)`` and one comparison (``== != <= >= < >``). Nothing is ever
passed to ``eval``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from observer.i18n import Msg

PARTIES_SUM = "sum(parties)"

_COMPARE_OPS: dict[type, str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.LtE: "<=",
    ast.GtE: ">=",
    ast.Lt: "<",
    ast.Gt: ">",
}
_BIN_OPS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}


class ExpressionError(ValueError):
    """An expression is not in the accepted grammar; ``msg`` says why in any language."""

    def __init__(self, key: str, /, **params: object) -> None:
        self.msg = Msg("expr." + key, params)
        super().__init__(self.msg.render("en"))

    def __str__(self) -> str:
        return self.msg.render()


@dataclass(frozen=True)
class Term:
    """An arithmetic expression: a parsed AST node plus the names it reads."""

    source: str
    node: ast.expr
    names: frozenset[str]
    uses_parties: bool

    def evaluate(self, values: Mapping[str, int | None], party_keys: tuple[str, ...] = ()) -> int | None:
        """Value of the expression, or None if any value it reads is missing."""
        return _eval(self.node, values, party_keys)


@dataclass(frozen=True)
class Relation:
    """A comparison ``left OP right`` between two terms."""

    source: str
    left: Term
    op: str
    right: Term

    @property
    def names(self) -> frozenset[str]:
        return self.left.names | self.right.names

    @property
    def uses_parties(self) -> bool:
        return self.left.uses_parties or self.right.uses_parties

    def evaluate(
        self, values: Mapping[str, int | None], party_keys: tuple[str, ...] = ()
    ) -> tuple[bool | None, int | None, int | None]:
        """(holds, left value, right value); holds is None when a value is missing."""
        lv = self.left.evaluate(values, party_keys)
        rv = self.right.evaluate(values, party_keys)
        if lv is None or rv is None:
            return None, lv, rv
        return _compare(self.op, lv, rv), lv, rv


def _compare(op: str, a: int, b: int) -> bool:
    return {
        "==": a == b,
        "!=": a != b,
        "<=": a <= b,
        ">=": a >= b,
        "<": a < b,
        ">": a > b,
    }[op]


def _parse(source: str) -> ast.expr:
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("empty")
    if len(source) > 500:
        raise ExpressionError("too_long")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError("syntax", problem=exc.msg) from None
    return tree.body


def _collect(node: ast.expr, names: set[str]) -> bool:
    """Validate the arithmetic grammar; return whether sum(parties) is used."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            raise ExpressionError("whole_numbers", value=repr(node.value))
        return False
    if isinstance(node, ast.Name):
        names.add(node.id)
        return False
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BIN_OPS:
            raise ExpressionError("operators")
        left = _collect(node.left, names)
        right = _collect(node.right, names)
        return left or right
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _collect(node.operand, names)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "sum"
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "parties"
    ):
        return True
    raise ExpressionError("not_allowed", part=ast.unparse(node))


def parse_term(source: str) -> Term:
    node = _parse(source)
    if isinstance(node, ast.Compare):
        raise ExpressionError("no_comparison")
    names: set[str] = set()
    uses = _collect(node, names)
    return Term(source.strip(), node, frozenset(names), uses)


def parse_relation(source: str) -> Relation:
    node = _parse(source)
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        raise ExpressionError("one_comparison")
    op_type = type(node.ops[0])
    if op_type not in _COMPARE_OPS:
        raise ExpressionError("compare_ops")
    left_names: set[str] = set()
    right_names: set[str] = set()
    lu = _collect(node.left, left_names)
    ru = _collect(node.comparators[0], right_names)
    left = Term(ast.unparse(node.left), node.left, frozenset(left_names), lu)
    right = Term(ast.unparse(node.comparators[0]), node.comparators[0], frozenset(right_names), ru)
    return Relation(source.strip(), left, _COMPARE_OPS[op_type], right)


def _eval(node: ast.expr, values: Mapping[str, int | None], party_keys: tuple[str, ...]) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):  # the only constants _collect lets through
        return node.value
    if isinstance(node, ast.Name):
        return values.get(node.id)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, values, party_keys)
        return None if v is None else -v
    if isinstance(node, ast.BinOp):
        a = _eval(node.left, values, party_keys)
        b = _eval(node.right, values, party_keys)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        return a * b
    if isinstance(node, ast.Call):  # sum(parties), validated at parse time
        total = 0
        for key in party_keys:
            v = values.get(key)
            if v is None:
                return None
            total += v
        return total
    raise ExpressionError("cannot_evaluate", part=ast.unparse(node))
