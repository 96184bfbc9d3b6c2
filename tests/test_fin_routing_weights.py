"""A routing rule's weights name people: one that names nobody is refused
(tester fin). A weight for a misspelt username ("Raj" for raj, or a typo)
was taken silently, and the person it meant weighed 1."""

import pytest

from dealgate.core.pipeline_file import PipelineFileError, parse_pipeline
from dealgate.pipelines.models import Pipeline
from dealgate.pipelines.services import plan_pipeline
from tests.test_pipeline_apply import FILE

WEIGHTED = """
[[routing]]
name = "Central rotation"
to = "team:Central"
how = "weighted"
weights = { zed = 3 }
"""


@pytest.fixture
def people(alice, max_manager):
    """alice (a rep) and the Central team exist, as the file names them."""
    return alice


def test_a_weight_for_a_username_nobody_has_is_an_error_naming_it(db, people):
    text = FILE + WEIGHTED
    with pytest.raises(PipelineFileError) as caught:
        plan_pipeline(parse_pipeline(text, "sales.toml"))
    assert any(
        "routing[0].weights" in str(problem) and "zed" in str(problem)
        for problem in caught.value.problems
    ), [str(problem) for problem in caught.value.problems]
    assert not Pipeline.objects.exists()
