"""Refuse a form whose text is not UTF-8, rather than keep it garbled.

A browser sends a form in the encoding of the page that holds it, unless
the form says `accept-charset="utf-8"`. A firm's own page in ISO-8859-1
posting to the lead form sends "Jörg" as the byte 0xF6, which is no UTF-8:
Django reads a form's fields as UTF-8 and puts U+FFFD in place of what does
not read, and the lead was kept with "J\ufffdrg" while its visitor was
thanked. A form that declares another charset
(`application/x-www-form-urlencoded; charset=latin-1`) Django refuses
outright, as the HTML standard reads such a body as UTF-8 whatever it says,
and the site answered a bare "This request could not be read".

Here both are one refusal (422) naming the fields that did not read and
saying the form must be sent as UTF-8. A multipart form says its encoding
per request, and Django reads it in that one; its fields are refused only
where what Django read holds U+FFFD, the mark of a lossy decode.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.http import HttpRequest

from dealgate.core.text import agreeing
from dealgate.errors import ValidationError

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
_UTF8 = ("utf-8", "utf8")
# What the refusal asks of whoever wrote the page that sent the form.
FIX = (
    "the form must be sent as UTF-8: save the page that holds it as UTF-8, "
    'or add accept-charset="utf-8" to its <form>'
)


def undecodable_form(request: HttpRequest) -> ValidationError | None:
    """The refusal of a form posted in another encoding than UTF-8, naming
    the fields (or the charset declared) that say so; None for any other
    request. For a URL-encoded form it reads the raw body, not the fields
    Django made of it, so that a U+FFFD typed on purpose is taken."""
    if request.method != "POST":
        return None
    charset = request.content_params.get("charset", "") if request.content_type else ""
    if request.content_type == URLENCODED:
        if charset and charset.strip().lower() not in _UTF8:
            return ValidationError(
                f"the form declares its text as charset={charset}; {FIX}",
                field="body",
            )
        return _refusal(_undecodable_pairs(request.body))
    if request.content_type == MULTIPART:
        fields = [
            name
            for name, values in request.POST.lists()
            if "\ufffd" in name or any("\ufffd" in value for value in values)
        ]
        return _refusal(fields)
    return None


def _undecodable_pairs(body: bytes) -> list[str]:
    """The names of the fields of a URL-encoded `body` whose name or value,
    unescaped, is not UTF-8; a name that is not is given as read lossily."""
    names = []
    for pair in body.split(b"&"):
        name, _, value = pair.partition(b"=")
        raw_name = unquote_to_bytes(name.replace(b"+", b" "))
        raw_value = unquote_to_bytes(value.replace(b"+", b" "))
        try:
            raw_name.decode("utf-8")
            raw_value.decode("utf-8")
        except UnicodeDecodeError:
            names.append(raw_name.decode("utf-8", "replace"))
    return list(dict.fromkeys(names))


def _refusal(fields: list[str]) -> ValidationError | None:
    if not fields:
        return None
    noun = agreeing(len(fields), "field")
    return UndecodableForm(
        f"the {noun} {', '.join(fields)} did not arrive as UTF-8 text, so "
        f"nothing was kept; {FIX}",
        field=fields[0],
        fields=fields,
    )


class UndecodableForm(ValidationError):
    """A form's fields that did not read as UTF-8 (`fields`, by name)."""

    def __init__(self, message: str, *, field: str, fields: list[str]) -> None:
        super().__init__(message, field=field)
        self.fields = fields
