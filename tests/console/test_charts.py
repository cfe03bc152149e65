"""The console's SVG charts: pure functions, checked as parsed XML and as properties (no database)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backoffice.console.charts import (
    CHAR,
    FONT,
    LINE_CHARS,
    MAX_ITEMS,
    WIDTH,
    Number,
    bar_chart,
    line_chart,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"

values = st.one_of(
    st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False),
    st.integers(-(10**12), 10**12),
    st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False),
)
positive = st.one_of(
    st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False),
    st.integers(0, 10**12),
    st.floats(0, 1e12, allow_nan=False, allow_infinity=False),
)
labels = st.text(max_size=60)
printable = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn")), max_size=60)


def exact(value: Decimal | int | float) -> Decimal:
    """What the charts print for a value: a float by its shortest repr."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)
    assert root.tag == f"{SVG}svg"
    return root


def named(root: ET.Element, chart_id: str) -> None:
    """The chart is an image named by its own title and description, and scales to its box."""
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
    assert root.find(f"{SVG}title").get("id") == f"{chart_id}-title"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").get("id") == f"{chart_id}-desc"  # type: ignore[union-attr]
    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert root.get("viewBox", "").startswith(f"0 0 {WIDTH} ")


def texts(root: ET.Element, anchor: str | None = None) -> list[ET.Element]:
    return [t for t in root.iter(f"{SVG}text") if anchor is None or t.get("text-anchor") == anchor]


# --- nice ticks ---------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(values, values, st.integers(2, 10))
@example(7.630391709945539e-166, 1.0905790755049454e-54, 5)  # a tiny span far from zero
def test_ticks_cover_the_range_with_a_round_even_step(a, b, count):
    low, high = sorted([a, b], key=exact)
    ticks = nice_ticks(low, high, count)
    assert ticks[0] <= exact(low) and ticks[-1] >= exact(high)
    step = ticks[1] - ticks[0]
    assert step > 0
    assert all(b - a == step for a, b in pairwise(ticks))
    assert step.normalize().as_tuple().digits in ((1,), (2,), (5,))  # 1, 2 or 5 x 10^k
    assert all(t % step == 0 for t in ticks)
    assert 2 <= len(ticks) <= 1.5 * (count - 1) + 3


def test_ticks_for_ordinary_ranges_read_as_a_person_would_write_them():
    assert nice_ticks(0, 100, 5) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, Decimal("0.3"), 4) == [
        Decimal("0.0"),
        Decimal("0.1"),
        Decimal("0.2"),
        Decimal("0.3"),
    ]
    assert nice_ticks(-37, 12, 5) == [-40, -30, -20, -10, 0, 10, 20]
    assert nice_ticks(0, 0, 5) == [
        Decimal(i) / 5 for i in range(6)
    ]  # a flat zero still gets an axis
    assert nice_ticks(7, 7, 2) == [0, 10, 20]
    # A span far below a value's precision is flat too: no steps of 1e-51 (nor a million ticks).
    almost = Decimal("1" + "0" * 15 + "." + "0" * 49 + "1")
    assert nice_ticks(Decimal(10**15), almost, 5) == [10**15 + i * 2 * 10**14 for i in range(6)]


@pytest.mark.parametrize(
    ("low", "high", "count"),
    [
        (2, 1, 5),
        (0, 1, 1),
        (0, 1, 11),
        (0, float("nan"), 5),
        (0, float("inf"), 5),
        (0, 10**16, 5),
        (True, 2, 5),
    ],
)
def test_bad_tick_requests_are_refused(low, high, count):
    with pytest.raises(ValueError):
        nice_ticks(low, high, count)


# --- line chart ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(printable, values), max_size=60), st.text(max_size=30))
def test_a_line_chart_is_well_formed_named_and_keeps_its_points_in_order(points, y_label):
    root = parse(
        line_chart(
            title="Balance",
            description="Month by month",
            points=points,
            y_label=y_label,
            chart_id="balance",
        )
    )
    named(root, "balance")
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == len(points)
    xs = [float(c.get("cx", "")) for c in circles]
    ys = [float(c.get("cy", "")) for c in circles]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    wanted = [exact(v) for _, v in points]
    for i in range(len(points)):
        for j in range(len(points)):
            if wanted[i] <= wanted[j]:
                assert ys[i] >= ys[j]  # SVG's y grows downwards: a larger value is higher up
    tick_ys = sorted(float(t.get("y", "")) for t in texts(root, "end"))
    assert all(b - a >= FONT for a, b in pairwise(tick_ys))  # y labels do not overlap either
    for circle, (label, value) in zip(circles, points, strict=True):
        tooltip = circle.find(f"{SVG}title")
        assert tooltip is not None and tooltip.text == f"{label}: {exact(value):f}"


