"""API tokens: a random secret shown once, kept only as its SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import NamedTuple

from django.db import OperationalError, connection

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.clocks import bulk
from dealgate.core.text import agreeing, counted, required_text
from dealgate.errors import NotFound, ValidationError
from dealgate.pipelines.models import Pipeline
from dealgate.web.busy import is_busy, waiting_at_most
from dealgate.web.head import answering_head

from .models import ApiToken, Lead

log = logging.getLogger("dealgate.leads")

PREFIX = "dg_"
# Writing last_used_at on every request would cost a write per lead; once a
# minute is precise enough to tell a live token from a forgotten one.
TOUCH_EVERY = dt.timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# What each scope opens, from least to most: each opens what the one
# before it does and more (`ApiToken.Scope`).
SCOPES = (
    ApiToken.Scope.CAPTURE,
    ApiToken.Scope.LEADS,
    ApiToken.Scope.LEADS_AND_DEALS,
)
OPENS = {
    ApiToken.Scope.CAPTURE: "capturing leads (POST /api/v1/leads) only",
    ApiToken.Scope.LEADS: "the lead endpoints only",
    ApiToken.Scope.LEADS_AND_DEALS: "the lead and deals endpoints",
}


def create_token(
    user: User,
    name: str,
    *,
    scope: str = ApiToken.Scope.CAPTURE,
    pipeline: Pipeline | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` opening `scope` (`ApiToken.Scope`: capturing
    leads only by default, what a website's form needs), bound to `pipeline`
    (its captures that name no pipeline go there): if none is given, a
    capture token is bound to the only pipeline there is, as a website's
    form given it then sends its leads there, and a pipeline added later
    must not make them 422s. Returns it with its secret, which is stored
    nowhere and cannot be shown again."""
    name = required_text(
        name, "name", missing="a token needs a name of 1 to 100 characters"
    )
    if len(name) > 100:
        raise ValidationError(
            "a token needs a name of 1 to 100 characters", field="name"
        )
    if scope not in ApiToken.Scope.values:
        scopes = ", ".join(ApiToken.Scope.values[:-1])
        scopes += f" or {ApiToken.Scope.values[-1]}"
        raise ValidationError(
            f"scope: {scope!r} is no token scope; give {scopes}", field="scope"
        )
    if pipeline is None and scope == ApiToken.Scope.CAPTURE:
        only = list(Pipeline.objects.all()[:2])
        pipeline = only[0] if len(only) == 1 else None
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_hash=hash_secret(secret),
        prefix=secret[: len(PREFIX) + 6],
        created_at=timesource.wall_now(),
        scope=scope,
        pipeline=pipeline,
    )
    log.info(
        "API token %s (%r) created for %s, opening %s",
        token.pk,
        name,
        user.username,
        scope,
    )
    return token, secret


class TokenUse(NamedTuple):
    """A live token as a request presents it: its id, its active user, what
    it opens (`ApiToken.Scope`) and the key of the pipeline it is bound to
    (None: unbound)."""

    token_id: int
    user: User
    scope: str
    pipeline_key: str | None = None

    @property
    def opens_deals(self) -> bool:
        return self.opens(ApiToken.Scope.LEADS_AND_DEALS)

    def opens(self, needed: str) -> bool:
        """Whether the token's scope opens what `needed` opens. A scope
        not known here (none is stored but those of `ApiToken.Scope`) opens
        nothing."""
        if self.scope not in SCOPES:
            return False
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


def user_for_token(secret: str) -> User | None:
    """The active user a live token belongs to, or None (`read_token`)."""
    use = read_token(secret)
    return use.user if use is not None else None


