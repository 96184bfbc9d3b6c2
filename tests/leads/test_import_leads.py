"""`dealgate import leads` with a mapping file: every row captured live."""

from __future__ import annotations

import shutil

import pytest

from dealgate.cli import main
from dealgate.errors import ValidationError
from dealgate.leads.imports import import_leads
from dealgate.leads.models import DedupDecision, Lead
from dealgate.leads.similar import possibly_same
from tests.conftest import REPO_ROOT

DATA = REPO_ROOT / "tests" / "data" / "leads"
FILE, MAPPING = DATA / "website-leads.csv", str(DATA / "website-leads.toml")


def test_rows_are_captured_routed_and_deduplicated(routed, now):
    report = import_leads(FILE, MAPPING, pipeline=routed)

    assert report.committed
    assert (report.rows_read, report.leads_created, report.leads_attached) == (4, 3, 1)
    anna = Lead.objects.get(external_id="website:1")
    assert anna.message == "Wants a quote\nfor 20 seats"
    assert anna.channel == "import" and anna.owner is not None
    assert Lead.objects.get(external_id="website:2").phone_e164 == "+49301234567"
    assert DedupDecision.objects.get().lead == anna


def test_a_second_run_adds_nothing(routed, now):
    import_leads(FILE, MAPPING, pipeline=routed)
    again = import_leads(FILE, MAPPING, pipeline=routed)

    assert (again.leads_created, again.leads_attached) == (0, 0)
    assert again.already_present == 4
    assert (Lead.objects.count(), DedupDecision.objects.count()) == (3, 1)


def test_one_bad_row_keeps_nothing_unless_skipped(routed, now, tmp_path):
    bad = tmp_path / "leads.csv"
    shutil.copy(FILE, bad)
    with bad.open("a") as f:
        f.write("5,Nobody,,,,DE,no way to answer\n6,Typo,anna@@x,,,DE,\n")

    report = import_leads(bad, MAPPING, pipeline=routed)
    assert not report.committed and not Lead.objects.exists()
    assert [str(b) for b in report.bad_rows] == [
        "line 7: E-mail: a lead needs an email address or a phone number to "
        "answer it on",
        "line 8: E-mail: 'anna@@x' is not an email address like name@example.com",
    ]

    skipped = import_leads(bad, MAPPING, pipeline=routed, all_or_nothing=False)
    assert skipped.committed and Lead.objects.count() == 3


HEADER = "Id,Full name,E-mail,Telephone,Firm,Land,Notes\n"
IDA = "L1,Ida Berg,ida@berg.example,,Berg IT,DE,\n"
JAN = "L1,Jan Kurz,jan@kurz.example,,Kurz Systems,DE,\n"


def test_an_id_repeated_in_the_file_is_a_bad_row_naming_the_first(
    routed, now, tmp_path, capsys
):
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + IDA + JAN)

    code = main(["import", "leads", str(path), "--mapping", MAPPING])
    out = capsys.readouterr().out
    skipped = import_leads(path, MAPPING, pipeline=routed, all_or_nothing=False)

    assert code != 0 and "line 3: Id: 'L1' is already on line 2" in out
    assert "0 already present" in out
    assert (skipped.leads_created, skipped.already_present) == (1, 0)
    assert [str(bad) for bad in skipped.bad_rows] == [
        "line 3: Id: 'L1' is already on line 2"
    ]
    assert Lead.objects.get().name == "Ida Berg"


def test_a_long_cell_capture_refuses_or_a_long_repeated_id_is_quoted_cut(
    routed, now, tmp_path
):
    email = "a" * 100 + "@@berg.example"
    long_id = "L" * 90
    path = tmp_path / "leads.csv"
    path.write_text(
        HEADER
        + f"L1,Typo,  {email}  ,,,DE,\n"
        + f"{long_id},Ida Berg,ida@berg.example,,Berg IT,DE,\n"
        + f"{long_id},Jan Kurz,jan@kurz.example,,Kurz Systems,DE,\n"
    )

    report = import_leads(path, MAPPING, pipeline=routed, all_or_nothing=False)

    assert [str(bad) for bad in report.bad_rows] == [
        f"line 2: E-mail: '{email[:59]}…' is not an email address like "
        "name@example.com",
        f"line 4: Id: '{long_id[:59]}…' is already on line 3",
    ]


def test_a_repeated_id_names_the_line_captured_not_an_earlier_bad_one(
    routed, now, tmp_path
):
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + "L1,Typo,ida@@berg,,,DE,\n" + IDA + JAN)

    report = import_leads(path, MAPPING, pipeline=routed, all_or_nothing=False)

    assert [str(bad) for bad in report.bad_rows][1:] == [
        "line 4: Id: 'L1' is already on line 3"
    ]


def test_importing_a_file_with_repeats_again_finds_them_all_present(
    routed, now, tmp_path
):
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + IDA + JAN)

    first = import_leads(path, MAPPING, pipeline=routed, all_or_nothing=False)
    again = import_leads(path, MAPPING, pipeline=routed, all_or_nothing=False)

    assert (first.leads_created, first.bad_row_count) == (1, 1)
    assert (again.leads_created, again.already_present, again.bad_row_count) == (
        0,
        2,
        0,
    )


