"""One rule for a required text: it must hold something a reader sees."""

import pytest

from dealgate.core.text import blank_problem, looks_blank, required_text
from dealgate.errors import ValidationError

# Each prints as nothing: format characters, default-ignorable code points
# and blank-looking ones (`core.names`), alone, repeated or with spaces.
INVISIBLE = [
    "\u200b",
    "\u2800",
    "\u00ad\u00ad",
    "\u3164",
    "\ufe0f",
    " \u200b\u2060 ",
    "\ufeff",
    "\u115f\u1160",
]


@pytest.mark.parametrize("text", ["", " ", "\t\n", "\u3000", *INVISIBLE])
def test_text_of_whitespace_and_invisible_characters_looks_blank(text):
    assert looks_blank(text)


@pytest.mark.parametrize("text", ["a", " Acme ", "\u200bAcme", "Müller", "日本", "-"])
def test_text_with_a_visible_character_does_not_look_blank(text):
    assert not looks_blank(text)
    assert blank_problem(text, "title") is None


@pytest.mark.parametrize("text", INVISIBLE)
def test_invisible_text_is_refused_naming_the_field_and_its_code_points(text):
    with pytest.raises(ValidationError) as refused:
        required_text(text, "override_reason")

    assert refused.value.field == "override_reason"
    message = refused.value.message
    assert message.startswith("override_reason: ")
    assert "holds no visible characters" in message
    assert f"U+{ord(text.strip()[0]):04X}" in message


def test_whitespace_is_refused_with_the_field_s_own_words():
    with pytest.raises(ValidationError, match="^a deal needs a title$"):
        required_text("   ", "title", missing="a deal needs a title")
    assert blank_problem("  ", "name") == "name must not be blank"


def test_a_form_that_labels_its_input_gets_the_problem_without_the_name():
    assert blank_problem("\u2800", "") == "holds no visible characters (U+2800)"


def test_invisible_text_is_named_by_its_code_points_never_quoted_raw():
    # repr escapes U+200B but prints U+2800 as it is: no quote at all.
    assert blank_problem("\u200b\u2800", "title") == (
        "title: holds no visible characters (U+200B, U+2800)"
    )


def test_a_long_invisible_text_is_named_cut():
    message = blank_problem("\u200b" * 500, "notes")

    assert len(message) < 300
    assert "U+200B, …" in message


def test_required_text_keeps_what_was_typed_without_outer_spaces():
    assert required_text("  Call\u200b back ", "decision") == "Call\u200b back"
