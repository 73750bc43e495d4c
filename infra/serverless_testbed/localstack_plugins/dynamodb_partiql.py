"""PartiQL for DynamoDB, translated into the DynamoDB operations it means.

Moto-ext hands PartiQL to py-partiql-parser, which fails on common statements with a
Python exception (HTTP 500 `InternalError`): `UPDATE ... SET ... WHERE k = ?`, `DELETE
... WHERE k = ?`, `INSERT ... VALUE {'k': ?}`, functions such as `begins_with`, and it
answers some SELECTs wrongly (`WHERE n = 1` finds nothing, `IN [?, ?]` one item). This
module translates each statement into the request AWS's own engine makes of it: SELECT
into Query (partition key pinned by `=`) or Scan with a FilterExpression, INSERT into
PutItem with `attribute_not_exists` (DuplicateItemException), UPDATE into UpdateItem on
an existing item (ConditionalCheckFailedException otherwise), DELETE into DeleteItem.
What it cannot translate answers ValidationException, never a 500.

For upstream: moto's `execute_statement` could use the same translation instead of
evaluating statements over a copy of every table.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from serverless_testbed.localstack_plugins.dynamodb_checks import validation_error

Call = Callable[[str, dict[str, Any]], dict[str, Any]]
# (table, index or None) -> the key attribute names (hash, range or None).
KeysOf = Callable[[str, str | None], tuple[str, str | None]]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")*")
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<op><<|>>|<>|!=|<=|>=|[=<>(),.\[\]{}:*?+\-])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
FUNCTIONS = frozenset({"begins_with", "contains", "attribute_exists", "attribute_not_exists", "attribute_type", "size"})
CONDITION_WORDS = frozenset({"AND", "OR", "NOT", "BETWEEN"})


def malformed(reason: str) -> Exception:
    """AWS's answer for a statement it cannot parse."""
    error: Exception = validation_error(f"Statement wasn't well formed, can't be processed: {reason}")
    return error


@dataclass(frozen=True)
class Token:
    kind: str  # string, quoted, number, op, word, end
    text: str

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def tokenize(statement: str) -> list[Token]:
    """PartiQL tokens; anything unknown is a ValidationException naming where."""
    tokens: list[Token] = []
    position = 0
    text = statement.rstrip().rstrip(";")
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            if text[position:].strip() == "":
                break
            raise malformed(f"unexpected character at {position}: {text[position : position + 10]!r}")
        kind = match.lastgroup or "op"
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    tokens.append(Token("end", ""))
    return tokens