def read_token(secret: str) -> TokenUse | None:
    """A live token of an active user, as `TokenUse`, or None.

    One query in fixed SQL, read by `bulk.read`: every API request pays for
    it, and the ORM compiling this join cost more CPU than the database
    spent answering it (0.8 ms against 0.3 ms in process). It reads the
    user's row from the token's unique hash, with the token's scope and
    whether it was last used TOUCH_EVERY ago or more (or never): the write
    that records a use happens once a minute at most, and never for a HEAD
    request, which changes nothing stored (dealgate.web.head).
    """
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    now = timesource.wall_now()
    stale_before = connection.ops.adapt_datetimefield_value(now - TOUCH_EVERY)
    found = bulk.read(
        User, _USER_FIELDS, _USER_FOR_TOKEN, [stale_before, hash_secret(secret), True]
    )
    if not found:
        return None
    user, (token_id, scope, pipeline_key, stale) = found[0]
    if stale and not answering_head():
        _touch(token_id, now)
    return TokenUse(token_id, user, scope, pipeline_key)


def _touch(token_id: int, now: dt.datetime) -> None:
    """Record a token's use, unless another writer holds SQLite's lock: a
    lead must not wait for it, nor be refused, for a time of use that a
    request of the next minute records as well."""
    try:
        with waiting_at_most(0):
            ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        log.debug("API token %s: use not recorded, the database is busy", token_id)


_USER_FIELDS, _USER_COLUMNS = bulk.columns(User, "u")


def _user_for_token_sql() -> str:
    user, token = User._meta.db_table, ApiToken._meta.db_table
    pipeline = Pipeline._meta.db_table
    return (
        f'SELECT {_USER_COLUMNS}, t."id", t."scope", p."key", '
        f'(t."last_used_at" IS NULL OR t."last_used_at" <= %s) '
        f'FROM "{user}" u INNER JOIN "{token}" t ON t."user_id" = u."id" '
        f'LEFT JOIN "{pipeline}" p ON p."id" = t."pipeline_id" '
        f'WHERE t."key_hash" = %s AND t."revoked_at" IS NULL AND u."is_active" = %s'
    )


_USER_FOR_TOKEN = _user_for_token_sql()


def revoke_token(token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = timesource.wall_now()
        token.save(update_fields=["revoked_at"])
        log.info("API token %s revoked", token.pk)
    return token


def bind_token(token_id: int, pipeline: Pipeline) -> ApiToken:
    """Bind an unbound token to `pipeline`: its captures that name no
    pipeline go there. Binding only narrows what a token does, so a token
    given out before a second pipeline came keeps working without a new
    secret; one bound already stays as it is (ValidationError), as its
    holder was given it for that pipeline."""
    token = ApiToken.objects.select_related("pipeline").filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if token.pipeline_id == pipeline.pk:
        return token
    if token.pipeline is not None:
        raise ValidationError(
            f"API token {token.pk} is bound to the pipeline {token.pipeline.key!r} "
            "already; make a new token for another one",
            field="pipeline",
        )
    token.pipeline = pipeline
    token.save(update_fields=["pipeline"])
    log.info("API token %s bound to pipeline %s", token.pk, pipeline.key)
    return token


def second_pipeline_warning() -> str | None:
    """What a second pipeline breaks, said before one is made while there is
    exactly one: a capture that names no pipeline went to that one, and is
    refused (422) once there are two, unless its token is bound to one. None
    when there is not exactly one pipeline, or no live unbound token and no
    lead captured through the API."""
    pipelines = list(Pipeline.objects.values_list("key", flat=True)[:2])
    if len(pipelines) != 1:
        return None
    unbound = list(
        ApiToken.objects.filter(revoked_at=None, pipeline=None)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    through_api = Lead.objects.filter(channel="api").exists()
    if not unbound and not through_api:
        return None
    only = pipelines[0]
    held = (
        f"{counted(len(unbound), 'API token')} bound to no pipeline "
        f"({agreeing(len(unbound), 'id')} {', '.join(map(str, unbound))}): bind "
        f"{agreeing(len(unbound), 'it', 'each')} to {only!r} with `dealgate "
        f"token bind ID {only}`"
        if unbound
        else f"leads came into {only!r} through the API: a client that sends "
        "no pipeline must now send one"
    )
    return (
        "with a second pipeline, POST /api/v1/leads without `pipeline` is "
        "refused (422) unless its token is bound to a pipeline; " + held
    )
