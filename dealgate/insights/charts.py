"""Charts drawn on the server as SVG: no script, no dependency, readable as is.

Two shapes cover every insight: horizontal bars (one row per stage, owner or
reason; one or two series) and columns over time (the weekly review). Each
chart carries a title, an axis with ticks and a label that names the unit, and
an accessible description; the numbers are also in the table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH = 680
LABEL_WIDTH = 200
ROW = 22
PAD = 8
AXIS_SPACE = 44
COLORS = ("#1f5fbf", "#8fb0e0")
HIGHLIGHT = "#a3261b"
MUTED = "#5b6475"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top`: steps of 1, 2, 2.5 or 5
    times a power of ten."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    axis: str,
    fmt: Callable[[float], str],
    highlight: Sequence[bool] = (),
) -> SafeString:
    """Horizontal bars, one group per label; `axis` names the value and unit.

    `highlight` marks rows (a bottleneck, a stage over its limit) in red.
    """
    groups = len(labels)
    per_group = ROW * len(series) + PAD
    plot_width = WIDTH - LABEL_WIDTH - 60
    height = 30 + groups * per_group + AXIS_SPACE + (18 if len(series) > 1 else 0)
    top = max((v for s in series for v in s.values if v is not None), default=0)
    ticks = nice_ticks(top)
    scale = plot_width / ticks[-1]
    parts = [_open(title, height), _text(PAD, 18, title, weight="600")]
    y0 = 30
    for index, label in enumerate(labels):
        y = y0 + index * per_group
        middle = y + ROW * len(series) / 2 + 4
        parts.append(_text(LABEL_WIDTH - 8, middle, _short(label), anchor="end"))
        for number, one in enumerate(series):
            value = one.values[index]
            color = COLORS[number % len(COLORS)]
            if highlight and highlight[index] and number == 0:
                color = HIGHLIGHT
            bar_y = y + number * ROW
            width = 0 if value is None else max(value * scale, 0)
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{bar_y + 3}" width="{width:.1f}" '
                f'height="{ROW - 6}" fill="{color}"><title>{escape(label)}, '
                f"{escape(one.name)}: {escape(_or_na(value, fmt))}</title></rect>"
            )
            parts.append(
                _text(
                    LABEL_WIDTH + width + 4,
                    bar_y + ROW - 7,
                    _or_na(value, fmt),
                    size=11,
                )
            )
    axis_y = y0 + groups * per_group
    parts += _x_axis(ticks, scale, axis_y, axis, fmt)
    if len(series) > 1:
        parts += _legend(series, axis_y + AXIS_SPACE)
    parts.append("</svg>")
    return mark_safe("".join(parts))


def columns(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    axis: str,
    category_axis: str,
    fmt: Callable[[float], str],
    highlight_last: bool = True,
) -> SafeString:
    """Vertical columns over time, oldest first; the last one (this week)
    stands out. `axis` names the value and unit, `category_axis` the time."""
    height = 280
    left, bottom, top_space = 64, 56, 34
    plot_height = height - bottom - top_space
    plot_width = WIDTH - left - 16
    slot = plot_width / max(len(values), 1)
    top = max((v for v in values if v is not None), default=0)
    ticks = nice_ticks(top, 4)
    scale = plot_height / ticks[-1]
    base = height - bottom
    parts = [_open(title, height), _text(PAD, 18, title, weight="600")]
    for tick in ticks:
        y = base - tick * scale
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - 16}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#d8dde6"/>'
        )
        parts.append(_text(left - 6, y + 4, fmt(tick), anchor="end", size=11))
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + index * slot
        last = highlight_last and index == len(values) - 1
        color = HIGHLIGHT if last else COLORS[0]
        h = 0 if value is None else max(value * scale, 0)
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{base - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(label)}: {escape(_or_na(value, fmt))}</title></rect>"
        )
        parts.append(
            _text(
                x + slot / 2, base - h - 4, _or_na(value, fmt), anchor="middle", size=11
            )
        )
        parts.append(_text(x + slot / 2, base + 16, label, anchor="middle", size=11))
    parts.append(_line(left, WIDTH - 16, base, base))
    parts.append(
        _text(left + plot_width / 2, height - 12, category_axis, anchor="middle")
    )
    parts.append(
        f'<text x="14" y="{top_space + plot_height / 2:.1f}" font-size="12" '
        f'fill="{MUTED}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top_space + plot_height / 2:.1f})">'
        f"{escape(axis)}</text>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _open(title: str, height: float) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
        f'aria-label="{escape(title)}" font-family="system-ui, sans-serif">'
        f"<title>{escape(title)}</title>"
    )


def _x_axis(
    ticks: list[float], scale: float, y: float, axis: str, fmt: Callable[[float], str]
) -> list[str]:
    right = LABEL_WIDTH + ticks[-1] * scale
    parts = [_line(LABEL_WIDTH, right, y, y)]
    for tick in ticks:
        x = LABEL_WIDTH + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 4}" stroke="{MUTED}"/>'
        )
        parts.append(_text(x, y + 16, fmt(tick), anchor="middle", size=11))
    parts.append(
        _text(LABEL_WIDTH + (right - LABEL_WIDTH) / 2, y + 34, axis, anchor="middle")
    )
    return parts


def _line(x1: float, x2: float, y1: float, y2: float) -> str:
    return (
        f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" '
        f'stroke="{MUTED}"/>'
    )


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts = []
    x = LABEL_WIDTH
    for number, one in enumerate(series):
        color = COLORS[number % len(COLORS)]
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{color}"/>')
        parts.append(_text(x + 16, y + 10, one.name, size=11))
        x += 24 + 7 * len(one.name)
    return parts


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: int = 12,
    weight: str = "400",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" '
        f'text-anchor="{anchor}" fill="#1d2330">{escape(text)}</text>'
    )


def _short(label: str, limit: int = 26) -> str:
    # The full label is in the table and the bar's tooltip; the axis keeps
    # to its margin.
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _or_na(value: float | None, fmt: Callable[[float], str]) -> str:
    return "n/a" if value is None else fmt(value)