class Parser:
    """A cursor over tokens, with the placeholders of one DynamoDB expression."""

    def __init__(self, tokens: list[Token], parameters: list[dict[str, Any]]) -> None:
        self.tokens, self.at = tokens, 0
        self.parameters, self.used = parameters, 0
        self.names: dict[str, str] = {}
        self.values: dict[str, dict[str, Any]] = {}

    @property
    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def expect_word(self, *words: str) -> Token:
        token = self.take()
        if not token.is_word(*words):
            raise malformed(f"expected {' or '.join(words)}, found {token.text or 'the end'!r}")
        return token

    def expect_op(self, op: str) -> None:
        token = self.take()
        if token.kind != "op" or token.text != op:
            raise malformed(f"expected {op!r}, found {token.text or 'the end'!r}")

    def identifier(self) -> str:
        token = self.take()
        if token.kind == "quoted":
            return token.text[1:-1].replace('""', '"')
        if token.kind == "word":
            return token.text
        raise malformed(f"expected a name, found {token.text or 'the end'!r}")

    def name(self, attribute: str) -> str:
        for placeholder, known in self.names.items():
            if known == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value_placeholder(self, value: dict[str, Any]) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    # -- values -------------------------------------------------------------------------
    def literal(self) -> dict[str, Any]:
        """One PartiQL value as an AttributeValue."""
        token = self.take()
        if token.kind == "string":
            return {"S": token.text[1:-1].replace("''", "'")}
        if token.kind == "number":
            return {"N": token.text}
        if token.kind == "op" and token.text == "?":
            if self.used >= len(self.parameters):
                raise validation_error("Number of parameters in request and statement don't match.")
            value = self.parameters[self.used]
            self.used += 1
            return value
        if token.is_word("TRUE", "FALSE"):
            return {"BOOL": token.text.upper() == "TRUE"}
        if token.is_word("NULL"):
            return {"NULL": True}
        if token.kind == "op" and token.text == "{":
            members: dict[str, Any] = {}
            while not (self.peek.kind == "op" and self.peek.text == "}"):
                key = self.take()
                if key.kind not in ("string", "quoted"):
                    raise malformed(f"a map key must be a string, found {key.text!r}")
                self.expect_op(":")
                members[key.text[1:-1]] = self.literal()
                if not self._comma_or("}"):
                    break
            self.expect_op("}")
            return {"M": members}
        if token.kind == "op" and token.text == "[":
            items: list[dict[str, Any]] = []
            while not (self.peek.kind == "op" and self.peek.text == "]"):
                items.append(self.literal())
                if not self._comma_or("]"):
                    break
            self.expect_op("]")
            return {"L": items}
        if token.kind == "op" and token.text == "<<":
            elements: list[dict[str, Any]] = []
            while not (self.peek.kind == "op" and self.peek.text == ">>"):
                elements.append(self.literal())
                if not self._comma_or(">>"):
                    break
            self.expect_op(">>")
            return _as_set(elements)
        raise malformed(f"expected a value, found {token.text or 'the end'!r}")

    def _comma_or(self, closing: str) -> bool:
        if self.peek.kind == "op" and self.peek.text == ",":
            self.take()
            return True
        if self.peek.kind == "op" and self.peek.text == closing:
            return False
        raise malformed(f"expected ',' or {closing!r}, found {self.peek.text or 'the end'!r}")

    def starts_value(self) -> bool:
        token = self.peek
        return (
            token.kind in ("string", "number")
            or (token.kind == "op" and token.text in ("?", "{", "[", "<<"))
            or token.is_word("TRUE", "FALSE", "NULL")
        )

    # -- paths and conditions -------------------------------------------------------------
    def path(self) -> tuple[str, str]:
        """A document path: (the expression with name placeholders, the top-level attribute)."""
        top = self.identifier()
        parts = [self.name(top)]
        while self.peek.kind == "op" and self.peek.text in (".", "["):
            if self.take().text == ".":
                parts.append("." + self.name(self.identifier()))
            else:
                index = self.take()
                if index.kind != "number":
                    raise malformed(f"a list index must be a number, found {index.text!r}")
                self.expect_op("]")
                parts.append(f"[{index.text}]")
        return "".join(parts), top

    def condition(self, stop: Callable[[Token], bool]) -> str:
        """A WHERE condition as a DynamoDB condition expression, up to a `stop` token."""
        out: list[str] = []
        operand = False  # the last part was an operand: another one needs an operator first
        while self.peek.kind != "end" and not stop(self.peek):
            token = self.peek
            if token.kind == "op" and token.text in ("=", "<>", "!=", "<", "<=", ">", ">=", "(", ")", ","):
                self.take()
                out.append("<>" if token.text == "!=" else token.text)
                operand = token.text == ")"
                continue
            if token.is_word(*CONDITION_WORDS):
                out.append(self.take().text.upper())
                operand = False
                continue
            if token.is_word("IN"):
                self.take()
                out.append("IN " + self._in_list())
            elif token.is_word("IS"):
                out.append(self._is_test(out))
            elif operand:
                raise malformed(f"unexpected {token.text!r} in the WHERE clause")
            elif self.starts_value():
                out.append(self.value_placeholder(self.literal()))
            elif token.kind == "word" and token.text.lower() in FUNCTIONS and self._next_is("("):
                out.append(self.take().text.lower())
                operand = False
                continue
            elif token.kind in ("word", "quoted"):
                out.append(self.path()[0])
            else:
                raise malformed(f"unexpected {token.text!r} in the WHERE clause")
            operand = True
        if not out:
            raise malformed("the WHERE clause is empty")
        return " ".join(out)

    def _next_is(self, op: str) -> bool:
        token = self.tokens[min(self.at + 1, len(self.tokens) - 1)]
        return token.kind == "op" and token.text == op

    def _in_list(self) -> str:
        opening = self.take()
        closing = {"[": "]", "(": ")"}.get(opening.text) if opening.kind == "op" else None
        if closing is None:
            raise malformed("IN needs a list: IN [a, b] or IN (a, b)")
        members: list[str] = []
        while not (self.peek.kind == "op" and self.peek.text == closing):
            members.append(self.value_placeholder(self.literal()))
            if not self._comma_or(closing):
                break
        self.expect_op(closing)
        if not members:
            raise malformed("IN needs at least one value")
        return "(" + ", ".join(members) + ")"

    def _is_test(self, out: list[str]) -> str:
        self.take()
        negated = self.peek.is_word("NOT")
        if negated:
            self.take()
        subject = out.pop() if out else ""
        if not subject.startswith("#"):
            raise malformed("IS needs a path before it")
        test = self.take()
        if test.is_word("MISSING"):
            return f"attribute_exists({subject})" if negated else f"attribute_not_exists({subject})"
        if test.is_word("NULL"):
            placeholder = self.value_placeholder({"S": "NULL"})
            expression = f"attribute_type({subject}, {placeholder})"
            return f"NOT {expression}" if negated else expression
        raise malformed(f"IS {'NOT ' if negated else ''}{test.text} is not supported")

    def end(self) -> None:
        if self.peek.kind != "end":
            raise malformed(f"unexpected {self.peek.text!r} after the statement")
        if self.used != len(self.parameters):
            raise validation_error("Number of parameters in request and statement don't match.")