@settings(max_examples=100, deadline=None)
@given(st.integers(1, MAX_ITEMS), st.sampled_from(["2024-01", "2024-01-31", "W"]))
def test_x_labels_are_thinned_so_they_never_overlap(n, shape):
    points = [(f"{shape}{i}", i) for i in range(n)]
    root = parse(line_chart(title="Merchants", description="d", points=points, chart_id="mam"))
    shown = texts(root, "middle")
    assert shown[0].text == points[0][0]
    xs = [float(t.get("x", "")) for t in shown]
    widest = max(len(label) for label, _ in points) * CHAR
    assert all(b - a >= widest for a, b in pairwise(xs))
    assert all(widest / 2 <= x <= WIDTH - widest / 2 for x in xs)  # nor leave the picture


def test_a_line_chart_axis_reaches_zero_and_the_lowest_value():
    points: list[tuple[str, Number]] = [
        ("2024-01", Decimal("-250.75")),
        ("2024-02", Decimal("120")),
        ("2024-03", 300),
    ]
    root = parse(
        line_chart(title="Net", description="d", points=points, y_label="EUR", chart_id="net")
    )
    ticks = [Decimal(t.text.replace(",", "")) for t in texts(root, "end")]  # type: ignore[union-attr]
    assert min(ticks) <= Decimal("-250.75") and 0 in ticks and max(ticks) >= 300
    assert [t.text for t in texts(root, "start")] == ["EUR"]


def test_tick_labels_read_plainly():
    small = line_chart(
        title="t", description="d", points=[("a", Decimal("0.1")), ("b", 0.3)], chart_id="c"
    )
    assert [t.text for t in texts(parse(small), "end")] == ["0", "0.1", "0.2", "0.3"]
    large = line_chart(title="t", description="d", points=[("a", 2 * 10**6)], chart_id="c")
    assert [t.text for t in texts(parse(large), "end")][-1] == "2,000,000"


def test_a_line_chart_prints_a_decimal_exactly_as_given():
    root = parse(
        line_chart(
            title="Balance",
            description="d",
            points=[("2024-01-31", Decimal("1234.50")), ("2024-02-29", Decimal("1E+3"))],
            chart_id="balance",
        )
    )
    titles = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle")]  # type: ignore[union-attr]
    assert titles == ["2024-01-31: 1234.50", "2024-02-29: 1000"]
    assert "1,000" in [t.text for t in texts(root, "end")]


# --- bar chart ----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(labels, positive), max_size=60))
def test_one_bar_per_value_proportional_with_the_largest_at_full_width(bars):
    root = parse(bar_chart(title="Adoption", description="d", bars=bars, chart_id="adoption"))
    named(root, "adoption")
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-bar"]
    assert len(rects) == len(bars)
    widths = [float(r.get("width", "")) for r in rects]
    wanted = [exact(v) for _, v in bars]
    if bars and max(wanted) > 0:
        full = max(widths)
        assert widths[wanted.index(max(wanted))] == full == WIDTH - 16
        for width, value in zip(widths, wanted, strict=True):
            assert abs(width - float(value / max(wanted)) * full) <= 0.01
    else:
        assert all(w == 0 for w in widths)
    ys = [float(r.get("y", "")) for r in rects]
    assert ys == sorted(ys)  # in the caller's order, top to bottom
    for name, shown in zip(texts(root, "start"), texts(root, "end"), strict=True):
        assert len(name.text or "") + len(shown.text or "") + 1 <= LINE_CHARS  # side by side


def test_a_long_label_and_a_long_formatted_value_share_the_line():
    root = parse(
        bar_chart(
            title="t",
            description="d",
            bars=[("x" * 300, 1)],
            value_format=lambda _: "9" * 50,
            chart_id="c",
        )
    )
    label, value = texts(root, "start")[0].text or "", texts(root, "end")[0].text or ""
    assert label.endswith("\u2026") and value.endswith("\u2026")
    assert len(label) + len(value) + 1 <= LINE_CHARS


