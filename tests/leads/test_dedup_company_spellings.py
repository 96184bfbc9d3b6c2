"""Company names of one key are joined whatever their first word.

A name joins by its key (a transliterated umlaut, legal forms and case
aside) in any word order; candidates must not be narrowed to leads whose
name begins with the very same word, or the commonest spellings (a
transliterated umlaut in the first word, the words in another order) never
meet. Names only close to each other are not joined (test_possibly_same).
"""

from __future__ import annotations

import pytest

from dealgate.leads.models import Lead
from dealgate.leads.normalize import company_key, company_score
from dealgate.leads.services import capture_lead

from .conftest import inquiry


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Schröder Consulting GmbH", "Schroeder Consulting"),
        ("Consulting Schmidt", "Schmidt Consulting"),
    ],
)
def test_a_company_of_the_same_key_is_attached_whatever_its_first_word(
    routed, now, first, second
):
    assert company_score(company_key(first), company_key(second)) == 100
    original = capture_lead(
        inquiry(1, email="a@gmail.com", company=first), source="api"
    ).lead

    result = capture_lead(
        inquiry(2, email="b@yahoo.com", company=second), source="form"
    )

    assert not result.created
    assert result.decision.lead == original
    assert Lead.objects.count() == 1


def test_a_plus_tagged_address_at_a_mailbox_provider_joins_the_open_lead(routed, now):
    original = capture_lead(inquiry(1, email="max.g@gmail.com"), source="api").lead

    result = capture_lead(inquiry(2, email="Max.G+web@gmail.com"), source="form")

    assert not result.created
    assert result.decision.lead == original
