"""What kind of value each part of a criterion rule gives, found from its text.

A rule that compiles can still never be met: `1 + 1` gives a number, not true
or false; `deal.value > "abc"` compares a number with text, which fails on
every deal; `held("meeting", 5)` gives held() a number for a tag. Such a rule
would block every move out of its stage, so `type_problem` finds it when the
pipeline is validated, from the rule's tree and the kinds of the values the
context holds (`deal_kinds`), without running it on any deal.

The checker reads the CEL subset docs/criteria.md describes. It is lenient by
design: a value whose kind it cannot know (`dyn(...)`, a map read by a key
computed at run time, a field of an unknown custom field) may be anything, and
a construct it does not read (a message literal) stops the check without a
refusal. A field that may be null counts as its kind: null shows only at run
time, where the rule then counts as unmet.

Pure Python: no Django, no CEL package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dealgate.core.text import agreeing

__all__ = [
    "Kind",
    "TypeFault",
    "constant_arguments",
    "deal_kinds",
    "kind_of",
    "type_problem",
    "words",
]


@dataclass(frozen=True)
class Kind:
    """A kind of value: `name` is a CEL type name or "dyn" (unknown).

    `item` is a list's element or a map's value; `fields` are the keys of a
    map whose keys are known (the deal, an activity), each with its kind.
    """

    name: str
    item: Kind | None = None
    fields: tuple[tuple[str, Kind], ...] | None = None

    def field(self, key: str) -> Kind | None:
        return dict(self.fields or ()).get(key)


DYN = Kind("dyn")
BOOL = Kind("bool")
INT = Kind("int")
UINT = Kind("uint")
DOUBLE = Kind("double")
STRING = Kind("string")
BYTES = Kind("bytes")
TIMESTAMP = Kind("timestamp")
DURATION = Kind("duration")
NULL = Kind("null")
TYPE = Kind("type")
NUMBERS = frozenset({"int", "uint", "double"})
NO_DECIMAL_REMAINDER = "CEL has % for whole numbers only, not for decimal numbers"

# The kinds of the custom field types a pipeline declares (as deal_context
# hands their values to rules).
FIELD_KINDS = {
    "text": STRING,
    "choice": STRING,
    "number": DOUBLE,
    "date": TIMESTAMP,
    "bool": BOOL,
}
_ACTIVITY = Kind(
    "map",
    DYN,
    (("kind", STRING), ("tag", STRING), ("done", BOOL), ("at", TIMESTAMP)),
)
_DEAL_FIELDS = (
    ("title", STRING),
    ("value", DOUBLE),
    ("currency", STRING),
    ("status", STRING),
    ("stage", STRING),
    ("owner", STRING),
    ("organization", STRING),
    ("contact", STRING),
    ("product", STRING),
    ("expected_close_date", TIMESTAMP),
    ("created_at", TIMESTAMP),
    ("stage_entered_at", TIMESTAMP),
)
_TIME_PARTS = frozenset(
    {
        "getFullYear",
        "getMonth",
        "getDayOfMonth",
        "getDate",
        "getDayOfWeek",
        "getDayOfYear",
    }
)
_CLOCK_PARTS = frozenset({"getHours", "getMinutes", "getSeconds", "getMilliseconds"})
_TEXT_TESTS = frozenset({"contains", "startsWith", "endsWith", "matches"})
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_CONVERSIONS = {
    "int": INT,
    "uint": UINT,
    "double": DOUBLE,
    "string": STRING,
    "bytes": BYTES,
    "dyn": DYN,
    "type": TYPE,
}
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type"}
)


def deal_kinds(field_types: Mapping[str, str] | None) -> dict[str, Kind]:
    """The kinds of the context's roots (criteria.deal_context), with the
    pipeline's custom fields (key to type) when known; None leaves every
    custom field unknown."""
    if field_types is None:
        custom = Kind("map", DYN)
    else:
        custom = Kind(
            "map",
            DYN,
            tuple(
                (key, FIELD_KINDS.get(kind, DYN)) for key, kind in field_types.items()
            ),
        )
    deal = Kind("map", DYN, (*_DEAL_FIELDS, ("custom", custom)))
    return {
        "deal": deal,
        "activities": Kind("list", _ACTIVITY),
        "checklist": Kind("map", BOOL),
        "now": TIMESTAMP,
        "today": TIMESTAMP,
    }


class TypeFault(ValueError):
    """A part of a rule whose kinds cannot work; `offset` is where, in the
    rule's text."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