def test_bar_values_print_exactly_or_through_the_given_format():
    bars: list[tuple[str, Number]] = [
        ("Germany", Decimal("1234.50")),
        ("France", 7),
        ("Spain", 0.1),
    ]
    plain = parse(bar_chart(title="Salaries", description="d", bars=bars, chart_id="salaries"))
    assert [t.text for t in texts(plain, "end")] == ["1234.50", "7", "0.1"]
    shown = parse(
        bar_chart(
            title="Failures",
            description="d",
            bars=bars,
            value_format=lambda v: f"{v} %",
            chart_id="f",
        )
    )
    assert [t.text for t in texts(shown, "end")] == ["1234.50 %", "7 %", "0.1 %"]
    assert [t.text for t in texts(shown, "start")] == ["Germany", "France", "Spain"]


def test_a_negative_bar_is_refused():
    with pytest.raises(ValueError, match="0 or more"):
        bar_chart(
            title="t", description="d", bars=[("a", 1), ("b", Decimal("-0.01"))], chart_id="c"
        )


# --- both ---------------------------------------------------------------------------------


HOSTILE = "<script>alert(\"x\")</script> & Sons 'Ltd' ]]> \x00"


@pytest.mark.parametrize("chart", ["line", "bar"])
def test_text_from_data_is_escaped(chart):
    if chart == "line":
        out = line_chart(
            title=HOSTILE, description=HOSTILE, points=[(HOSTILE, 1)], y_label=HOSTILE, chart_id="x"
        )
    else:
        out = bar_chart(
            title=HOSTILE,
            description=HOSTILE,
            bars=[(HOSTILE, 1)],
            value_format=lambda _: HOSTILE,
            chart_id="x",
        )
    assert "<script" not in out and "&lt;script&gt;" in out and "&amp; Sons" in out
    root = parse(out)
    assert root.find(f"{SVG}title").text == HOSTILE.replace("\x00", "\ufffd")  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(labels, st.lists(st.tuples(labels, positive), max_size=5))
def test_any_text_still_makes_well_formed_svg_with_no_inline_style_or_script(text, data):
    for out in (
        line_chart(title=f"t{text}", description=text, points=data, y_label=text, chart_id="a"),
        bar_chart(title=f"t{text}", description=text, bars=data, chart_id="b"),
    ):
        parse(out)
        assert "style=" not in out and "<script" not in out.lower()


@pytest.mark.parametrize("chart", [line_chart, bar_chart])
def test_no_data_yet_is_still_a_named_chart(chart):
    kwargs: dict[str, list[tuple[str, Number]]] = (
        {"points": []} if chart is line_chart else {"bars": []}
    )
    root = parse(chart(title="Funnel", description="KYC stages", chart_id="kyc-funnel", **kwargs))
    named(root, "kyc-funnel")
    assert [t.text for t in texts(root)] == ["No data yet"]


@pytest.mark.parametrize("chart_id", ["", "1st", "Chart", "a b", "a_b", "a\n", "a" * 65, "é"])
def test_a_bad_chart_id_is_refused(chart_id):
    with pytest.raises(ValueError, match="chart_id"):
        line_chart(title="t", description="d", points=[("a", 1)], chart_id=chart_id)
    with pytest.raises(ValueError, match="chart_id"):
        bar_chart(title="t", description="d", bars=[], chart_id=chart_id)


def test_more_than_the_bound_is_refused_and_the_bound_is_drawn():
    many = [(str(i), i) for i in range(MAX_ITEMS + 1)]
    with pytest.raises(ValueError, match="at most 400"):
        line_chart(title="t", description="d", points=many, chart_id="c")
    with pytest.raises(ValueError, match="at most 400"):
        bar_chart(title="t", description="d", bars=many, chart_id="c")
    assert (
        len(
            list(
                parse(bar_chart(title="t", description="d", bars=many[:-1], chart_id="c")).iter(
                    f"{SVG}rect"
                )
            )
        )
        == MAX_ITEMS
    )


@pytest.mark.parametrize(
    "bad", [float("nan"), float("-inf"), Decimal("NaN"), 10**15 + 1, True, "7"]
)
def test_a_value_that_is_not_a_bounded_number_is_refused(bad):
    with pytest.raises(ValueError):
        line_chart(title="t", description="d", points=[("a", bad)], chart_id="c")


def test_a_blank_title_is_refused():
    with pytest.raises(ValueError, match="title"):
        bar_chart(title="  ", description="d", bars=[("a", 1)], chart_id="c")
