"""Who must move many deals out of their stage, decided in memory.

The rule itself is `dealgate.deals.services.Responsible`, the one definition
that moves, lead conversions and pipeline redesigns use as well; an import
routes each written row through it, so n deals cost one query per team.
"""

from __future__ import annotations

from dealgate.deals.services import Responsible

__all__ = ["Responsible"]