def test_a_dry_run_writes_nothing(routed, now):
    report = import_leads(FILE, MAPPING, pipeline=routed, dry_run=True)

    assert report.leads_created == 3 and not report.committed
    assert not Lead.objects.exists()


def test_a_missing_column_is_refused_before_anything(routed, now, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nemail = "Mail"\n')
    with pytest.raises(ValidationError, match="no column 'Mail'"):
        import_leads(FILE, str(mapping), pipeline=routed)


def test_the_command_prints_the_report(routed, now, capsys):
    code = main(["import", "leads", str(FILE), "--mapping", MAPPING])

    out = capsys.readouterr().out
    assert code == 0
    assert "leads: 3 created, 0 already present, 1 attached" in out


def test_ctrl_c_stops_the_import_and_a_second_one_waits_for_the_rollback(
    routed, now, monkeypatch
):
    import signal

    from django.db import connection

    from dealgate.leads import imports

    rolled_back = []
    rollback = connection.savepoint_rollback

    def ctrl_c_again(*args):
        signal.raise_signal(signal.SIGINT)  # pressed again as it rolls back
        rollback(*args)
        rolled_back.append(True)

    capture = imports.capture_lead
    captured = []

    def capture_then_ctrl_c(*args, **kwargs):
        captured.append(capture(*args, **kwargs))
        if len(captured) == 2:
            signal.raise_signal(signal.SIGINT)
        return captured[-1]

    monkeypatch.setattr(imports, "capture_lead", capture_then_ctrl_c)
    monkeypatch.setattr(connection, "savepoint_rollback", ctrl_c_again)
    with pytest.raises(KeyboardInterrupt):
        import_leads(FILE, MAPPING, pipeline=routed)
    monkeypatch.undo()
    assert rolled_back and not Lead.objects.exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.django_db(transaction=True)
def test_a_ctrl_c_held_through_the_commit_comes_with_the_report(
    routed, now, monkeypatch
):
    import signal

    from django.db import connection

    from dealgate.core.interrupts import InterruptedAfterwards

    commit = connection.commit

    def ctrl_c_then_commit():
        signal.raise_signal(signal.SIGINT)  # as the import commits
        commit()

    monkeypatch.setattr(connection, "commit", ctrl_c_then_commit)
    with pytest.raises(InterruptedAfterwards) as caught:
        import_leads(FILE, MAPPING, pipeline=routed)
    monkeypatch.undo()
    assert caught.value.result.committed and caught.value.result.leads_created == 3
    assert Lead.objects.count() == 3


def test_a_repeat_of_a_row_attached_to_an_open_lead_names_that_row(
    routed, now, tmp_path
):
    path = tmp_path / "leads.csv"
    path.write_text(
        HEADER
        + "L1,Ida Berg,ida@berg.example,,Berg IT,DE,\n"
        + "L2,Ida again,IDA@berg.example,,Berg IT,DE,\n"
        + "L3,Jan Kurz,jan@kurz.example,,Kurz Systems,DE,\n"
        + "L2,Ida twice,ida@berg.example,,Berg IT,DE,\n"
    )

    report = import_leads(path, MAPPING, pipeline=routed, all_or_nothing=False)

    assert (report.leads_created, report.leads_attached) == (2, 1)
    assert [str(bad) for bad in report.bad_rows] == [
        "line 5: Id: 'L2' is already on line 3"
    ]


def test_similar_company_names_match_only_their_own_company(routed, now, tmp_path):
    """A file of names that share their first word ("Firm 12 Consulting
    GmbH"): each row is compared with the leads whose names have its
    numbers, so a repeat is found however many of its neighbours came
    before it, and no neighbour is taken for it. A name only close to its
    firm's ("Firm 3 Consultng") is a lead of its own that lists that firm
    alone as possibly the same. Every row writes from a mailbox provider,
    whose domain names no company: only names decide."""
    rows = [f"Firm {n} Consulting GmbH" for n in range(1, 251)] + [
        "Firm 12 Consultin AG",  # close to Firm 12: listed, not joined
        "FIRM 40 CONSULTING",  # the same as Firm 40
        "Firm 3 Consultng",  # close to Firm 3, 247 rows further up
        "Firm 251 Consulting",  # its numbers are no earlier row's
        # The same words in another order: Firm 7's (token-sort ratio 100).
        # Blocked by its first word, it was once compared with none.
        "Consulting Firm 7",
    ]
    path = tmp_path / "similar.csv"
    path.write_text(
        HEADER
        + "".join(
            f"S{i},Person {i},p{i}@web.de,,{company},DE,\n"
            for i, company in enumerate(rows)
        )
    )

    report = import_leads(path, MAPPING, pipeline=routed)

    assert (report.leads_created, report.leads_attached) == (253, 2)
    joined = {
        decision.data["company"]: (decision.lead.company, decision.matched_on)
        for decision in DedupDecision.objects.select_related("lead")
    }
    assert joined == {
        "FIRM 40 CONSULTING": ("Firm 40 Consulting GmbH", "company"),
        "Consulting Firm 7": ("Firm 7 Consulting GmbH", "company"),
    }
    for close, firm in [
        ("Firm 12 Consultin AG", "Firm 12 Consulting GmbH"),
        ("Firm 3 Consultng", "Firm 3 Consulting GmbH"),
    ]:
        lead = Lead.objects.get(company=close)
        assert [p.company for p in possibly_same(lead)] == [firm]