def _as_set(elements: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = {next(iter(e)) for e in elements}
    if len(kinds) != 1 or next(iter(kinds)) not in ("S", "N", "B"):
        raise malformed("a set holds strings, numbers or binaries of one type")
    kind = next(iter(kinds))
    return {kind + "S": [e[kind] for e in elements]}


@dataclass
class Translation:
    """What one statement means: a DynamoDB operation and its request."""

    verb: str  # SELECT, INSERT, UPDATE, DELETE
    table: str
    operation: str
    request: dict[str, Any]
    # Errors the operation answers that mean another one in PartiQL (INSERT on an existing key).
    renames: dict[str, tuple[str, str]] = field(default_factory=dict)


def _split_and(expression: str) -> list[str]:
    """Top-level AND terms of a condition expression (parenthesised groups stay whole; with
    a top-level OR, which binds looser than AND, the whole expression is one term)."""
    depth = 0
    for word in expression.split(" "):
        depth += word.count("(") - word.count(")")
        if word == "OR" and depth == 0:
            return [expression]
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    words = expression.split(" ")
    between = False
    for word in words:
        depth += word.count("(") - word.count(")")
        if word == "BETWEEN":
            between = True
        if word == "AND" and depth == 0 and not between:
            terms.append(" ".join(current))
            current = []
            continue
        if word == "AND" and between:
            between = False
        current.append(word)
    terms.append(" ".join(current))
    return terms


def _equalities(terms: list[str], names: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Attribute -> (term, value placeholder) for each `#n = :v` term."""
    found: dict[str, tuple[str, str]] = {}
    for term in terms:
        match = re.fullmatch(r"(#n\d+) = (:v\d+)", term)
        if match:
            found[names[match.group(1)]] = (term, match.group(2))
    return found


def _expression_fields(parser: Parser, request: dict[str, Any]) -> dict[str, Any]:
    """The placeholders the request's expressions use (DynamoDB refuses unused ones)."""
    used = set(re.findall(r"[#:][nv]\d+", " ".join(str(v) for k, v in request.items() if k.endswith("Expression"))))
    if names := {k: v for k, v in parser.names.items() if k in used}:
        request["ExpressionAttributeNames"] = names
    if values := {k: v for k, v in parser.values.items() if k in used}:
        request["ExpressionAttributeValues"] = values
    return request


def translate(statement: str, parameters: list[dict[str, Any]] | None, keys_of: KeysOf) -> Translation:
    """The DynamoDB request a PartiQL statement means; ValidationException when it has none."""
    parser = Parser(tokenize(statement), list(parameters or []))
    verb = parser.expect_word("SELECT", "INSERT", "UPDATE", "DELETE").text.upper()
    if verb == "SELECT":
        return _select(parser, keys_of)
    if verb == "INSERT":
        return _insert(parser, keys_of)
    if verb == "UPDATE":
        return _update(parser, keys_of)
    return _delete(parser, keys_of)


def _where_key(parser: Parser, keys_of: KeysOf, table: str) -> tuple[dict[str, Any], list[str]]:
    """The full primary key from `key = value` terms of the WHERE clause, and the other terms."""
    parser.expect_word("WHERE")
    terms = _split_and(parser.condition(lambda t: t.is_word("RETURNING")))
    hash_key, range_key = keys_of(table, None)
    equal = _equalities(terms, parser.names)
    key_names = [hash_key] + ([range_key] if range_key else [])
    if any(name not in equal for name in key_names):
        raise validation_error("Where clause does not contain a mandatory equality on all key attributes")
    key = {name: parser.values[equal[name][1]] for name in key_names}
    rest = [term for term in terms if term not in {equal[name][0] for name in key_names}]
    return key, rest


def _select(parser: Parser, keys_of: KeysOf) -> Translation:
    projection: list[str] = []
    if parser.peek.kind == "op" and parser.peek.text == "*":
        parser.take()
    else:
        while True:
            projection.append(parser.path()[0])
            if not (parser.peek.kind == "op" and parser.peek.text == ","):
                break
            parser.take()
    parser.expect_word("FROM")
    table = parser.identifier()
    index = None
    if parser.peek.kind == "op" and parser.peek.text == ".":
        parser.take()
        index = parser.identifier()
    request: dict[str, Any] = {"TableName": table}
    if index:
        request["IndexName"] = index
    if projection:
        request["ProjectionExpression"] = ", ".join(projection)
    operation = "Scan"
    if parser.peek.is_word("WHERE"):
        parser.take()
        terms = _split_and(parser.condition(lambda t: False))
        hash_key, _ = keys_of(table, index)
        equal = _equalities(terms, parser.names)
        if hash_key in equal:
            # The partition key pinned by `=`: AWS reads one partition, in sort key order.
            operation = "Query"
            request["KeyConditionExpression"] = equal[hash_key][0]
            terms = [term for term in terms if term != equal[hash_key][0]]
        if terms:
            request["FilterExpression"] = " AND ".join(f"({term})" for term in terms)
    parser.end()
    return Translation("SELECT", table, operation, _expression_fields(parser, request))


def _insert(parser: Parser, keys_of: KeysOf) -> Translation:
    parser.expect_word("INTO")
    table = parser.identifier()
    parser.expect_word("VALUE")
    item = parser.literal()
    parser.end()
    if "M" not in item:
        raise malformed("INSERT needs a map: VALUE {'key': value, ...}")
    hash_key, _ = keys_of(table, None)
    request = {
        "TableName": table,
        "Item": item["M"],
        "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": hash_key},
    }
    renames = {"ConditionalCheckFailedException": ("DuplicateItemException", "Duplicate primary key exists in table")}
    return Translation("INSERT", table, "PutItem", request, renames)


def _update(parser: Parser, keys_of: KeysOf) -> Translation:
    table = parser.identifier()
    sets: list[str] = []
    removes: list[str] = []
    while parser.peek.is_word("SET", "REMOVE"):
        clause = parser.take().text.upper()
        path, _ = parser.path()
        if clause == "REMOVE":
            removes.append(path)
            continue
        parser.expect_op("=")
        sets.append(f"{path} = {_set_value(parser)}")
        while parser.peek.kind == "op" and parser.peek.text == ",":
            parser.take()
            path, _ = parser.path()
            parser.expect_op("=")
            sets.append(f"{path} = {_set_value(parser)}")
    if not sets and not removes:
        raise malformed("UPDATE needs SET or REMOVE")
    key, rest = _where_key(parser, keys_of, table)
    if parser.peek.is_word("RETURNING"):
        raise malformed("RETURNING is not supported by this engine")
    parser.end()
    hash_key, _ = keys_of(table, None)
    condition = [f"attribute_exists({parser.name(hash_key)})", *[f"({term})" for term in rest]]
    update = " ".join(part for part in (_clause("SET", sets), _clause("REMOVE", removes)) if part)
    request = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": update,
        "ConditionExpression": " AND ".join(condition),
    }
    return Translation("UPDATE", table, "UpdateItem", _expression_fields(parser, request))


