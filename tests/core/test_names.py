"""One rule for telling two spellings of a name apart (core.names), and the
looser keys of the import and of lead de-duplication built on it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealgate.core.csvsource import spelling_key
from dealgate.core.names import NAME_KEY_LENGTH, name_key, tidy_name
from dealgate.leads.normalize import company_key

ZERO_WIDTH_SPACE = "\u200b"


@pytest.mark.parametrize(
    "typed",
    [
        "Acme",
        "acme",
        " Acme  ",
        "ACME",
        f"Ac{ZERO_WIDTH_SPACE}me",
        f"Acme{ZERO_WIDTH_SPACE}",
        "\ufeffAcme",  # a byte-order mark pasted from a file
        "Ac\u00adme",  # a soft hyphen
        "Ａｃｍｅ",  # full-width letters
    ],
)
def test_spellings_of_one_name_share_its_key(typed):
    assert name_key(typed) == "acme"


def test_spacing_is_one_space_whatever_was_typed():
    assert name_key("Acme \u00a0\t Corp") == name_key("acme corp") == "acme corp"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Acme Corp", "Acme Inc"),
        ("Acme-Corp", "Acme Corp"),
        ("Müller", "Muller"),
        ("Studio 1", "Studio 10"),
    ],
)
def test_names_that_differ_in_more_than_spelling_keep_apart(one, other):
    assert name_key(one) != name_key(other)


def test_a_tidy_name_keeps_letters_and_case_and_drops_what_cannot_be_seen():
    assert tidy_name(f"  Ac{ZERO_WIDTH_SPACE}me   GmbH ") == "Acme GmbH"
    assert tidy_name("Ａｃｍｅ") == "Ａｃｍｅ"


@pytest.mark.parametrize("typed", ["", "   ", ZERO_WIDTH_SPACE, "\u200c\u200d \ufeff"])
def test_a_name_with_nothing_visible_is_empty(typed):
    assert tidy_name(typed) == name_key(typed) == ""


def test_a_key_that_folds_longer_than_typed_is_cut_to_its_column():
    assert name_key("ß" * 300) == "ss" * (NAME_KEY_LENGTH // 2)


# What a person may do to a name without meaning another organization: put
# invisible characters before letters, change their case, pad with spaces.
_letters = st.text(alphabet=st.sampled_from("abcXYZ019éÉßøÆ"), min_size=1, max_size=12)
_invisible = st.sampled_from(["", ZERO_WIDTH_SPACE, "\u00ad", "\ufeff", "\u2060"])
_spaces = st.sampled_from(["", " ", "  ", "\u00a0", "\t"])
_changes = st.lists(st.tuples(_invisible, st.booleans()), min_size=12, max_size=12)


def respelled(name: str, changes: list[tuple[str, bool]], pad: str) -> str:
    letters = [
        mark + (ch.upper() if upper else ch.lower())
        for ch, (mark, upper) in zip(name, changes, strict=False)
    ]
    return pad + "".join(letters) + pad


@given(name=_letters, changes=_changes, pad=_spaces)
def test_every_key_takes_a_respelled_name_as_the_same(name, changes, pad):
    other = respelled(name, changes, pad)

    assert name_key(other) == name_key(name)
    # The import's spelling key and lead de-duplication's company key are
    # built on the name key: what it joins, they join.
    assert spelling_key(other) == spelling_key(name)
    assert company_key(other) == company_key(name)


@pytest.mark.parametrize(
    "typed",
    [
        "\u3164",  # Hangul filler, a letter (Lo) drawn as nothing
        "\uffa0",  # its half-width form
        "\u115f\u1160",  # Hangul choseong and jungseong fillers
        "\u2800",  # Braille pattern blank: not ignorable, but looks blank
        "\u034f",  # combining grapheme joiner, a mark (Mn)
        "\ufe0f\ufe00",  # variation selectors
        "\U000e0041\U000e0101",  # a tag letter and a variation selector 17
    ],
)
def test_invisible_characters_that_are_no_format_characters_count_as_nothing(typed):
    assert tidy_name(typed) == name_key(typed) == ""
    assert tidy_name(f"Ze{typed}ta") == "Zeta"


def test_a_variation_selector_after_a_name_is_the_same_name():
    assert name_key("Zeta Widgets\ufe0f") == name_key("Zeta Widgets")
    assert company_key("Zeta Widgets\ufe0f") == company_key("Zeta Widgets")
    assert spelling_key("Zeta\u3164Widgets") == spelling_key("ZetaWidgets")


def test_visible_letters_outside_ascii_stay_in_a_name():
    # Hangul syllables and jamo that are drawn, a combining accent, Braille
    # dots: none is in the invisible set.
    assert tidy_name("한글 \u1100 e\u0301 \u2801") == "한글 \u1100 e\u0301 \u2801"
