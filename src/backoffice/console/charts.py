"""Charts drawn on the server as inline SVG: a line chart (a time series) and horizontal bars.

Why SVG from Python: the console reads with no JavaScript and loads nothing from outside, and its
Content-Security-Policy forbids inline scripts and styles. So a chart is markup: presentation
attributes (`fill`, `stroke`, `font-size`) as fallbacks and CSS classes (`chart-bar`, `chart-line`,
`chart-point`, `chart-axis`, `chart-grid`, `chart-label`) for the stylesheet to decide colours.

Each chart is an `<svg role="img">` named by its own `<title>` and `<desc>`; the numbers themselves
are in the table the page puts beside it. The viewBox is narrow (400 units) so that its 14-unit
text stays about 12 px on a 390 px phone; the stylesheet caps the width on a wide screen.

Values are kept as `Decimal` for what is printed (a balance of 1234.50 reads "1234.50", never
"1234.5" or "1234.4999") and turned into floats only for geometry.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from markupsafe import Markup, escape

Number = Decimal | int | float

MAX_ITEMS = 400  # more points or bars than this: the page paginates or aggregates first
MAX_VALUE = Decimal(10) ** 15  # a quadrillion: beyond any sum the back office holds
MAX_TEXT = 2000  # title, description and labels; labels are shortened further when drawn
CHART_ID = re.compile(r"[a-z][a-z0-9-]{0,63}")

WIDTH = 400
FONT = 14
CHAR = 0.62 * FONT  # a generous average glyph width: labels are spaced by it so never overlap
PAD = 8
LINE_CHARS = int((WIDTH - 2 * PAD) / CHAR)  # the characters of text a full-width line holds
TEXT_FILL = "#1f2937"  # 14.7:1 on white
AXIS_STROKE = "#6b7280"  # 4.8:1 on white
GRID_STROKE = "#e5e7eb"
MARK_COLOUR = "#1d4ed8"  # 6.7:1 on white
NO_DATA = "No data yet"
# A raw step's leading digits below each bound round to that multiple of its power of ten.
NICE = ((1, Decimal("1.5")), (2, Decimal(3)), (5, Decimal(7)), (10, Decimal(11)))


def nice_ticks(low: Number, high: Number, count: int = 5) -> list[Decimal]:
    """About `count` round, evenly spaced values from at or below `low` to at or above `high`.

    The step is 1, 2 or 5 times a power of ten, so that a reader sums tick labels in their head;
    every tick is a whole multiple of it. Arithmetic is in `Decimal` so 0.1 + 0.2 is 0.3. The
    step is the round value nearest the exact one (Heckbert's "nice numbers"), not the next one
    up, so 0..100 in 5 gets 0, 20, ..., 100 rather than just 0, 50, 100.

    Raises:
        ValueError: `low` > `high`, `count` outside 2..10, or a value that is not a finite number.
    """
    lo, hi = _decimal(low), _decimal(high)
    if lo > hi:
        raise ValueError(f"low {lo} is above high {hi}")
    if not 2 <= count <= 10:
        raise ValueError(f"count must be 2..10, not {count}")
    with localcontext() as ctx:
        ctx.prec = 60  # bounded inputs: a quotient by the step never loses its integer part
        if hi - lo < Decimal("1e-9"):
            # A flat series still needs an axis: widen it by its own size, and at least by 1 so
            # that a step never gets so small that a value divided by it outgrows the precision.
            hi = lo + max(abs(lo), Decimal(1))
        raw = (hi - lo) / (count - 1)
        power = Decimal(1).scaleb(raw.adjusted())
        fraction = raw / power  # in [1, 10)
        step = power * next(m for m, below in NICE if fraction < below)
        start = (lo / step).to_integral_value(ROUND_FLOOR) * step
        end = (hi / step).to_integral_value(ROUND_CEILING) * step
        # Rounding cannot move these past the data at this precision; the loops make sure of it.
        while start > lo:
            start -= step
        while end < hi:
            end += step
        steps = int((end - start) / step)
        return [start + i * step for i in range(steps + 1)]


def line_chart(
    *,
    title: str,
    description: str,
    points: Sequence[tuple[str, Number]],
    y_label: str = "",
    chart_id: str,
) -> Markup:
    """A time series: x labels in the given order, joined by a line, on an axis that includes 0.

    Zero is always on the axis so a rise from 10,000 to 10,100 is not drawn as a cliff. When the x
    labels would not fit, only every n-th is written (the table beside the chart has them all);
    each point also carries a `<title>` with its label and exact value, a tooltip with no script.

    Raises:
        ValueError: a bad `chart_id`, a blank title, more than 400 points or a value out of range.
    """
    rows = _rows(points)
    if not rows:
        return _empty(chart_id, title, description)
    values = [v for _, v in rows]
    ticks = nice_ticks(min(Decimal(0), *values), max(Decimal(0), *values), 5)
    tick_texts = [_tick_text(t) for t in ticks]
    x_texts = [_shorten(label, 16) for label, _ in rows]
    label_w = max(len(t) for t in x_texts) * CHAR
    top = 2 * FONT + PAD if y_label else FONT
    height = 240
    bottom = height - FONT - 2 * PAD  # the x labels sit below this
    left = max(max(len(t) for t in tick_texts) * CHAR + PAD, label_w / 2) + PAD
    right = WIDTH - max(label_w / 2 + PAD, PAD * 2)
    t_min, t_max = float(ticks[0]), float(ticks[-1])

    def y_of(value: Decimal) -> float:
        return bottom - (float(value) - t_min) / (t_max - t_min) * (bottom - top)

    n = len(rows)
    gap = (right - left) / (n - 1) if n > 1 else 0.0
    xs = [left + i * gap for i in range(n)] if n > 1 else [(left + right) / 2]
    # Thin the labels: every `every`-th one, spaced at least a label's width plus a gap apart.
    every = max(1, math.ceil((label_w + PAD) / gap)) if n > 1 else 1

    parts = [_open(chart_id, title, description, height)]
    if y_label:
        parts.append(_text(PAD, FONT + 2, _shorten(y_label, LINE_CHARS), "start"))
    for tick, text in zip(ticks, tick_texts, strict=True):
        y = y_of(tick)
        parts.append(_line(left, y, right, y, "chart-grid", GRID_STROKE))
        parts.append(_text(left - PAD, y + FONT / 3, text, "end"))
    parts.append(_line(left, top, left, bottom, "chart-axis", AXIS_STROKE))
    parts.append(_line(left, y_of(Decimal(0)), right, y_of(Decimal(0)), "chart-axis", AXIS_STROKE))
    for i in range(0, n, every):
        parts.append(_text(xs[i], height - PAD, x_texts[i], "middle"))
    coords = [(x, y_of(v)) for x, v in zip(xs, values, strict=True)]
    if n > 1:
        line = " ".join(f"{_num(x)},{_num(y)}" for x, y in coords)
        parts.append(
            f'<polyline class="chart-line" points="{line}" fill="none" '
            f'stroke="{MARK_COLOUR}" stroke-width="2"/>'
        )
    for (x, y), (label, value) in zip(coords, rows, strict=True):
        parts.append(
            f'<circle class="chart-point" cx="{_num(x)}" cy="{_num(y)}" r="3" '
            f'fill="{MARK_COLOUR}"><title>{escape(label)}: {escape(_plain(value))}</title></circle>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of data in it went through escape()


def bar_chart(
    *,
    title: str,
    description: str,
    bars: Sequence[tuple[str, Number]],
    value_format: Callable[[Number], str] | None = None,
    chart_id: str,
) -> Markup:
    """Horizontal bars in the given order, each under a line with its category and its value.

    The label sits on its own line above the bar, not in a column beside it, so a long job title
    keeps the full width on a phone. Bars are proportional to the values with the largest one at
    full width; the order is the caller's (the KYC funnel's stages are not sorted by size).

    Raises:
        ValueError: a bad `chart_id`, a blank title, more than 400 bars or a negative value.
    """
    fmt = value_format or _plain
    rows = _rows(bars)
    if not rows:
        return _empty(chart_id, title, description)
    if any(v < 0 for _, v in rows):
        raise ValueError("bar values must be 0 or more")
    largest = max(v for _, v in rows)
    full = WIDTH - 2 * PAD
    row_h, bar_h = FONT + 4 + 14 + 10, 14  # label line, bar, gap
    height = len(rows) * row_h + PAD
    parts = [_open(chart_id, title, description, height)]
    for i, ((label, value), original) in enumerate(zip(rows, bars, strict=True)):
        top = PAD + i * row_h
        shown = _shorten(fmt(original[1]), 20)
        room = LINE_CHARS - len(shown) - 2  # the label gives way to the value, never overlaps it
        parts.append(_text(PAD, top + FONT, _shorten(label, room), "start"))
        parts.append(_text(WIDTH - PAD, top + FONT, shown, "end"))
        width = float(value / largest) * full if largest else 0.0
        parts.append(
            f'<rect class="chart-bar" x="{PAD}" y="{_num(top + FONT + 4)}" '
            f'width="{_num(width)}" height="{bar_h}" fill="{MARK_COLOUR}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of data in it went through escape()


def _rows(items: Sequence[tuple[str, Number]]) -> list[tuple[str, Decimal]]:
    """Check the size and the values once, for both charts."""
    if len(items) > MAX_ITEMS:
        raise ValueError(f"at most {MAX_ITEMS} points or bars, not {len(items)}")
    return [(_clean(label), _decimal(value)) for label, value in items]


def _decimal(value: Number) -> Decimal:
    """The exact value of a number: a float by its shortest repr (0.1 is 0.1, not 0.1000...0555)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise ValueError(f"not a number: {value!r}")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or abs(number) > MAX_VALUE:
        raise ValueError(f"value out of range: {value!r}")
    return number


