"""One error family for everything a user can get wrong.

Each error carries a short code, a message that names the field, line or rule,
and an HTTP status; the API, the pages and the CLI all render it from here.
"""

from __future__ import annotations


class DealgateError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        data = {"code": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        return data

    @property
    def detail(self) -> str:
        """The message without the field's key in front of it, for a form
        that shows the input's own label first: "organization: holds no
        visible characters (U+200B)" is "holds no visible characters
        (U+200B)" there, and
        "expected_close_date must lie between ..." is "must lie between ...".
        The message, which the API and the CLI show, keeps the key: there
        nothing else says which field it is about."""
        if not self.field:
            return self.message
        for name in {self.field, self.field.replace(":", ".", 1)}:
            for joint in (": ", " "):
                if self.message.startswith(name + joint):
                    rest = self.message[len(name) + len(joint) :].lstrip()
                    return rest or self.message
        return self.message


class ValidationError(DealgateError):
    code = "invalid"
    status = 422


class NotFound(DealgateError):
    code = "not_found"
    status = 404


class MethodNotAllowed(DealgateError):
    """The address exists, but not for this HTTP method."""

    code = "method_not_allowed"
    status = 405


class Conflict(DealgateError):
    """The record changed since the caller read it; reload and try again."""

    code = "conflict"
    status = 409


class PermissionDenied(DealgateError):
    code = "forbidden"
    status = 403


class Busy(DealgateError):
    """Another process holds the database's write lock (on SQLite, an
    import): nothing was saved, and the same request may be sent again."""

    code = "busy"
    status = 503
