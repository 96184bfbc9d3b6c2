"""API tokens: a random secret shown once, kept only as its SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.db.models import F

from dealgate import timesource
from dealgate.accounts.models import User
from dealgate.errors import NotFound, ValidationError

from .models import ApiToken

log = logging.getLogger("dealgate.leads")

PREFIX = "dg_"
# Writing last_used_at on every request would cost a write per lead; once a
# minute is precise enough to tell a live token from a forgotten one.
TOUCH_EVERY = dt.timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns it with its secret, which is stored
    nowhere and cannot be shown again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError(
            "a token needs a name of 1 to 100 characters", field="name"
        )
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_hash=hash_secret(secret),
        prefix=secret[: len(PREFIX) + 6],
        created_at=timesource.now(),
    )
    log.info("API token %s (%r) created for %s", token.pk, name, user.username)
    return token, secret


def user_for_token(secret: str) -> User | None:
    """The active user a live token belongs to, or None.

    One query, read from the user's side with the token's id and last use
    alongside: every API request pays for it, so it carries no join the
    answer does not need and no ordering (the hash is unique).
    """
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    found = list(
        User.objects.filter(
            is_active=True,
            api_tokens__key_hash=hash_secret(secret),
            api_tokens__revoked_at__isnull=True,
        ).annotate(
            token_id=F("api_tokens__id"), token_used_at=F("api_tokens__last_used_at")
        )[:1]
    )
    if not found:
        return None
    user = found[0]
    now = timesource.now()
    if user.token_used_at is None or now - user.token_used_at >= TOUCH_EVERY:
        ApiToken.objects.filter(pk=user.token_id).update(last_used_at=now)
    return user


def revoke_token(token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = timesource.now()
        token.save(update_fields=["revoked_at"])
        log.info("API token %s revoked", token.pk)
    return token
