"""Server-drawn SVG charts: the bars and labels expected, every text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from gateway.ops.charts import Series, horizontal_bars, nice_ceiling, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"


def _bars(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}rect"))


def test_stacked_bars_draw_one_rect_per_non_zero_value_with_its_title() -> None:
    svg = stacked_bars(
        ident="sessions",
        title="Sessions",
        labels=["23/11", "24/11"],
        series=[Series("Success", [2, 3]), Series("Failed", [0, 1])],
        empty_text="Nothing",
    )
    root = ET.fromstring(svg)  # well-formed XML
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Sessions"  # type: ignore[union-attr]
    bars = [rect for rect in _bars(svg) if rect.get("class") == "bar"]
    assert [(r.get("data-series"), r.get("data-value")) for r in bars] == [
        ("Success", "2"),
        ("Success", "3"),
        ("Failed", "1"),
    ]
    assert [r.find(f"{SVG}title").text for r in bars] == [  # type: ignore[union-attr]
        "23/11 · Success: 2",
        "24/11 · Success: 3",
        "24/11 · Failed: 1",
    ]
    # The tallest stack (4) reaches the nice top of the axis (5): 4/5 of the plot height.
    heights = [float(r.get("height", "0")) for r in bars]
    assert abs(heights[1] + heights[2] - 180 * 4 / 5) < 0.2
    assert "Nothing" not in svg


def test_an_empty_chart_says_so() -> None:
    svg = stacked_bars(ident="x", title="SMS", labels=["01h"], series=[Series("Sent", [0])], empty_text="Nothing here")
    assert "Nothing here" in svg
    assert not [r for r in _bars(svg) if r.get("class") == "bar"]


def test_hostile_labels_are_escaped() -> None:
    hostile = '<script>alert("x")</script>&'
    svg = horizontal_bars(ident="drop-off", title="Drop <off>", items=[(hostile, 3), ("menu.main", 1)], empty_text="-")
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in svg
    assert "Drop &lt;off&gt;" in svg
    root = ET.fromstring(svg)
    titles = [r.find(f"{SVG}title").text for r in root.iter(f"{SVG}rect")]  # type: ignore[union-attr]
    assert titles == [f"{hostile}: 3", "menu.main: 1"]
    widths = [float(r.get("width", "0")) for r in root.iter(f"{SVG}rect")]
    assert abs(widths[0] - 3 * widths[1]) < 0.5
    series_svg = stacked_bars(
        ident='"><x', title="t", labels=['"><b>'], series=[Series('"/><g onload="x', [1])], empty_text="-"
    )
    ET.fromstring(series_svg)
    assert "<b>" not in series_svg and 'onload="x' not in series_svg
    assert re.search(r'id="chart-x-t"', series_svg)


def test_values_are_formatted_by_the_caller() -> None:
    svg = stacked_bars(
        ident="amount",
        title="MAD",
        labels=["24/11"],
        series=[Series("Wafacash", [13500])],
        empty_text="-",
        value_format=lambda c: f"{c // 100},{c % 100:02d} MAD",
    )
    assert "24/11 · Wafacash: 135,00 MAD" in svg


def test_nice_ceiling() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 2, 3, 7, 10, 11, 40, 120, 5001)] == [1, 1, 2, 5, 10, 10, 20, 50, 200, 10000]
