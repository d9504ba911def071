"""Server-side SVG charts for the admin's usage pages: no JavaScript, no CDN, no static files.

``line_chart`` draws count series sharing one time axis (received, rejected, blacklisted);
``stacked_bars`` draws one horizontal bar per row (a data category) split into parts (its
outcomes). Both return markup safe to put in a template: every label is escaped, and each
bucket or part carries a ``<title>`` so the browser shows its exact count on hover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Series = Sequence[tuple[int, int]]

WIDTH = 720
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
# Colour-blind-safe palette (Okabe-Ito), assigned in the order series or parts are given.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000")


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return magnitude * 10


def _time_label(ts: int, span: int) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%H:%M") if span <= 2 * 86_400 else moment.strftime("%b %d")


def _number(value: float) -> str:
    return f"{value:,.0f}"


def line_chart(series: Mapping[str, Series], *, label: str) -> SafeString:
    """One polyline per named series (all with the same timestamps), a y axis from 0 to a
    round maximum, a few time labels (UTC) and a legend. ``label`` names the chart for screen
    readers."""
    names = list(series)
    points = list(series[names[0]]) if names else []
    if not points:
        return mark_safe("")
    timestamps = [ts for ts, _ in points]
    top = nice_ceiling(max((count for values in series.values() for _, count in values), default=0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points) - 1, 1)

    def x(index: int) -> float:
        return LEFT + index * step

    def y(count: int) -> float:
        return TOP + plot_h - count / top * plot_h

    parts = [
        f'<svg class="usage-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        'style="max-width:720px;font:11px sans-serif">'
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        gy = TOP + plot_h - fraction * plot_h
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" fill="#555">'
            f"{_number(top * fraction)}</text>"
        )
    span = timestamps[-1] - timestamps[0]
    ticks = min(6, len(timestamps))
    for tick in range(ticks):
        index = round(tick * (len(timestamps) - 1) / max(ticks - 1, 1))
        parts.append(
            f'<text x="{x(index):.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="#555">'
            f"{_time_label(timestamps[index], span)}</text>"
        )
    for position, name in enumerate(names):
        colour = PALETTE[position % len(PALETTE)]
        coords = " ".join(
            f"{x(index):.1f},{y(count):.1f}" for index, (_, count) in enumerate(series[name])
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}">'
            f"<title>{escape(name)}</title></polyline>"
        )
    # One invisible column per bucket: hovering shows every series' count at that time.
    for index, ts in enumerate(timestamps):
        when = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
        values = ", ".join(f"{name} {_number(series[name][index][1])}" for name in names)
        parts.append(
            f'<rect x="{x(index) - step / 2:.1f}" y="{TOP}" width="{step:.1f}" '
            f'height="{plot_h}" fill="transparent"><title>{when}: {escape(values)}</title></rect>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts) + legend(names))  # every label is escaped


def legend(shown: Sequence[str], palette_order: Sequence[str] | None = None) -> str:
    """A colour key for ``shown``; colours follow each name's place in ``palette_order``
    (default: ``shown`` itself)."""
    order = list(palette_order or shown)
    items = "".join(
        f'<span style="margin-right:1.2em"><span style="display:inline-block;width:10px;'
        f"height:10px;background:{PALETTE[order.index(name) % len(PALETTE)]};"
        f'margin-right:4px"></span>{escape(name)}</span>'
        for name in shown
    )
    return f'<div class="usage-legend" style="font-size:12px;margin:4px 0 12px">{items}</div>'


def stacked_bars(
    rows: Mapping[str, Mapping[str, int]], *, order: Sequence[str], label: str
) -> SafeString:
    """One horizontal bar per row, its parts in ``order`` (parts not listed follow), all on
    one scale: the largest row total fills the width."""
    names = list(order) + sorted({part for row in rows.values() for part in row} - set(order))
    present = [name for name in names if any(row.get(name) for row in rows.values())]
    if not rows:
        return mark_safe("")
    bar_h, gap, label_w = 22, 8, 120
    height = len(rows) * (bar_h + gap) + 4
    total_max = max((sum(row.values()) for row in rows.values()), default=0) or 1
    plot_w = WIDTH - label_w - 80
    parts = [
        f'<svg class="usage-chart" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        'style="max-width:720px;font:12px sans-serif">'
    ]
    for index, (row_name, row) in enumerate(rows.items()):
        top = index * (bar_h + gap) + 2
        parts.append(
            f'<text x="{label_w - 8}" y="{top + bar_h / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(row_name)}</text>"
        )
        left = float(label_w)
        for name in present:
            quantity = row.get(name, 0)
            if not quantity:
                continue
            width = quantity / total_max * plot_w
            colour = PALETTE[names.index(name) % len(PALETTE)]
            parts.append(
                f'<rect x="{left:.1f}" y="{top}" width="{max(width, 1):.1f}" height="{bar_h}" '
                f'fill="{colour}"><title>{escape(row_name)} {escape(name)}: '
                f"{_number(quantity)}</title></rect>"
            )
            left += width
        parts.append(
            f'<text x="{left + 6:.1f}" y="{top + bar_h / 2 + 4:.1f}" fill="#555">'
            f"{_number(sum(row.values()))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts) + legend(present, names))  # every label is escaped
