"""Charts drawn on the server as SVG: ranked bars and a trend line. No script, no fonts or files from
elsewhere; colours are presentation attributes (the CSP allows no inline styles). Every chart stands beside
the table it was drawn from, which is what screen readers read (the SVG only names itself)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from markupsafe import Markup, escape

BAR: Final = "#1f5f8b"
LINE: Final = "#b3261e"
GRID: Final = "#c8c8c8"
TEXT: Final = "#1a1a1a"


def sayi(value: float) -> str:
    """Turkish thousands separator: 12.345."""
    return f"{int(round(value)):,}".replace(",", ".")


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, label_width: int = 230) -> Markup:
    """Horizontal bars, in the order given (callers rank them)."""
    if not items:
        return Markup("")
    row, width, top = 22, 720, 8
    high = max(v for _, v in items) or 1
    span = width - label_width - 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" viewBox="0 0 {width} '
        f'{top * 2 + row * len(items)}" width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = max(1.0, span * value / high) if value else 0
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="12" fill="{TEXT}">'
            f"{escape(label[:38])}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{BAR}"/>'
            f'<text x="{label_width + w + 4:.1f}" y="{y + 15}" font-size="12" fill="{TEXT}">{sayi(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, points: Sequence[tuple[str, float]]) -> Markup:
    """A trend line over evenly spaced periods, with the first, middle and last period named."""
    if not points:
        return Markup("")
    width, height, left, bottom, top = 720, 240, 56, 36, 12
    high = max(v for _, v in points) or 1
    plot_w, plot_h = width - left - 16, height - top - bottom
    step = plot_w / max(1, len(points) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * step, top + plot_h - plot_h * v / high

    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, (_, v) in enumerate(points)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-label="{escape(title)}"><title>{escape(title)}</title>',
    ]
    for frac in (0, 0.5, 1):
        y = top + plot_h - plot_h * frac
        parts.append(
            f'<line x1="{left}" x2="{width - 16}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT}">'
            f"{sayi(high * frac)}</text>"
        )
    parts.append(f'<polyline points="{coords}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    if len(points) <= 60:
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE}"/>'
            for x, y in (xy(i, v) for i, (_, v) in enumerate(points))
        )
    for i in sorted({0, len(points) // 2, len(points) - 1}):
        x, _ = xy(i, 0)
        anchor = "start" if i == 0 else "end" if i == len(points) - 1 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}" font-size="11" fill="{TEXT}">'
            f"{escape(points[i][0])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
