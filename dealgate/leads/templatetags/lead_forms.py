"""How the lead pages show a refusal: after the input's label, once."""

from __future__ import annotations

from django import template

from dealgate.errors import DealgateError

register = template.Library()

# The inputs of the New lead page, the website form and a lead's edit form,
# by field key.
LABELS = {
    "pipeline": "Pipeline",
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "company": "Company",
    "website": "Website",
    "country": "Country",
    "segment": "Segment",
    "company_size": "Company size",
    "value": "Value",
    "currency": "Currency",
    "source": "Source",
    "message": "Message",
}


@register.filter
def refusal(error: DealgateError) -> str:
    """ "Company size: must be a whole number ..." for an error about an
    input; the whole message for one about no input."""
    label = LABELS.get(error.field or "")
    if label is None:
        return error.message
    return f"{label}: {error.detail}"
