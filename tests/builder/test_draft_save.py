"""Saving a draft: a second draft of the same pipeline is a conflict for
the user; any other broken constraint is a fault and stays one."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from dealgate import timesource
from dealgate.builder.drafts import _save
from dealgate.builder.models import Draft
from dealgate.errors import Conflict


def _draft(key: str) -> Draft:
    now = timesource.now()
    return Draft(key=key, spec={"key": key}, created_at=now, updated_at=now)


@pytest.mark.django_db
def test_a_second_draft_of_the_same_pipeline_is_a_conflict():
    _save(_draft("sales"), "someone else started a draft")
    with pytest.raises(Conflict, match="someone else started a draft"):
        _save(_draft("sales"), "someone else started a draft")
    assert Draft.objects.filter(key="sales").count() == 1


@pytest.mark.django_db
def test_another_broken_constraint_is_not_reported_as_a_conflict():
    draft = _draft("sales")
    draft.spec = None  # spec may not be NULL
    with pytest.raises(IntegrityError):
        _save(draft, "someone else started a draft")
    assert not Draft.objects.exists()
