"""Ending a leaver's access: their sessions and their API tokens.

A deactivated person may not sign in, but Django only refuses their
sessions while they stay inactive; reactivated, an old cookie or token
would open everything again. `change_user` therefore ends both when it
deactivates someone, in the same change.

Sessions end the way a password change ends them: Django compares the hash
of the person a session recorded at sign-in with the hash now, and a new
`User.session_salt` changes it, whatever the session engine. Where the
engine keeps its sessions in the database, the person's rows are deleted as
well, so they can be counted.
"""

from __future__ import annotations

import secrets
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY

from dealgate import timesource

from .models import User


def new_session_salt() -> str:
    """A salt no session signed in before has recorded."""
    return secrets.token_hex(16)


def revoke_tokens(user: User) -> int:
    """Revoke every API token of `user` not revoked yet, recording when;
    how many. `dealgate token list` shows them revoked."""
    from dealgate.leads.models import ApiToken

    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timesource.wall_now()
    )


def end_stored_sessions(user: User) -> int | None:
    """Delete the sessions of `user` the session engine keeps in the
    database (db, cached_db); how many. None when the engine keeps no list
    to read (cache, files, signed cookies): the salt has ended them anyway.

    Reads every stored session once, since a session row names its person
    only inside its encoded data.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store_class, "get_model_class"):
        return None
    rows = store_class.get_model_class().objects.values_list(
        "session_key", "session_data"
    )
    reader = store_class()
    ended = 0
    for key, data in rows.iterator():
        if reader.decode(data).get(SESSION_KEY) == str(user.pk):
            store_class(session_key=key).delete()
            ended += 1
    return ended
