"""Bar charts as small server-side SVG, drawn from the report figures (no chart library, no script).

Each chart is an ``<svg role="img">`` with a title and a description naming
every figure, so a screen reader gets the numbers; the same figures are in the
table next to it. Labels are escaped: they come from data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

# Fill colours with at least 3:1 against white (WCAG 1.4.11, non-text contrast).
COLOURS = ("#0b5cad", "#1a7f37", "#c4202e", "#6e40c9")


def _step(value: float) -> int:
    """A whole, round tick step (1, 2 or 5 times a power of ten) so that four steps reach ``value``."""
    need = max(1.0, value / 4)
    power = 10 ** math.floor(math.log10(need))
    for step in (1, 2, 5, 10):
        if step * power >= need:
            return int(step * power)
    return int(10 * power)


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int | float]]], chart_id: str
) -> Markup:
    """Grouped bars: one group per label, one bar per series."""
    width, height, left, right, top, bottom = 600, 300, 52, 8, 44, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _step(max((v for _, values in series for v in values), default=0))
    top_value = step * 4
    group = plot_w / max(1, len(labels))
    bar = max(2.0, (group * 0.8) / max(1, len(series)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" class="bars">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">'
        + escape(
            "; ".join(
                f"{label}: " + ", ".join(f"{name} {values[i]}" for name, values in series)
                for i, label in enumerate(labels)
            )
        )
        + "</desc>",
        '<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>',
    ]
    for k in range(5):
        value = step * k
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="15" fill="#424a53">{value}</text>'
        )
    for i, label in enumerate(labels):
        x0 = left + group * i + group * 0.1
        for j, (_, values) in enumerate(series):
            h = plot_h * (values[i] / top_value) if top_value else 0
            parts.append(
                f'<rect x="{x0 + bar * j:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[j % len(COLOURS)]}"/>'
            )
        parts.append(
            f'<text x="{left + group * (i + 0.5):.1f}" y="{top + plot_h + 20}" text-anchor="middle" font-size="14" '
            f'fill="#1b1f24">{escape(label)}</text>'
        )
    x = left
    for j, (name, _) in enumerate(series):
        parts.append(f'<rect x="{x}" y="10" width="16" height="16" fill="{COLOURS[j % len(COLOURS)]}"/>')
        parts.append(f'<text x="{x + 22}" y="24" font-size="16" fill="#1b1f24">{escape(name)}</text>')
        x += 34 + 9 * len(name)
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#57606a"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
