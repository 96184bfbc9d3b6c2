"""Control characters that a value a request carries may not hold.

A NUL is never valid: PostgreSQL refuses it in text and jsonb (a 500 where
SQLite stored it or answered 404), and no one types it. Every door refuses
it before any value reaches a query, so that both databases answer the
same: the middleware for addresses, query strings, form fields and cookies
(dealgate.web.controls), the API's JSON reader for bodies, keys included
(dealgate.api.parser).

The other C0 controls and DEL are refused there too where no value can
hold them: an address, a parameter's or field's name, and a query
parameter (a filter names a pipeline, a person, a segment, none of which
holds one); tab and line breaks are allowed in a query value. In a form's
text or a JSON body they are each field's own rule (dealgate.core.text), so
that a page shows the error at its input, and a checklist key stored before
that rule may still be named to remove it.
"""

from __future__ import annotations

import re

NUL = re.compile("\x00")
# C0 controls and DEL, less tab, line feed and carriage return.
IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every C0 control and DEL: a name or an address holds no line break either.
IN_NAME = re.compile("[\x00-\x1f\x7f]")


def control_in(text: str, pattern: re.Pattern[str] = IN_TEXT) -> str | None:
    """The first character of `text` that `pattern` refuses, written as
    "U+0000", or None."""
    found = pattern.search(text)
    return f"U+{ord(found.group()):04X}" if found else None
