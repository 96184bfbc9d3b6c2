import re
from pathlib import Path

from django.contrib.staticfiles import finders
from django.urls import reverse


def test_every_page_names_an_icon_that_exists(client, db):
    page = client.get(reverse("login")).content.decode()

    match = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', page)
    assert match, "the login page names no icon"
    path = finders.find(match.group(1).removeprefix("/static/"))
    assert path and Path(path).read_text().startswith("<svg")
