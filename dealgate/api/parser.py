"""Reading a JSON body for the API: every door refuses the same bad bodies.

Python's json module accepts what a database will not store or a check
cannot walk: a lone surrogate ("\\ud800", which no UTF-8 text holds) and
lists nested a thousand deep (a RecursionError further on). Both, a body
past Django's upload limit, and one that is not JSON are refused here as
422 naming the body, never a 500.

A key sent twice in one object is refused naming it (Python's reader keeps
the last, others the first). An endpoint that declares no body schema
refuses any body but none or `{}` (`refuse_unread_bodies`), so that nothing
sent is silently ignored.

A JSON number with a fraction or an exponent is read as a `JsonFloat`: a
float that keeps its text, so that a field can refuse "1e3" as the rule for
typed numbers refuses it, or read "0.1" exactly. NaN and Infinity, which
JSON does not have but Python's reader takes, come as one too.

A body sent in chunks, with no Content-Length, is read whole before any
of this, within the same limit, or refused: never taken for no body
(dealgate.web.bodies, a middleware that runs for every address).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Router
from ninja.params.models import BodyModel, QueryModel
from ninja.parser import Parser

from dealgate.core.text import agreeing
from dealgate.errors import ValidationError
from dealgate.web.head import method_named

log = logging.getLogger("dealgate.api")

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
    body = _body_bytes(request, limit)
    if _empty(request, body):
        body = b"{}"
    try:
        data = json.loads(
            body,
            parse_float=JsonFloat,
            parse_constant=JsonFloat,
            object_pairs_hook=_no_repeats,
        )
    except RecursionError:
        raise _too_deep() from None
    except UnicodeDecodeError as exc:
        # Refused, never read lossily: a name in Latin-1 kept as U+FFFD.
        raise ValidationError(
            f"the body is not UTF-8 text (byte 0x{exc.object[exc.start]:02X} at "
            f"byte {exc.start:,}): send JSON as UTF-8",
            field="body",
        ) from None
    except ValueError:
        raise ValidationError("the body is not JSON", field="body") from None
    check_value(data)
    return data


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict, refusing a key sent twice: Python
    keeps the last, other readers the first, and which was meant cannot be
    told."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            _check_text(key)
            raise ValidationError(
                f"{key}: the key is sent twice in one object; send it once",
                field=key,
            )
        data[key] = value
    return data


def _body_bytes(request: HttpRequest, limit: int | None = None) -> bytes:
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if limit is not None and length > limit:
        raise ValidationError(
            f"the body is {length:,} bytes; the limit is {limit:,}", field="body"
        )
    try:
        return request.body
    except RequestDataTooBig:
        raise body_too_big(request) from None


def body_too_big(request: HttpRequest) -> ValidationError:
    """The refusal of a body past Django's upload limit, naming the limit."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return ValidationError(
        f"the body is {length:,} bytes, more than the server takes ({limit:,} at most)",
        field="body",
    )


_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def _empty(request: HttpRequest, body: bytes) -> bool:
    """Whether `body` carries nothing: no bytes but white space, or a form
    with no field and no file (what a form post of nothing sends)."""
    if not body.strip():
        return True
    if request.content_type not in _FORMS or request.method != "POST":
        return False
    return not request.POST and not request.FILES


def refuse_body(request: HttpRequest) -> None:
    """Refuse (422 naming `body`) a body sent to an endpoint that reads
    none: what it holds would be ignored, and a client would believe it was
    applied (`{"done": false}` marking a task done). Nothing, white space
    or an empty JSON object `{}` (what some clients send by default) pass."""
    body = _body_bytes(request)
    if _empty(request, body):
        return
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = None
    if data == {}:
        return
    takes = f"{method_named(request)} {request.path} reads no body; send none"
    if isinstance(data, dict):
        fields = agreeing(len(data), "field")
        keys = ", ".join(str(key) for key in data)
        raise ValidationError(f"unknown {fields} {keys}: {takes}", field="body")
    raise ValidationError(f"{takes} (got {len(body):,} bytes)", field="body")