def _set_value(parser: Parser) -> str:
    """The right side of SET: a value, a path, or `a + b` / `a - b` of them."""
    parts = [_operand(parser)]
    while parser.peek.kind == "op" and parser.peek.text in ("+", "-"):
        parts.append(parser.take().text)
        parts.append(_operand(parser))
    return " ".join(parts)


def _operand(parser: Parser) -> str:
    if parser.starts_value():
        return parser.value_placeholder(parser.literal())
    return parser.path()[0]


def _clause(keyword: str, parts: list[str]) -> str:
    return f"{keyword} {', '.join(parts)}" if parts else ""


def _delete(parser: Parser, keys_of: KeysOf) -> Translation:
    parser.expect_word("FROM")
    table = parser.identifier()
    key, rest = _where_key(parser, keys_of, table)
    parser.end()
    request: dict[str, Any] = {"TableName": table, "Key": key}
    if rest:
        request["ConditionExpression"] = " AND ".join(f"({term})" for term in rest)
    return Translation("DELETE", table, "DeleteItem", _expression_fields(parser, request))


def encode_token(key: dict[str, Any]) -> str:
    """A NextToken carrying a LastEvaluatedKey."""
    return base64.b64encode(json.dumps(key).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    """The LastEvaluatedKey a NextToken carries; ValidationException for a token not ours."""
    try:
        key = json.loads(base64.b64decode(token))
    except ValueError as err:
        raise validation_error("Invalid NextToken") from err
    if not isinstance(key, dict):
        raise validation_error("Invalid NextToken")
    return key


def run(
    translation: Translation, call: Call, *, limit: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    """Execute a translated statement with `call(operation, request)`; ExecuteStatement's answer."""
    request = dict(translation.request)
    if translation.verb != "SELECT":
        call(translation.operation, request)
        return {"Items": []}
    if limit:
        request["Limit"] = limit
    if next_token:
        request["ExclusiveStartKey"] = decode_token(next_token)
    items: list[dict[str, Any]] = []
    for page in _pages(call, translation.operation, request, single=bool(limit)):
        items.extend(page.get("Items") or [])
        if limit and page.get("LastEvaluatedKey"):
            return {"Items": items, "NextToken": encode_token(page["LastEvaluatedKey"])}
    return {"Items": items}


def _pages(call: Call, operation: str, request: dict[str, Any], *, single: bool) -> Iterator[dict[str, Any]]:
    while True:
        page = call(operation, request)
        yield page
        if single or not page.get("LastEvaluatedKey"):
            return
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}
