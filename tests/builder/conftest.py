"""Shared builder fixtures: signed-in clients for the personas, an applied
example pipeline, and a helper that posts a builder form."""

from __future__ import annotations

import pytest
from django.test import Client

from dealgate.builder.drafts import working_copy
from dealgate.core.pipeline_file import load_pipeline_file
from dealgate.errors import NotFound
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import apply_pipeline
from tests.conftest import REPO_ROOT

IT_SERVICES = REPO_ROOT / "examples" / "pipelines" / "it-services.toml"


@pytest.fixture
def admin_client(olivia) -> Client:
    client = Client()
    client.force_login(olivia)
    return client


@pytest.fixture
def manager_client(max_manager) -> Client:
    client = Client()
    client.force_login(max_manager)
    return client


@pytest.fixture
def rep_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def it_services(db, olivia, team, demo_people) -> Pipeline:
    """The example IT-services pipeline, applied from its file (its routing
    rules name a team and a manager that `make demo` creates)."""
    apply_pipeline(load_pipeline_file(IT_SERVICES))
    return Pipeline.objects.get(key="it-services")


def post(client: Client, url: str, data: dict | None = None, *, status: int = 302):
    """POST a form as its page, opened just now, would (with the `seen` that
    page carries) and check the answer's status (a redirect by default)."""
    data = dict(data or {})
    data.setdefault("seen", seen_now(url))
    response = client.post(url, data)
    assert response.status_code == status, _errors(response)
    return response


def seen_now(url: str) -> str:
    """What a builder page for the pipeline in `url` carries as `seen` now
    ("" when there is no such pipeline or draft)."""
    key = url.strip("/").split("/")[1]
    try:
        return working_copy(key).seen
    except NotFound:
        return ""


def _errors(response) -> str:
    """The error lists of a page, to say why a form was refused."""
    import re

    page = response.content.decode()
    found = re.findall(r'<ul class="errorlist[^>]*>.*?</ul>', page, flags=re.S)
    return "\n".join(found) or page[:2000]
