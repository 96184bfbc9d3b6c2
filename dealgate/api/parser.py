"""Reading a JSON body for the API: every door refuses the same bad bodies.

Python's json module accepts what a database will not store or a check
cannot walk: a lone surrogate ("\\ud800", which no UTF-8 text holds) and
lists nested a thousand deep (a RecursionError further on). Both, a body
past Django's upload limit, and one that is not JSON are refused here as
422 naming the body, never a 500.

A JSON number with a fraction or an exponent is read as a `JsonFloat`: a
float that keeps its text, so that a field can refuse "1e3" as the rule for
typed numbers refuses it, or read "0.1" exactly. NaN and Infinity, which
JSON does not have but Python's reader takes, come as one too.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja.parser import Parser

from dealgate.errors import ValidationError

# Deeper than any body the API takes (a custom field's value is a scalar).
MAX_DEPTH = 20


class JsonFloat(float):
    """A JSON number as a float, with `written`, its text in the body."""

    written: str

    def __new__(cls, text: str) -> JsonFloat:
        number = super().__new__(cls, text)
        number.written = text
        return number


def read_json(request: HttpRequest, *, limit: int | None = None) -> Any:
    """The request's body as JSON, checked; `limit` bytes at most."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if limit is not None and length > limit:
        raise ValidationError(
            f"the body is {length:,} bytes; the limit is {limit:,}", field="body"
        )
    try:
        body = request.body
    except RequestDataTooBig:
        raise ValidationError(
            f"the body is {length:,} bytes, more than the server takes",
            field="body",
        ) from None
    try:
        data = json.loads(
            body or b"{}", parse_float=JsonFloat, parse_constant=JsonFloat
        )
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("the body is not JSON", field="body") from None
    check_value(data)
    return data


def check_value(data: Any) -> None:
    """Refuse lone surrogates and nesting past MAX_DEPTH, walking `data`
    without recursion."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                pending.append((item, depth + 1))


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            "the body holds a lone surrogate (\\ud800-\\udfff), which is no "
            "character: send UTF-8 text",
            field="body",
        ) from None


def _too_deep() -> ValidationError:
    return ValidationError(
        f"the body is nested more than {MAX_DEPTH} deep", field="body"
    )


class CheckedParser(Parser):
    """django-ninja's JSON parser, through `read_json`."""

    def parse_body(self, request: HttpRequest) -> Any:
        return read_json(request)
