import pytest
from django.core.exceptions import ValidationError


def test_a_person_may_keep_their_own_working_hours(alice):
    alice.calendar = {"timezone": "Asia/Kolkata", "hours": {"mon": ["10:00-18:00"]}}
    alice.full_clean()


def test_an_invalid_personal_calendar_is_refused_naming_the_key(alice):
    alice.calendar = {"timezone": "Mars/Base", "hours": {"mon": ["09:00-17:00"]}}
    with pytest.raises(ValidationError) as refused:
        alice.full_clean()
    assert "calendar.timezone" in str(refused.value.message_dict["calendar"])


def test_a_pipeline_calendar_edited_by_hand_is_checked(pipeline):
    pipeline.calendar = {"timezone": "Europe/Berlin", "hours": {"mon": ["17:00-09:00"]}}
    with pytest.raises(ValidationError) as refused:
        pipeline.full_clean()
    assert "calendar.hours.mon" in str(refused.value.message_dict["calendar"])
