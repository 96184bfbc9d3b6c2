"""Field types that read a JSON body as JSON wrote it.

pydantic's lax mode reads `"1"`, `true` and `1.0` as the integer 1, and
`"yes"`, `1` and `"on"` as true: a client that sent the wrong type would
find it taken as something it did not write. A version, an id or a flag is
taken here only as a JSON integer or a JSON true/false, and anything else
is refused naming the field (422). A date or a time is ISO 8601 text: a
bare number is not read as seconds since 1970, as pydantic would.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from dealgate.core.text import shown_json


def _json_int(value: Any) -> int:
    # bool is an int to Python, never a number to JSON.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError(
        "json_int",
        "must be a JSON integer such as 3, got {value}",
        {"value": shown_json(value)},
    )


def _json_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise PydanticCustomError(
        "json_bool",
        "must be true or false, got {value}",
        {"value": shown_json(value)},
    )


def _json_bool_or_null(value: Any) -> bool | None:
    return None if value is None else _json_bool(value)


JsonInt = Annotated[int, BeforeValidator(_json_int)]
JsonBool = Annotated[bool, BeforeValidator(_json_bool)]
# Null as well, in one type: a union of two would name its members in
# the refusal's field.
JsonBoolOrNull = Annotated[bool | None, BeforeValidator(_json_bool_or_null)]


def _text_or_null(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    raise PydanticCustomError(
        "iso_text",
        "must be ISO 8601 text such as 2026-09-30 or 2026-09-30T17:00:00+02:00, "
        "got {value}",
        {"value": shown_json(value)},
    )


IsoDateOrNull = Annotated[dt.date | None, BeforeValidator(_text_or_null)]
IsoDateTimeOrNull = Annotated[dt.datetime | None, BeforeValidator(_text_or_null)]