class _Unread(Exception):
    """The rule holds something this checker does not read."""


def type_problem(
    rule: str, field_types: Mapping[str, str] | None = None
) -> TypeFault | None:
    """Why `rule` can never give true or false, or None when it may.

    `rule` must already compile (criteria.compile_rule); `field_types` are the
    pipeline's custom fields, key to type ("number" ...).
    """
    checker = _Checker(deal_kinds(field_types))
    try:
        checker.gives_bool(_Parser(rule).parse())
    except TypeFault as fault:
        return fault
    # Nesting deeper than Python's stack (CEL folds a run of `!`) is left to
    # the rule engine, as anything else this checker does not read.
    except (_Unread, RecursionError):
        return None
    return None


def kind_of(rule: str, field_types: Mapping[str, str] | None = None) -> Kind | None:
    """The kind of value `rule` gives; None when it cannot be read."""
    try:
        return _Checker(deal_kinds(field_types)).kind(_Parser(rule).parse())
    except (_Unread, TypeFault, RecursionError):
        return None


# Functions whose text argument the engine reads only when the rule runs.
_READS_TEXT = frozenset({"timestamp", "duration", "int", "uint", "double", "matches"})


def constant_arguments(rule: str) -> list[tuple[str, str, int]]:
    """The calls of `rule` that read a text written in the rule: each as the
    function's name, the string literal as written (quotes included) and
    where it starts. `timestamp("...")`, `int("12")`, `x.matches("a+")`;
    empty when the rule cannot be read."""
    try:
        root = _Parser(rule).parse()
    except (_Unread, RecursionError):
        return []
    found = []
    pending = [root]
    while pending:
        node = pending.pop()
        pending += [*node.args, *([node.target] if node.target else [])]
        if node.op != "call" or node.name not in _READS_TEXT:
            continue
        args = node.args
        text = args[-1] if args else None
        single = len(args) == 1 or (node.name == "matches" and len(args) == 2)
        if not single or text is None or text.op != "lit" or text.kind != STRING:
            continue
        literal = _TOKEN.match(rule, text.at)
        if literal is not None:
            found.append((node.name, literal.group(), text.at))
    return sorted(found, key=lambda call: call[2])


def words(kind: Kind, *, exact: bool = False) -> str:
    """A kind as a sentence names it: "a number", "text"; `exact` tells whole
    numbers from decimal ones."""
    if kind.name in NUMBERS:
        if not exact:
            return "a number"
        return "a decimal number" if kind.name == "double" else "a whole number"
    return {
        "bool": "true or false",
        "string": "text",
        "bytes": "bytes",
        "timestamp": "a date or time",
        "duration": "a duration",
        "null": "null",
        "list": "a list",
        "map": "a map",
        "type": "a type",
    }.get(kind.name, "a value")


# --- the tree ----------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    op: str  # "lit", "ident", "select", "index", "call", "list", "map", or an operator
    at: int
    args: tuple[_Node, ...] = ()
    name: str = ""  # identifier, field or function name
    kind: Kind | None = None  # a literal's kind
    text: str | None = None  # a string literal's value
    target: _Node | None = None  # a receiver-style call's receiver


