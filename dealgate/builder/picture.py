"""The pipeline drawn left to right as SVG, written by hand (no dependency).

One box per stage, its height proportional to the open deals in it (a stage
with none still gets a readable box); the at-risk count (open deals past the
stage's age limit) in red; an arrow to the next stage labelled with the
stage's conversion, and a last arrow to "Won". A stage wider than the
bottleneck share gets a thick border. Colours and fonts are the app's
(dealgate/web/static/dealgate/app.css), so the picture sits on the page as if
drawn by it; every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from dealgate.core.rounding import percent
from dealgate.core.text import counted

from .figures import StageFigures

BOX_W = 160
GAP = 74
PAD = 16
MIN_H = 72
MAX_H = 180
WON_W = 96
LEGEND_H = 50
MIN_W = 440  # room for the legend
INK = "#1d2330"
MUTED = "#5b6475"
LINE = "#d8dde6"
ACCENT = "#1f5fbf"
RISK = "#a3261b"
NAME_CHARS = 20


def render_svg(title: str, stages: Sequence[StageFigures], won: int) -> str:
    """An SVG document of the pipeline `title`; self-contained, so it can be
    inlined in a page or saved as a file."""
    most = max((stage.open_deals for stage in stages), default=0)
    width = max(2 * PAD + len(stages) * (BOX_W + GAP) + WON_W, MIN_W)
    height = 2 * PAD + MAX_H + LEGEND_H
    middle = PAD + MAX_H / 2
    parts = [_open(title, width, height, stages)]
    for index, stage in enumerate(stages):
        x = PAD + index * (BOX_W + GAP)
        parts.append(_box(stage, x, middle, _height(stage.open_deals, most)))
        parts.append(_arrow(stage, x + BOX_W, middle))
    parts.append(_won(PAD + len(stages) * (BOX_W + GAP), middle, won))
    parts.append(_legend(PAD + MAX_H + 16))
    parts.append("</svg>\n")
    return "\n".join(parts)


def _height(count: int, most: int) -> float:
    if not most:
        return MIN_H
    return MIN_H + (MAX_H - MIN_H) * count / most


def _open(title: str, width: int, height: int, stages: Sequence[StageFigures]) -> str:
    summary = "; ".join(
        f"{s.name}: {s.open_deals} open, {s.at_risk} at risk, "
        f"{_percent(s.conversion)} moved on"
        for s in stages
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        'aria-labelledby="pipeline-title pipeline-desc" '
        'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">\n'
        f'<title id="pipeline-title">{_text(title)}</title>\n'
        f'<desc id="pipeline-desc">{_text(summary or "No stages yet")}</desc>\n'
        '<defs><marker id="pipeline-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0 0 L10 5 L0 10 z" fill="{MUTED}"/></marker></defs>'
    )


def _box(stage: StageFigures, x: float, middle: float, height: float) -> str:
    top = middle - height / 2
    border = (ACCENT, 3) if stage.wide else (LINE, 1)
    risk_colour = RISK if stage.at_risk else MUTED
    name = _name_lines(stage.name)
    first = middle - 8 - 8 * len(name)
    lines = [
        f'<g class="stage" data-stage="{_text(stage.key)}">',
        f"<title>{_text(stage.name)}</title>",
        f'<rect x="{x}" y="{top:.1f}" width="{BOX_W}" height="{height:.1f}" '
        f'rx="6" fill="#ffffff" stroke="{border[0]}" stroke-width="{border[1]}"/>',
        *(
            _label(x, first + 16 * at, line, INK, weight="600")
            for at, line in enumerate(name)
        ),
        _label(x, first + 16 * len(name) + 4, f"{stage.open_deals:,} open", INK),
        _label(
            x, first + 16 * len(name) + 22, f"{stage.at_risk:,} at risk", risk_colour
        ),
        "</g>",
    ]
    return "\n".join(lines)


def _label(x: float, y: float, text: str, colour: str, weight: str = "400") -> str:
    return (
        f'<text x="{x + BOX_W / 2}" y="{y:.1f}" text-anchor="middle" '
        f'font-size="13" font-weight="{weight}" fill="{colour}">{_text(text)}</text>'
    )


def _arrow(stage: StageFigures, x: float, middle: float) -> str:
    start, end = x + 6, x + GAP - 6
    return (
        f'<g class="went-on"><title>{_text(_went_on(stage))}</title>'
        f'<line x1="{start}" y1="{middle}" x2="{end}" y2="{middle}" '
        f'stroke="{MUTED}" stroke-width="1.5" marker-end="url(#pipeline-arrow)"/>\n'
        f'<text x="{(start + end) / 2}" y="{middle - 8}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">{_percent(stage.conversion)}</text></g>'
    )


def _went_on(stage: StageFigures) -> str:
    """What an arrow's share counts, for its tooltip: deals that reached the
    stage or went past it, skips and imported positions included, so it is
    not the closed deals' recorded stays the blueprint reads."""
    if stage.conversion is None:
        return f"No deal has reached {stage.name} or a stage after it yet"
    return (
        f"{_percent(stage.conversion)}: {stage.went_on:,} of the "
        f"{counted(stage.reached, 'deal')} that reached {stage.name} or a stage "
        "after it (a skip or an imported position counts) went on to a later "
        "stage or were won"
    )


def _won(x: float, middle: float, won: int) -> str:
    return (
        f'<g class="won"><rect x="{x}" y="{middle - 28}" width="{WON_W}" '
        f'height="56" rx="28" fill="#ffffff" stroke="{ACCENT}" stroke-width="2"/>\n'
        f'<text x="{x + WON_W / 2}" y="{middle - 3}" text-anchor="middle" '
        f'font-size="13" font-weight="600" fill="{ACCENT}">Won</text>\n'
        f'<text x="{x + WON_W / 2}" y="{middle + 15}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">{won:,}</text></g>'
    )


_LEGEND = (
    "Height: open deals · at risk: past the age limit · thick border: a bottleneck",
    "Arrows: of the deals that reached a stage or went past it (skips and",
    "imported positions count), the share that went on to a later one or won",
)


def _legend(y: float) -> str:
    return "\n".join(
        f'<text x="{PAD}" y="{y + 15 * at:.1f}" font-size="11" fill="{MUTED}">'
        f"{_text(line)}</text>"
        for at, line in enumerate(_LEGEND)
    )


def _name_lines(name: str) -> list[str]:
    """A stage's name in at most two lines of NAME_CHARS, broken between
    words; only a name too long for both is cut, with "…"."""
    if len(name) <= NAME_CHARS:
        return [name]
    cut_at = name.rfind(" ", 0, NAME_CHARS + 1)
    if cut_at <= 0:
        cut_at = NAME_CHARS
    first, rest = name[:cut_at].rstrip(), name[cut_at:].strip()
    if len(rest) > NAME_CHARS:
        rest = rest[: NAME_CHARS - 1] + "…"
    return [first, rest] if rest else [first]


def _percent(share: float | None) -> str:
    return "–" if share is None else percent(share, 0)


def _text(value: str) -> str:
    return escape(value, quote=True)
