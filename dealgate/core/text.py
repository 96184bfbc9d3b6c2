"""What free text may hold, for every door that takes it (API, forms, files).

A one-line field (a name, a title) holds no line break or other control
character: mail subjects and chat messages are built from them, and a mail
header cannot hold a line break. Multi-line text (a message, notes) may hold
line breaks and tabs, never other control characters.
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f]")
