"""The slice of OData that Graph's directory endpoints accept.

``$select`` projection, ``$top`` bounds, opaque skip/delta tokens and a small
``$filter`` parser (eq/ne, ``in``, ``startswith``, ``any`` lambdas, and/or/not,
parentheses). String comparisons are case-insensitive, as in the directory.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from graphsim.core.errors import GraphError

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<word>[A-Za-z_$@][\w./:$@-]*))"
)


def encode_token(payload: dict[str, Any]) -> str:
    """An opaque, URL-safe token carrying ``payload``."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_token(token: str, kind: str) -> dict[str, Any]:
    """Decode a token made by ``encode_token``; raises GraphError 400 if invalid."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        payload = None
    if not isinstance(payload, dict) or payload.get("k") != kind:
        raise GraphError(400, "Request_BadRequest", f"Invalid {kind} token.")
    return payload


def link(base: str, path: str, params: dict[str, str]) -> str:
    """An absolute Graph link (nextLink/deltaLink) with ``params`` as its query."""
    return f"{base}{path}?" + urlencode(params, quote_via=quote, safe="$,'()")


def parse_top(query: dict[str, str], default: int, maximum: int = 999) -> int:
    """The page size from ``$top`` (1..maximum); raises GraphError 400 when out of range.

    A number outside the range is an unsupported query (``Request_UnsupportedQuery``,
    as Microsoft's SDKs see it); text that is no number at all is a bad request.
    """
    raw = query.get("$top")
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        raise GraphError(400, "Request_BadRequest", f"Invalid $top value: '{raw}'.") from None
    if not 1 <= top <= maximum:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.",
        )
    return top


def parse_select(
    query: dict[str, str], known: frozenset[str], default: tuple[str, ...], entity: str
) -> list[str]:
    """The properties to return: ``$select`` (validated) or the default set."""
    raw = query.get("$select")
    if not raw:
        return list(default)
    wanted = [p.strip() for p in raw.split(",") if p.strip()]
    lookup = {k.lower(): k for k in known}
    out: list[str] = []
    for prop in wanted:
        if prop.lower() not in lookup:
            raise GraphError(
                400,
                "Request_BadRequest",
                f"Parsing OData Select and Expand failed: Could not find a property named "
                f"'{prop}' on type 'microsoft.graph.{entity}'.",
            )
        out.append(lookup[prop.lower()])
    return out


def project(props: dict[str, Any], select: list[str]) -> dict[str, Any]:
    """The subset of ``props`` named by ``select`` (missing values become null)."""
    return {name: props.get(name) for name in select}


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class _Parser:
    def __init__(self, text: str, filterable: frozenset[str], entity: str) -> None:
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.filterable = {k.lower(): k for k in filterable}
        self.entity = entity

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, Any]]:
        tokens: list[tuple[str, Any]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _TOKEN_RE.match(text, pos)
            if not match or match.end() == pos:
                raise _unsupported()
            pos = match.end()
            kind = match.lastgroup or ""
            value: Any = match.group(kind)
            if kind == "str":
                value = value[1:-1].replace("''", "'")
            elif kind == "num":
                value = float(value) if "." in value else int(value)
            elif kind == "word" and value.lower() in ("true", "false", "null"):
                kind, value = "lit", {"true": True, "false": False, "null": None}[value.lower()]
            tokens.append((kind, value))
        return tokens

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", None)

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise _unsupported()

    def literal(self) -> Any:
        kind, value = self.take()
        if kind not in ("str", "num", "lit"):
            raise _unsupported()
        return value

    def prop(self, name: str) -> str:
        real = self.filterable.get(name.lower())
        if real is None:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{name}' "
                f"of resource '{self.entity}'.",
            )
        return real

    def parse(self) -> Predicate:
        pred = self.expr()
        if self.peek()[0] != "end":
            raise _unsupported()
        return pred

    def expr(self) -> Predicate:
        left = self.term()
        while self.peek() == ("word", "or"):
            self.take()
            right = self.term()
            left = (lambda a, b: lambda u: a(u) or b(u))(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while self.peek() == ("word", "and"):
            self.take()
            right = self.factor()
            left = (lambda a, b: lambda u: a(u) and b(u))(left, right)
        return left

    def factor(self) -> Predicate:
        kind, value = self.take()
        if (kind, value) == ("punct", "("):
            inner = self.expr()
            self.expect(")")
            return inner
        if (kind, value) == ("word", "not"):
            inner = self.factor()
            return lambda u: not inner(u)
        if kind != "word":
            raise _unsupported()
        if value.lower() in ("startswith", "endswith"):
            return self._function(value.lower())
        if value.lower().endswith("/any"):
            return self._any(value[: -len("/any")])
        name = self.prop(value)
        op = self.take()[1]
        if op == "in":
            self.expect("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.literal())
            self.expect(")")
            wanted = {_lower(v) for v in values}
            return lambda u: _lower(u.get(name)) in wanted
        if op not in ("eq", "ne"):
            raise _unsupported()
        target = _lower(self.literal())
        if op == "eq":
            return lambda u: _lower(u.get(name)) == target
        return lambda u: _lower(u.get(name)) != target

    def _function(self, func: str) -> Predicate:
        self.expect("(")
        name = self.prop(str(self.take()[1]))
        self.expect(",")
        prefix = str(self.literal()).lower()
        self.expect(")")
        if func == "startswith":
            return lambda u: str(u.get(name) or "").lower().startswith(prefix)
        return lambda u: str(u.get(name) or "").lower().endswith(prefix)

    def _any(self, collection: str) -> Predicate:
        name = self.prop(collection)
        self.expect("(")
        kind, var = self.take()
        if kind != "word" or ":" not in var:
            raise _unsupported()
        alias = var.split(":", 1)[0]
        if var.split(":", 1)[1] != alias:
            # `x:x eq 'v'` arrives as the single word "x:x"; anything else is beyond us.
            raise _unsupported()
        op = self.take()[1]
        if op != "eq":
            raise _unsupported()
        target = _lower(self.literal())
        self.expect(")")
        return lambda u: any(_lower(v) == target for v in (u.get(name) or []))


def _unsupported() -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")


def parse_filter(text: str | None, filterable: frozenset[str], entity: str) -> Predicate | None:
    """Compile a ``$filter`` expression; raises GraphError 400 for what is unsupported."""
    if not text:
        return None
    return _Parser(text, filterable, entity).parse()
