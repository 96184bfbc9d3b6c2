"""What the actions taken on a deal past its stage's age limit are called
where a person reads them: the builder's stage form, the stage tables, the
design review and the plan of a draft. Pipeline files name them by key
(`on_breach = ["mark_at_risk", "notify"]`); pages name them so.
"""

from __future__ import annotations

from collections.abc import Iterable

# By the keys of `dealgate.clocks.rules.ACTIONS`.
ACTION_LABELS = {
    "mark_at_risk": "Mark the deal at risk",
    "notify": "Notify the person responsible",
    "escalate": "Escalate to their manager after one more window",
    "task": "Create a follow-up task",
    "reassign": "Reassign the deal to another team member",
    "sequence": "Start the follow-up sequence",
}
DEFAULT_WORDS = "the pipeline's default"
NOTHING = "do nothing"


def action_label(action: str) -> str:
    """The words for one action key; an unknown key spelled out."""
    return ACTION_LABELS.get(action, action.replace("_", " "))


def actions_said(actions: Iterable[str] | None) -> str:
    """A list of actions as a person reads it: "Mark the deal at risk;
    Notify the person responsible"; "do nothing" for none, "the pipeline's
    default" for None (no list of its own)."""
    if actions is None:
        return DEFAULT_WORDS
    words = [action_label(action) for action in actions]
    return "; ".join(words) if words else NOTHING
