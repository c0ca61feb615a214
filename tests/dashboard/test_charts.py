"""The SVG charts and the dashboard's pure rules, without a database: lengths proportional to the values, every
text escaped, empty data drawn as such, the markup well-formed and labelled for screen readers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from app.dashboard import charts, rules
from app.dashboard.rules import Headcount, MoneyStatus

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 - our own markup


def bars_of(root: ET.Element, cls: str = "bar") -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == cls]


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_horizontal_bars_are_proportional_and_labelled() -> None:
    bars = [
        charts.Bar("已登记", 300, "300 户"),
        charts.Bar("已签约", 150, "150 户"),
        charts.Bar("已结案", 0, "0 户"),
    ]
    svg = charts.horizontal_bars("c1", "户数", "三个阶段", bars)
    root = parse(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "户数"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "三个阶段"  # type: ignore[union-attr]
    widths = [float(r.get("width", "nan")) for r in bars_of(root)]
    assert widths[0] > 0 and widths[1] == pytest.approx(widths[0] / 2, abs=0.1) and widths[2] == 0
    assert [r.get("data-value") for r in bars_of(root)] == ["300", "150", "0"]
    assert {"已登记", "300 户", "已签约", "150 户", "0 户"} <= set(texts(root))
    assert root.get("font-size") == "16"
    # The bars fit inside the drawing.
    right = max(float(r.get("x", "0")) + float(r.get("width", "0")) for r in bars_of(root))
    assert right <= float(root.get("width", "0"))


def test_columns_are_proportional_with_values_above() -> None:
    cols = [
        charts.Column("5/8", 4, "第一周"),
        charts.Column("5/15", 1, "第二周"),
        charts.Column("5/22", 0, "第三周"),
    ]
    root = parse(charts.columns("c2", "每周签约", "三周", cols, unit=" 份"))
    heights = [float(r.get("height", "nan")) for r in bars_of(root)]
    assert heights[1] == pytest.approx(heights[0] / 4, abs=0.1) and heights[2] == 0
    # Each column stands on the same baseline.
    bottoms = {round(float(r.get("y", "0")) + float(r.get("height", "0")), 1) for r in bars_of(root)}
    assert len(bottoms) == 1
    assert {"4", "1", "0", "5/8", "5/15", "5/22"} <= set(texts(root))


def test_stacked_bar_segments_add_up_to_the_whole() -> None:
    segments = [
        charts.Segment("已支付", 300, "3.00 元", "#1e7b34"),
        charts.Segment("未到账", 100, "1.00 元", "#b45f06"),
        charts.Segment("待条件", 0, "0.00 元", "#8a939e"),
    ]
    root = parse(charts.stacked_bar("c3", "补偿款", "说明", "应付 4.00 元", segments, width=520))
    parts = bars_of(root, "segment")
    assert [p.get("data-value") for p in parts] == ["300", "100"]  # nothing drawn for an empty segment
    widths = [float(p.get("width", "0")) for p in parts]
    assert sum(widths) == pytest.approx(500, abs=0.2) and widths[0] == pytest.approx(3 * widths[1], abs=0.2)
    assert float(parts[1].get("x", "0")) == pytest.approx(float(parts[0].get("x", "0")) + widths[0], abs=0.1)
    assert "已支付：3.00 元" in texts(root) and "待条件：0.00 元" in texts(root)


def test_every_text_is_escaped() -> None:
    nasty = '<script>alert("x")</script>&'
    for svg in (
        charts.horizontal_bars("e1", nasty, nasty, [charts.Bar(nasty, 1, nasty)]),
        charts.columns("e2", nasty, nasty, [charts.Column(nasty, 1, nasty)], unit=nasty),
        charts.stacked_bar("e3", nasty, nasty, nasty, [charts.Segment(nasty, 1, nasty, '"red')]),
        charts.horizontal_bars('e4" onload="x', nasty, nasty, []),
    ):
        assert "<script>" not in svg and 'onload="x' not in svg and '"red' not in svg
        root = parse(svg)  # still well-formed
        assert nasty in ("".join(root.itertext()))


def test_empty_data_is_said_not_drawn() -> None:
    for svg in (
        charts.horizontal_bars("z1", "t", "d", []),
        charts.columns("z2", "t", "d", []),
        charts.stacked_bar("z3", "t", "d", "应付 0.00 元", []),
    ):
        root = parse(svg)
        assert charts.EMPTY_TEXT in texts(root) and not bars_of(root)
    # All zero: bars of no length, no division by zero.
    root = parse(charts.columns("z4", "t", "d", [charts.Column("1/2", 0, "w")]))
    assert [r.get("height") for r in bars_of(root)] == ["0"]
    root = parse(
        charts.stacked_bar("z5", "t", "d", "应付 0.00 元", [charts.Segment("已支付", 0, "0", "#000")])
    )
    assert not bars_of(root, "segment")


def test_dashboard_charts_say_their_numbers() -> None:
    stages = rules.stage_rows({0: Headcount(2, 5), 4: Headcount(3, 10), 6: Headcount(1, 4)})
    weeks = rules.weekly_counts([(date(2023, 7, 3), 2)], date(2023, 7, 10))
    money = MoneyStatus(committed=400, paid=100, due=100, awaiting=200)
    made = charts.dashboard_charts("t", stages, weeks, money)
    assert "已登记 6 户 19 人" in made.stages and "6 户 / 19 人" in made.stages
    assert "7月3日起一周 2 份" in made.weeks
    assert "已支付：1.00 元（25.0%）" in made.money and "应付 4.00 元" in made.money
    ids = re.findall(r'<svg[^>]* id="([^"]+)"', made.stages + made.weeks + made.money)
    assert ids == ["t-stages", "t-weeks", "t-money"]


def test_stage_rows_add_up_from_the_furthest_stage() -> None:
    rows = rules.stage_rows({0: Headcount(5, 20), 2: Headcount(3, 9), 6: Headcount(1, 4)})
    assert [r.code for r in rows] == list(rules.STAGE_CODES)
    assert [r.reached.households for r in rows] == [9, 4, 4, 1, 1, 1, 1]
    assert [r.reached.people for r in rows] == [33, 13, 13, 4, 4, 4, 4]
    assert [r.current.households for r in rows] == [5, 0, 3, 0, 0, 0, 1]
    assert [r.reached.households for r in rules.stage_rows({})] == [0] * 7
    with pytest.raises(ValueError):
        rules.stage_rows({7: Headcount(1, 1)})


def test_weeks_run_monday_to_sunday_up_to_today() -> None:
    today = date(2023, 7, 12)  # a Wednesday
    starts = rules.week_starts(today, 3)
    assert starts == [date(2023, 6, 26), date(2023, 7, 3), date(2023, 7, 10)]
    counts = rules.weekly_counts(
        [
            (date(2023, 6, 25), 9),
            (date(2023, 6, 26), 1),
            (date(2023, 7, 9), 2),
            (date(2023, 7, 12), 3),
            (date(2023, 7, 13), 5),
        ],
        today,
        3,
    )
    assert [(w.start, w.count) for w in counts] == [
        (date(2023, 6, 26), 1),
        (date(2023, 7, 3), 2),
        (date(2023, 7, 10), 3),  # the day after today is not counted
    ]
    assert counts[0].end == date(2023, 7, 2)
    assert len(rules.week_starts(today)) == rules.WEEKS_SHOWN


def test_percent_and_money() -> None:
    assert rules.percent(1, 3) == "33.3%" and rules.percent(2, 3) == "66.7%" and rules.percent(0, 0) == "—"
    assert rules.percent(1, 8) == "12.5%" and rules.percent(5, 5) == "100.0%"
    m = MoneyStatus(committed=1000, paid=300, due=200, awaiting=500)
    assert m.outstanding == 700 and m.consistent
    assert rules.count_text(1168) == "1,168"