_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
    | (?P<string>(?:[rR][bB]?|[bB][rR]|[bB])?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''
        |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)
    | (?P<name>[A-Za-z_]\w*)
    | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
    """,
    re.VERBOSE,
)


def _tokens(rule: str) -> list[tuple[str, str, int]]:
    tokens, at = [], 0
    while at < len(rule):
        found = _TOKEN.match(rule, at)
        if found is None:
            raise _Unread
        kind = found.lastgroup or ""
        if kind != "space":
            tokens.append((kind, found.group(), at))
        at = found.end()
    tokens.append(("end", "", len(rule)))
    return tokens


class _Parser:
    """CEL's grammar, precedence from lowest: ?:, ||, &&, relations, + -,
    * / %, unary ! -, then member access and calls."""

    _RELATIONS = ("==", "!=", "<", "<=", ">", ">=", "in")

    def __init__(self, rule: str) -> None:
        self.tokens = _tokens(rule)
        self.at = 0

    def parse(self) -> _Node:
        node = self.expr()
        if self.peek()[0] != "end":
            raise _Unread
        return node

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.at]

    def take(self, text: str | None = None) -> tuple[str, str, int]:
        token = self.tokens[self.at]
        if text is not None and token[1] != text:
            raise _Unread
        self.at += 1
        return token

    def is_op(self, *texts: str) -> bool:
        kind, text, _ = self.peek()
        return kind in ("op", "name") and text in texts

    def expr(self) -> _Node:
        test = self.binary(0)
        if not self.is_op("?"):
            return test
        at = self.take()[2]
        yes = self.binary(0)
        self.take(":")
        no = self.expr()
        return _Node("?:", at, (test, yes, no))

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        _RELATIONS,
        ("+", "-"),
        ("*", "/", "%"),
    )

    def binary(self, level: int) -> _Node:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.is_op(*self._LEVELS[level]):
            _, op, at = self.take()
            node = _Node(op, at, (node, self.binary(level + 1)))
        return node

    def unary(self) -> _Node:
        if self.is_op("!", "-"):
            _, op, at = self.take()
            operand = self.unary()
            if op == "-" and operand.op == "lit" and operand.kind in (INT, DOUBLE):
                return operand
            return _Node("!" if op == "!" else "neg", at, (operand,))
        return self.member()

    def member(self) -> _Node:
        node = self.primary()
        while True:
            if self.is_op("."):
                self.take()
                kind, name, at = self.take()
                if kind != "name":
                    raise _Unread
                if self.is_op("("):
                    node = _Node("call", at, self.arguments(")"), name, target=node)
                else:
                    node = _Node("select", at, (node,), name)
            elif self.is_op("["):
                at = self.take()[2]
                index = self.expr()
                self.take("]")
                node = _Node("index", at, (node, index))
            else:
                return node

    def arguments(self, close: str) -> tuple[_Node, ...]:
        self.take()
        items = []
        while not self.is_op(close):
            items.append(self.expr())
            if not self.is_op(","):
                break
            self.take()
        self.take(close)
        return tuple(items)

    def primary(self) -> _Node:
        kind, text, at = self.take()
        if kind == "number":
            return _Node("lit", at, kind=_number_kind(text))
        if kind == "string":
            return _string_node(text, at)
        if kind == "name":
            if text in ("true", "false"):
                return _Node("lit", at, kind=BOOL)
            if text == "null":
                return _Node("lit", at, kind=NULL)
            if self.is_op("("):
                return _Node("call", at, self.arguments(")"), text)
            if self.is_op("{"):
                raise _Unread  # a message literal
            return _Node("ident", at, name=text)
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        if text == "[":
            self.at -= 1
            return _Node("list", at, self.arguments("]"))
        if text == "{":
            return self.map_literal(at)
        raise _Unread

    def map_literal(self, at: int) -> _Node:
        entries = []
        while not self.is_op("}"):
            entries.append(self.expr())
            self.take(":")
            entries.append(self.expr())
            if not self.is_op(","):
                break
            self.take()
        self.take("}")
        return _Node("map", at, tuple(entries))


def _number_kind(text: str) -> Kind:
    if text[-1] in "uU":
        return UINT
    if text[:2].lower() != "0x" and re.search(r"[.eE]", text):
        return DOUBLE
    return INT


def _string_node(text: str, at: int) -> _Node:
    prefix = re.match(r"[rRbB]*", text).group()  # type: ignore[union-attr]
    body = text[len(prefix) :]
    quote = 3 if body[:3] in ('"""', "'''") else 1
    kind = BYTES if "b" in prefix.lower() else STRING
    return _Node("lit", at, kind=kind, text=body[quote:-quote])


# --- the checker -------------------------------------------------------------


