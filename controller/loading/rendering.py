"""Render a PolicyTemplate's checks with a Policy's params, in a sandbox, value by value.

Templates come from the fleet repository, which many people can change, and they render
inside the controller. So the language is cut down to what a parameterised check needs:
expressions over ``params`` (attribute or item access, literals, arithmetic, comparisons,
``x if c else y``, ``~`` and a short list of filters). No ``{% %}`` statements, no calls, no
other names, no ``**``; ``*`` and ``%`` are intercepted so a short expression cannot build a
huge string or number. Each rendered string is capped, and so is one template's output.
On top of that it is jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` with
``StrictUndefined``, autoescape off and no loader (a template cannot include a file).

YAML text is never rendered: each string *value* is rendered in place and the structure is
kept, so a parameter can never inject keys. A value that is exactly one expression
(``"{{ params.max_days }}"``) keeps the expression's native type; anything else renders to a
string (``true``/``false`` for booleans, nothing for null).
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from controller.loading.locating import Loc

MAX_RENDERED_CHARS = 16 * 1024
"""The longest string one rendered value may be."""

MAX_TEMPLATE_OUTPUT_CHARS = 256 * 1024
"""All the strings one template renders to, together."""

MAX_EXPRESSION_CHARS = 4096
"""The longest template string the controller will parse."""

_MAX_INT_BITS = 256

ALLOWED_FILTERS = frozenset({
    "abs", "capitalize", "count", "d", "default", "first", "float", "int", "join", "last", "length",
    "list", "lower", "max", "min", "round", "sort", "string", "title", "trim", "unique", "upper",
})
ALLOWED_TESTS = frozenset({
    "boolean", "defined", "divisibleby", "eq", "false", "float", "ge", "gt", "in", "integer", "le",
    "lower", "lt", "ne", "none", "number", "odd", "even", "string", "true", "undefined", "upper",
})
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Getattr, nodes.Getitem,
    nodes.Slice, nodes.Const, nodes.List, nodes.Tuple, nodes.CondExpr, nodes.Compare, nodes.Operand,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Concat, nodes.Add, nodes.Sub,
    nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Filter, nodes.Test,
)


class RenderError(Exception):
    """A template string that cannot be parsed or rendered; ``loc`` is where it sits in the checks."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "%", "//", "/"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting of strings is not allowed; use '~' to join strings")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (isinstance(sequence, str | list | tuple) and isinstance(count, int)
                        and len(sequence) * max(count, 0) > MAX_RENDERED_CHARS):
                    raise SecurityError(f"repeating a string or list past {MAX_RENDERED_CHARS} items")
            if isinstance(left, int) and isinstance(right, int) and (
                    left.bit_length() + right.bit_length() > _MAX_INT_BITS):
                raise SecurityError("the numbers grow too large")
        return super().call_binop(context, operator, left, right)


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _environment() -> _Environment:
    return _Environment(undefined=StrictUndefined, autoescape=False, loader=None, finalize=_finalize,
                        keep_trailing_newline=True)


def is_template(value: str) -> bool:
    """Whether a string holds jinja2 syntax at all; plain strings are left exactly as written."""
    return "{{" in value or "{%" in value or "{#" in value


@dataclass(frozen=True)
class Expression:
    """One parsed template string: where it is, and the parameters it uses."""

    loc: Loc
    source: str
    tree: nodes.Template
    names: frozenset[str]
    whole: bool
    """The string is exactly one ``{{ expression }}``: it keeps the value's native type."""


def _check_nodes(tree: nodes.Template) -> tuple[set[str], str | None]:
    """The ``params`` names used, and why the template is not allowed (None when it is)."""
    used: set[str] = set()
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            return used, f"the filter '{node.name}' is not allowed; use one of {', '.join(sorted(ALLOWED_FILTERS))}"
        if isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
            return used, f"the test '{node.name}' is not allowed"
        if isinstance(node, nodes.Name) and node.name != "params":
            return used, f"'{node.name}' is not defined here; a template sees only params (params.<name>)"
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            used.add(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                used.add(node.arg.value)
            else:
                return used, "write params.<name> or params['<name>'] with a fixed name"
        elif isinstance(node, nodes.Getattr):
            return used, f"'.{node.attr}' is not allowed: only params.<name> may be read"
        if not isinstance(node, _ALLOWED_NODES):
            what = type(node).__name__
            if isinstance(node, nodes.Stmt):
                return used, f"statements ({{% ... %}}, here '{what}') are not allowed in a template value; " \
                             "write one {{ expression }}"
            if isinstance(node, nodes.Call):
                return used, "calling functions or methods is not allowed; use a filter (value | lower)"
            return used, f"'{what}' expressions are not allowed in a template"
    return used, None


def _whole(tree: nodes.Template) -> bool:
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return False
    parts = tree.body[0].nodes
    return len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData)