def _plain(value: Number) -> str:
    """A value as given: Decimal("1234.50") reads 1234.50, never in scientific notation."""
    return format(_decimal(value), "f")


def _tick_text(tick: Decimal) -> str:
    """A tick with thousands separators and no trailing zeros: 1,000 / 0.2 / -50 (never -0)."""
    return format((tick + 0).normalize(), ",f")


def _clean(text: str) -> str:
    """Text with the characters XML cannot hold (controls, lone surrogates) shown as U+FFFD.

    Why not raise: a label is data (a merchant's name); a stray control character in it should
    not take the page down, and the table beside the chart shows the original.
    """
    if len(text) > MAX_TEXT:
        raise ValueError(f"text longer than {MAX_TEXT} characters")
    return "".join(
        "\ufffd"
        if (unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r") or c in "\ufffe\uffff"
        else c
        for c in text
    )


def _shorten(text: str, room: int) -> str:
    return text if len(text) <= room else text[: room - 1] + "\u2026"


def _open(chart_id: str, title: str, description: str, height: int | float) -> str:
    """The `<svg>` element with its `<title>` and `<desc>`, which name it for a screen reader."""
    if not CHART_ID.fullmatch(chart_id):
        raise ValueError(f"chart_id must match ^[a-z][a-z0-9-]*$ (64 at most): {chart_id!r}")
    if not title.strip():
        raise ValueError("a chart needs a title")  # an unnamed role="img" fails axe's svg-img-alt
    ids = f"{chart_id}-title {chart_id}-desc"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" role="img" '
        f'aria-labelledby="{ids}" viewBox="0 0 {WIDTH} {_num(height)}" width="100%" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">'
        f'<title id="{chart_id}-title">{escape(_clean(title))}</title>'
        f'<desc id="{chart_id}-desc">{escape(_clean(description))}</desc>'
    )


def _empty(chart_id: str, title: str, description: str) -> Markup:
    """A chart with nothing to draw yet: still named, saying so in words."""
    svg = _open(chart_id, title, description, 80) + _text(WIDTH / 2, 45, NO_DATA, "middle")
    return Markup(svg + "</svg>")  # noqa: S704 - the title and description went through escape()


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text class="chart-label" x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" '
        f'fill="{TEXT_FILL}">{escape(_clean(text))}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, kind: str, stroke: str) -> str:
    return (
        f'<line class="{kind}" x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
        f'stroke="{stroke}"/>'
    )


def _num(x: float) -> str:
    """A coordinate to two decimals, without trailing zeros (SVG needs no more precision)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