class _Checker:
    def __init__(self, roots: Mapping[str, Kind]) -> None:
        self.scope: dict[str, Kind] = dict(roots)

    def gives_bool(self, node: _Node) -> None:
        """Refuse `node` unless it can give true or false; both branches of a
        condition are held to that."""
        if node.op == "?:":
            self.expect(node.args[0], BOOL, "the test of ? :")
            branches = [arg for arg in node.args[1:] if self.kind(arg) != NULL]
            # A null branch leaves the rule unmet on the deals that take it, as
            # null does at run time; the other branch may still be met.
            for branch in branches or node.args[1:2]:
                self.gives_bool(branch)
            return
        kind = self.kind(node)
        if kind.name not in ("bool", "dyn"):
            raise TypeFault(
                f"the rule gives {words(kind)}, never true or false", _start(node)
            )

    def expect(self, node: _Node, wanted: Kind, what: str) -> Kind:
        kind = self.kind(node)
        if kind.name not in (wanted.name, "dyn"):
            raise TypeFault(
                f"{what} must be {words(wanted)}, not {words(kind)}", _start(node)
            )
        return kind

    def kind(self, node: _Node) -> Kind:
        op = node.op
        if op == "lit":
            return node.kind or DYN
        if op == "ident":
            if node.name in self.scope:
                return self.scope[node.name]
            return TYPE if node.name in _TYPE_NAMES else DYN
        if op == "select":
            return self.select(node)
        if op == "index":
            return self.index(node)
        if op == "call":
            return self.call(node)
        if op == "list":
            return Kind("list", _join([self.kind(item) for item in node.args]))
        if op == "map":
            values = [self.kind(item) for item in node.args[1::2]]
            for key in node.args[0::2]:
                self.kind(key)
            return Kind("map", _join(values))
        if op == "?:":
            self.expect(node.args[0], BOOL, "the test of ? :")
            return _join([self.kind(node.args[1]), self.kind(node.args[2])])
        if op in ("&&", "||"):
            for side in node.args:
                self.expect(side, BOOL, f"each side of {op}")
            return BOOL
        if op == "!":
            self.expect(node.args[0], BOOL, "what ! negates")
            return BOOL
        if op == "neg":
            return self.negate(node)
        if op in ("==", "!="):
            self.equality(node)
            return BOOL
        if op in ("<", "<=", ">", ">="):
            self.order(node)
            return BOOL
        if op == "in":
            self.membership(node)
            return BOOL
        return self.arithmetic(node)

    # Fields and indexes ---------------------------------------------------

    def select(self, node: _Node) -> Kind:
        receiver = self.kind(node.args[0])
        if receiver.name == "dyn":
            return DYN
        if receiver.name != "map":
            raise TypeFault(f"{words(receiver)} has no field {node.name!r}", node.at)
        # A key the checks of criteria.py refused is reported there.
        return receiver.field(node.name) or receiver.item or DYN

    def index(self, node: _Node) -> Kind:
        receiver, key = self.kind(node.args[0]), node.args[1]
        key_kind = self.kind(key)
        if receiver.name == "list":
            if key_kind.name not in ("int", "uint", "dyn"):
                raise TypeFault(
                    f"a list is read by position, a whole number, not "
                    f"{words(key_kind)}",
                    key.at,
                )
            return receiver.item or DYN
        if receiver.name == "map":
            if key.text is not None and receiver.field(key.text) is not None:
                return receiver.field(key.text) or DYN
            return receiver.item or DYN
        if receiver.name == "dyn":
            return DYN
        raise TypeFault(f"{words(receiver)} cannot be read with [...]", node.at)

    # Operators ------------------------------------------------------------

    def equality(self, node: _Node) -> None:
        left, right = (self.kind(side) for side in node.args)
        if not _comparable(left, right):
            raise TypeFault(
                f"'{node.op}' compares {words(left)} with {words(right)}: they "
                "are never equal",
                node.at,
            )

    def order(self, node: _Node) -> None:
        left, right = (self.kind(side) for side in node.args)
        if "null" in (left.name, right.name):
            raise TypeFault(
                f"'{node.op}' cannot compare with null (only == and != can)",
                node.at,
            )
        if "dyn" in (left.name, right.name):
            return
        orderable = ("string", "bytes", "timestamp", "duration", "bool")
        if (left.name in NUMBERS and right.name in NUMBERS) or (
            left.name == right.name and left.name in orderable
        ):
            return
        raise TypeFault(
            f"'{node.op}' compares {words(left)} with {words(right)}, which fails "
            "on every deal",
            node.at,
        )

    def membership(self, node: _Node) -> None:
        left, right = (self.kind(side) for side in node.args)
        if right.name == "dyn":
            return
        if right.name not in ("list", "map"):
            raise TypeFault(
                f"'in' needs a list or a map after it, not {words(right)}", node.at
            )
        among = right.item if right.name == "list" else STRING
        if among is not None and not _comparable(left, among):
            raise TypeFault(
                f"'in' looks for {words(left)} among {words(among)}: it is never there",
                node.at,
            )

    def negate(self, node: _Node) -> Kind:
        kind = self.kind(node.args[0])
        if kind.name in ("int", "double", "dyn"):
            return kind
        raise TypeFault(f"- cannot negate {words(kind)}", node.at)

    def arithmetic(self, node: _Node) -> Kind:
        left, right = (self.kind(side) for side in node.args)
        if "dyn" in (left.name, right.name):
            return DYN
        result = _ARITHMETIC.get((node.op, left.name, right.name))
        if result is not None:
            return left if result == "same" else Kind(result)
        hint = ""
        if node.op == "%" and "double" in (left.name, right.name):
            hint = f" ({NO_DECIMAL_REMAINDER})"
        elif left.name in NUMBERS and right.name in NUMBERS:
            hint = " (next to a decimal number, write 2.0 rather than 2)"
        left_words, right_words = words(left, exact=True), words(right, exact=True)
        raise TypeFault(
            f"cannot compute {left_words} {node.op} {right_words}{hint}", node.at
        )

    # Calls ----------------------------------------------------------------

    def call(self, node: _Node) -> Kind:
        if node.target is not None:
            return self.method(node)
        name, args = node.name, node.args
        if name == "has":
            return BOOL
        if name == "held":
            self.arity(node, 1, 2, 'held("meeting") or held("meeting", "discovery")')
            for arg, what in zip(args, ("activity kind", "tag"), strict=False):
                self.expect(arg, STRING, f"held()'s {what}")
            return BOOL
        if name == "days":
            self.arity(node, 1, 1, "days(7)")
            kind = self.kind(args[0])
            if kind.name not in ("int", "double", "dyn"):
                raise TypeFault(f"days() takes a number, not {words(kind)}", args[0].at)
            return DURATION
        if name == "date":
            self.arity(node, 1, 1, 'date("2026-07-15")')
            self.expect(args[0], STRING, "what date() reads")
            return TIMESTAMP
        if name == "size":
            self.arity(node, 1, 1, "size(x)")
            self.sized(args[0])
            return INT
        if name in ("timestamp", "duration"):
            self.arity(node, 1, 1, f'{name}("...")')
            self.expect(args[0], STRING, f"what {name}() reads")
            return TIMESTAMP if name == "timestamp" else DURATION
        if name in _CONVERSIONS:
            self.arity(node, 1, 1, f"{name}(x)")
            self.kind(args[0])
            return _CONVERSIONS[name]
        for arg in args:
            self.kind(arg)
        return DYN

    def method(self, node: _Node) -> Kind:
        assert node.target is not None
        name, args = node.name, node.args
        if name in _MACROS:
            return self.macro(node)
        receiver = self.kind(node.target)
        if receiver.name == "dyn":
            for arg in args:
                self.kind(arg)
            return BOOL if name in _TEXT_TESTS else DYN
        if name == "size":
            self.arity(node, 0, 0, "x.size()")
            self.sized(node.target)
            return INT
        if name in _TEXT_TESTS:
            self.arity(node, 1, 1, f'text.{name}("...")')
            if receiver.name != "string":
                raise TypeFault(f"{name}() is for text, not {words(receiver)}", node.at)
            self.expect(args[0], STRING, f"what {name}() looks for")
            return BOOL
        if name in _TIME_PARTS | _CLOCK_PARTS:
            self.arity(node, 0, 0, f"{name}() (parts are in UTC, with no time zone)")
            allowed = (
                ("timestamp", "duration") if name in _CLOCK_PARTS else ("timestamp",)
            )
            if receiver.name not in allowed:
                raise TypeFault(
                    f"{name}() is for a date or time, not {words(receiver)}", node.at
                )
            return INT
        for arg in args:
            self.kind(arg)
        return DYN

    def macro(self, node: _Node) -> Kind:
        assert node.target is not None
        name, args = node.name, node.args
        shapes = "x, ..." if name != "map" else "x, ... or x, test, ..."
        self.arity(node, 2, 3 if name == "map" else 2, f"{name}({shapes})")
        if args[0].op != "ident":
            raise TypeFault(
                f"{name}() takes a name first, as in {name}(x, ...)", args[0].at
            )
        receiver = self.kind(node.target)
        if receiver.name == "list":
            element = receiver.item or DYN
        elif receiver.name == "map":
            element = STRING
        elif receiver.name == "dyn":
            element = DYN
        else:
            raise TypeFault(
                f"{name}() is for a list or a map, not {words(receiver)}", node.at
            )
        saved = self.scope.get(args[0].name)
        self.scope[args[0].name] = element
        try:
            if name == "map":
                if len(args) == 3:
                    self.expect(args[1], BOOL, "the test of map()")
                return Kind("list", self.kind(args[-1]))
            self.expect(args[1], BOOL, f"the test of {name}()")
        finally:
            if saved is None:
                del self.scope[args[0].name]
            else:
                self.scope[args[0].name] = saved
        return Kind("list", element) if name == "filter" else BOOL

    def arity(self, node: _Node, low: int, high: int, shape: str) -> None:
        given = len(node.args)
        if low <= given <= high:
            return
        wanted = str(low) if low == high else f"{low} or {high}"
        noun = agreeing(high, "value")
        raise TypeFault(
            f"{node.name}() takes {wanted} {noun}, as in {shape}; it was given {given}",
            node.at,
        )

    def sized(self, node: _Node) -> None:
        kind = self.kind(node)
        if kind.name not in ("string", "bytes", "list", "map", "dyn"):
            raise TypeFault(
                f"size() is for text, a list or a map, not {words(kind)}", node.at
            )


