"""DEALGATE_CLIENT_ADDRESS_HEADER is a header's name: anything else would
match no header and leave every limit per address counting the proxy."""

import pytest

from tests.test_settings import _run, _settings_error


@pytest.mark.parametrize(
    "raw", ["bad header", "X-Real-IP: 10.0.0.1", "X-Real-IP;", "Réel-IP"]
)
def test_a_value_that_is_no_header_name_is_refused_naming_the_variable(raw):
    found = _settings_error({"DEALGATE_CLIENT_ADDRESS_HEADER": raw})

    assert found.startswith(
        "django.core.exceptions.ImproperlyConfigured: "
        "DEALGATE_CLIENT_ADDRESS_HEADER must be a header's name"
    )
    assert f"got {raw.strip()!r}" in found


@pytest.mark.parametrize(
    "raw", ["X-Real-IP", " X-Forwarded-For ", "HTTP_X_REAL_IP", "CF-Connecting-IP"]
)
def test_a_header_name_is_taken_in_either_spelling(raw):
    code = "import dealgate.settings as s; print(s.CLIENT_ADDRESS_HEADER)"

    assert _run(code, {"DEALGATE_CLIENT_ADDRESS_HEADER": raw}).stdout.strip() == (
        raw.strip()
    )
