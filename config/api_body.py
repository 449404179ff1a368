"""How the contact-center API reads a JSON body: with a nesting limit.

Python's json module recurses once per level, so a body like ``[[[[…`` 20,000 deep
raises RecursionError, and one just under the interpreter's limit reaches the schema
validation whole. No body of this API nests deeper than a few levels
(``{"agents": [{"teams": ["…"]}]}``), so anything past MAX_DEPTH is refused with a 400
problem before validation, whatever the interpreter's limit.
"""

import json
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

MAX_DEPTH = 32


class BodyNotJson(ValueError):
    """The body is not JSON the API reads; the message says why, for the caller."""


def _nests_deeper_than(value: Any, limit: int) -> bool:
    # A stack rather than recursion: the check must not fail the way json did.
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class BoundedJsonParser(Parser):
    """django-ninja's JSON parser, refusing bodies nested deeper than MAX_DEPTH."""

    def parse_body(self, request: HttpRequest) -> Any:
        too_deep = BodyNotJson(f"The JSON nests deeper than {MAX_DEPTH} levels.")
        try:
            data = json.loads(request.body)
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:  # not JSON, or not UTF-8/16/32
            raise BodyNotJson("The request body could not be parsed as JSON.") from exc
        if _nests_deeper_than(data, MAX_DEPTH):
            raise too_deep
        return data