# (operator, left, right) to the result: "same" is the left operand's kind.
_ARITHMETIC: dict[tuple[str, str, str], str] = {
    **{(op, kind, kind): "same" for op in "+-*/" for kind in NUMBERS},
    **{("%", kind, kind): "same" for kind in ("int", "uint")},
    ("+", "string", "string"): "string",
    ("+", "bytes", "bytes"): "bytes",
    ("+", "list", "list"): "same",
    ("+", "timestamp", "duration"): "timestamp",
    ("+", "duration", "timestamp"): "timestamp",
    ("+", "duration", "duration"): "duration",
    ("-", "timestamp", "timestamp"): "duration",
    ("-", "timestamp", "duration"): "timestamp",
    ("-", "duration", "duration"): "duration",
}


def _start(node: _Node) -> int:
    """Where the text of `node` begins: its leftmost part."""
    if node.target is not None:
        return _start(node.target)
    if node.op in ("lit", "ident", "list", "map", "!", "neg") or not node.args:
        return node.at
    if node.op == "call":
        return node.at
    return min(node.at, _start(node.args[0]))


def _comparable(left: Kind, right: Kind) -> bool:
    """Whether values of these kinds can ever be equal."""
    names = {left.name, right.name}
    if names & {"dyn", "null"} or left.name == right.name:
        return True
    return names <= NUMBERS


def _join(kinds: Sequence[Kind]) -> Kind:
    """One kind for values that may be any of `kinds`: dyn when they differ."""
    known = [kind for kind in kinds if kind.name != "null"]
    if not known:
        return NULL if kinds else DYN
    first = known[0]
    if all(kind == first for kind in known):
        return first
    if all(kind.name == first.name for kind in known):
        # Two lists (or maps) of different things: still a list.
        return Kind(first.name, DYN)
    return DYN