def reads_own_body(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an API view that reads its body itself (`read_json`), so that
    `refuse_unread_bodies` leaves it be."""
    view.reads_own_body = True  # type: ignore[attr-defined]
    return view


def refuse_unread_bodies(router: Router) -> None:
    """Make each of the router's endpoints that declares no body schema, and
    does not read its body itself, refuse one (`refuse_body`) after its
    authentication: every endpoint then either reads its body by a schema
    that refuses unknown keys, or takes none. Call before the router is
    added to the API, whose mounts copy its operations."""
    for path_view in router.path_operations.values():
        for operation in path_view.operations:
            declared = any(issubclass(model, BodyModel) for model in operation.models)
            if declared or getattr(operation.view_func, "reads_own_body", False):
                continue
            operation.view_func = _bodiless(operation.view_func)


def _bodiless(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        refuse_body(request)
        return view(request, *args, **kwargs)

    return answer


def refuse_unknown_queries(router: Router) -> None:
    """Make each of the router's endpoints refuse (422 naming it) a query
    parameter it does not declare, and one it declares sent twice: the
    first would be ignored (`/deals/13/history?limit=abc`, before the
    history had pages, answered as if nothing had been asked), and of a
    repeat, which was meant cannot be told. A declared parameter of the
    wrong type is django-ninja's own 422 naming it (api.routes). Call
    before the router is added to the API."""
    for path_view in router.path_operations.values():
        for operation in path_view.operations:
            names: set[str] = set()
            lists: set[str] = set()
            for model in operation.models:
                if issubclass(model, QueryModel):
                    names |= set(_query_names(model))
                    lists |= set(getattr(model, "__ninja_collection_fields__", ()))
            operation.view_func = _queries_checked(
                operation.view_func, frozenset(names), frozenset(lists)
            )


def _query_names(model: type[QueryModel]) -> list[str]:
    """The names a query model reads from the address, flattened schemas'
    fields included."""
    flattened = getattr(model, "__ninja_flatten_map__", None)
    if flattened:
        return list(flattened)
    return [field.alias or name for name, field in model.model_fields.items()]


def _queries_checked(
    view: Callable[..., Any], names: frozenset[str], lists: frozenset[str]
) -> Callable[..., Any]:
    @wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        check_query(request, names, lists)
        return view(request, *args, **kwargs)

    return answer


def check_query(
    request: HttpRequest, names: frozenset[str], lists: frozenset[str] = frozenset()
) -> None:
    """Refuse a query parameter of `request` not in `names`, and one sent
    twice that is not in `lists`, naming it (422)."""
    unknown = [name for name in request.GET if name not in names]
    if unknown:
        takes = ", ".join(sorted(names)) if names else "none"
        params = agreeing(len(unknown), "query parameter")
        raise ValidationError(
            f"unknown {params} {', '.join(unknown)}: {method_named(request)} "
            f"{request.path} takes {takes}",
            field=unknown[0],
        )
    for name in request.GET:
        if name not in lists and len(request.GET.getlist(name)) > 1:
            raise ValidationError(
                f"{name}: the query parameter is sent twice; send it once",
                field=name,
            )


def check_value(data: Any) -> None:
    """Refuse lone surrogates, NUL characters and nesting past MAX_DEPTH,
    walking `data` without recursion."""
    pending: list[tuple[Any, int, str]] = [(data, 1, "")]
    while pending:
        value, depth, field = pending.pop()
        if isinstance(value, str):
            _check_text(value, field)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key, field, key=True)
                inner = f"{field}.{key}" if field else str(key)
                pending.append((item, depth + 1, inner))


def _check_text(text: str, field: str = "", *, key: bool = False) -> None:
    """Refuse a lone surrogate, and a NUL (core.controls) in the value or key
    at `field` ("custom.engagement"), naming it; other controls are each
    field's own rule (core.text)."""
    if "\x00" in text:
        field = field or "body"
        what = f"a key in {field}" if key else field
        raise ValidationError(
            f"{what} holds a NUL character (U+0000), which no text may hold",
            field=field,
        )
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
