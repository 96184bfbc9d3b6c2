"""The form's rate limit holds for submissions that arrive at once.

The limit is read before the capture and counted after it, in the capture's
transaction (dealgate.leads.webform): a second submission checked while the
first is still being captured finds the count as it was and is taken in too.
Under `dealgate serve` with 8 workers, 40 submissions sent at once from one
address took 12 leads in against a limit of 5.
"""

from __future__ import annotations

from dealgate.leads import spool
from dealgate.leads.models import Lead

from .conftest import inquiry

URL = "/leads/form/new-business/"


def test_a_submission_sent_while_another_is_captured_is_held_to_the_limit(
    client, routed, now, settings, monkeypatch
):
    settings.LEADS_FORM_RATE_LIMIT = 1
    capture = spool.capture_lead
    answers: list[int] = []
    calls: list[int] = []

    def capture_with_a_second_arriving(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            # The same visitor's next submission, checked meanwhile.
            answers.append(client.post(URL, inquiry(2)).status_code)
        return capture(*args, **kwargs)

    monkeypatch.setattr(spool, "capture_lead", capture_with_a_second_arriving)

    first = client.post(URL, inquiry(1)).status_code

    assert Lead.objects.count() == 1, (first, answers)
    assert sorted([first, *answers]) == [200, 429]
