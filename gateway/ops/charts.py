"""Charts as SVG, drawn on the server: no JavaScript, nothing loaded from elsewhere.

Every text that reaches the SVG is escaped here (labels come from the database: a
screen id, a network); callers pass texts already translated. Each chart is an
`img` with a <title> and a <desc> for screen readers, and every bar carries its own
<title> (shown as a tooltip) with its exact figure. The page shows the title above
the chart, in the page's direction of writing; the <title> inside is for screen readers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Okabe-Ito: told apart by colour-blind readers too.
PALETTE = ("#009E73", "#E69F00", "#D55E00", "#0072B2", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

WIDTH = 720
PLOT_TOP = 16
PLOT_HEIGHT = 180
LEFT = 64
RIGHT = 12
LEGEND_HEIGHT = 22
AXIS_HEIGHT = 36
BAR_HEIGHT = 22
LABEL_WIDTH = 200

Format = Callable[[int], str]


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _plain(value: int) -> str:
    return str(value)


@dataclass(frozen=True)
class Series:
    name: str  # shown: already translated
    values: Sequence[int]  # one per bucket


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above `value` (at least 1): the axis top."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def _frame(ident: str, title: str, description: str, height: int, body: list[str]) -> str:
    ident = "chart-" + "".join(c for c in ident if c.isascii() and (c.isalnum() or c == "-"))
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height}"'
            f' width="100%" aria-labelledby="{ident}-t {ident}-d" direction="ltr" font-family="sans-serif"'
            ' font-size="12">',
            f'<title id="{ident}-t">{_text(title)}</title>',
            f'<desc id="{ident}-d">{_text(description)}</desc>',
            *body,
            "</svg>",
        ]
    )


def _legend(series: Sequence[Series], y: int) -> list[str]:
    parts: list[str] = []
    x = LEFT
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y + 9}">{_text(item.name)}</text>')
        x += 14 + 7 * len(item.name) + 18
    return parts


def stacked_bars(
    *,
    ident: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    empty_text: str,
    value_format: Format = _plain,
    axis_format: Format | None = None,
    label_every: int = 1,
) -> str:
    """Vertical bars, one per bucket (`labels`), stacked by series. `value_format` writes
    a bar's exact figure, `axis_format` (by default the same) the axis's."""
    axis_format = axis_format or value_format
    count = len(labels)
    totals = [sum(s.values[i] for s in series) for i in range(count)]
    top = nice_ceiling(max(totals, default=0))
    height = PLOT_TOP + PLOT_HEIGHT + AXIS_HEIGHT + LEGEND_HEIGHT
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / max(count, 1)
    bar = max(slot * 0.7, 1.0)
    base = PLOT_TOP + PLOT_HEIGHT
    body: list[str] = []
    # Axis: zero, half (when a whole number) and top, with their values.
    for tick_value in (0, top // 2, top) if top % 2 == 0 else (0, top):
        y = base - tick_value / top * PLOT_HEIGHT
        body.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        tick = _text(axis_format(tick_value))
        body.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - bar) / 2
        y = float(base)
        for index, item in enumerate(series):
            value = item.values[i]
            if value <= 0:
                continue
            h = value / top * PLOT_HEIGHT
            y -= h
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="{PALETTE[index % len(PALETTE)]}" data-series="{_text(item.name)}" data-value="{value}">'
                f"<title>{_text(label)} · {_text(item.name)}: {_text(value_format(value))}</title></rect>"
            )
        if i % label_every == 0 or i == count - 1:
            body.append(f'<text x="{x + bar / 2:.1f}" y="{base + 14}" text-anchor="middle">{_text(label)}</text>')
    if not any(totals):
        body.append(
            f'<text x="{LEFT + plot_width / 2:.1f}" y="{PLOT_TOP + PLOT_HEIGHT / 2:.1f}" text-anchor="middle"'
            f' fill="#666">{_text(empty_text)}</text>'
        )
    body.extend(_legend(series, base + AXIS_HEIGHT - 8))
    description = "; ".join(f"{s.name}: {value_format(sum(s.values))}" for s in series)
    return _frame(ident, title, description, height, body)


def horizontal_bars(
    *, ident: str, title: str, items: Sequence[tuple[str, int]], empty_text: str, value_format: Format = _plain
) -> str:
    """One horizontal bar per item, longest first as given."""
    top = max((value for _, value in items), default=0) or 1
    height = PLOT_TOP + max(len(items), 1) * (BAR_HEIGHT + 6) + 10
    plot_width = WIDTH - LABEL_WIDTH - RIGHT - 50
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = PLOT_TOP + i * (BAR_HEIGHT + 6)
        w = max(value / top * plot_width, 1.0)
        shown = label if len(label) <= 30 else label[:29] + "…"
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT / 2 + 4:.1f}" text-anchor="end">{_text(shown)}</text>'
        )
        body.append(
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" fill="{PALETTE[2]}"'
            f' data-value="{value}"><title>{_text(label)}: {_text(value_format(value))}</title></rect>'
        )
        body.append(
            f'<text x="{LABEL_WIDTH + w + 6:.1f}" y="{y + BAR_HEIGHT / 2 + 4:.1f}">{_text(value_format(value))}</text>'
        )
    if not items:
        body.append(
            f'<text x="{WIDTH / 2:.1f}" y="{PLOT_TOP + 16}" text-anchor="middle" fill="#666">{_text(empty_text)}</text>'
        )
    description = "; ".join(f"{label}: {value_format(value)}" for label, value in items)
    return _frame(ident, title, description, height, body)