def parse(loc: Loc, source: str) -> Expression:
    """One template string, parsed and checked against the allowed language; raises RenderError."""
    if len(source) > MAX_EXPRESSION_CHARS:
        raise RenderError(loc, f"a template value may be at most {MAX_EXPRESSION_CHARS} characters long")
    try:
        tree = _environment().parse(source)
    except TemplateSyntaxError as error:
        where = f" (line {error.lineno} of the value)" if "\n" in source.strip() else ""
        raise RenderError(loc, f"template syntax error{where}: {error.message}") from None
    used, refused = _check_nodes(tree)
    if refused is not None:
        raise RenderError(loc, refused)
    return Expression(loc, source, tree, frozenset(used), _whole(tree))


def expressions(checks: Any, loc: Loc = ()) -> Iterator[Expression]:
    """Every template string in ``checks`` (a plain JSON-like tree), parsed; raises RenderError."""
    if isinstance(checks, str):
        if is_template(checks):
            yield parse(loc, checks)
    elif isinstance(checks, Mapping):
        for key, value in checks.items():
            yield from expressions(value, (*loc, key))
    elif isinstance(checks, list):
        for index, item in enumerate(checks):
            yield from expressions(item, (*loc, index))


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_TEMPLATE_OUTPUT_CHARS

    def spend(self, loc: Loc, size: int) -> None:
        if size > MAX_RENDERED_CHARS:
            raise RenderError(loc, f"renders to more than {MAX_RENDERED_CHARS} characters")
        self.left -= size
        if self.left < 0:
            raise RenderError(loc, f"the template renders to more than {MAX_TEMPLATE_OUTPUT_CHARS} "
                                   "characters in all")


def _native(value: Any) -> Any:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises, naming what is missing
    if isinstance(value, tuple | list):
        return [_native(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"the expression gives a {type(value).__name__}, which a check cannot hold")


def _size(value: Any) -> int:
    if isinstance(value, list):
        return sum(_size(item) for item in value) + len(value)
    return len(value) if isinstance(value, str) else 1


_WHOLE = re.compile(r"^\{\{[-+]?(.*?)[-+]?\}\}$", re.DOTALL)


def _render_one(environment: _Environment, expression: Expression, params: types.SimpleNamespace,
                budget: _Budget) -> Any:
    whole = _WHOLE.match(expression.source) if expression.whole else None
    if whole is not None:
        evaluate = environment.compile_expression(whole.group(1), undefined_to_none=False)
        value = _native(evaluate(params=params))
        budget.spend(expression.loc, _size(value))
        return value
    pieces: list[str] = []
    length = 0
    for piece in environment.from_string(expression.tree).generate(params=params):
        length += len(piece)
        if length > MAX_RENDERED_CHARS:  # stop a runaway render early
            break
        pieces.append(piece)
    budget.spend(expression.loc, length)
    return "".join(pieces)


def render(checks: Any, params: Mapping[str, Any]) -> Any:
    """``checks`` with every template string rendered with ``params``; raises RenderError.

    ``params`` must already be checked against the template's parameters (every declared
    one present, defaults filled in), as :mod:`controller.loading.templating` does.
    """
    environment = _environment()
    namespace = types.SimpleNamespace(**params)
    budget = _Budget()

    def walk(node: Any, loc: Loc) -> Any:
        if isinstance(node, str):
            if not is_template(node):
                return node
            expression = parse(loc, node)
            try:
                return _render_one(environment, expression, namespace, budget)
            except RenderError:
                raise
            except SecurityError as error:
                raise RenderError(loc, f"refused by the template sandbox: {error}") from None
            except (TemplateError, TypeError, ValueError, ArithmeticError, IndexError, KeyError,
                    AttributeError, RecursionError, MemoryError) as error:
                raise RenderError(loc, f"cannot render: {str(error)[:200] or type(error).__name__}") from None
        if isinstance(node, Mapping):
            return {key: walk(value, (*loc, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item, (*loc, index)) for index, item in enumerate(node)]
        return node

    return walk(checks, ())
