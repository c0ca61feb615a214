"""Charts as inline SVG, drawn on the server: no JavaScript, nothing from a CDN, the same markup on the page and in
the PDF briefing. Pure functions from numbers to markup; every text is escaped.

Each chart carries a ``<title>`` and a ``<desc>`` (named by ``aria-labelledby``), says its numbers in words next
to the marks, and is drawn at a fixed size in CSS pixels with 16 px text: on a narrow phone it scrolls sideways
(like the tables) rather than shrinking its text; the PDF scales it to the page width. Lengths are proportional to
the values: a bar of value ``v`` is ``v / max × plot width`` long, rounded to 0.1 px.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from app.core.money import format_yuan
from app.dashboard import rules

FONT = "'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
FONT_SIZE = 16
INK = "#111111"
MUTED = "#444444"
BAR = "#0b4f9c"
AXIS = "#4a4a4a"
EMPTY_TEXT = "暂无数据"


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """A generous estimate of how wide ``text`` is set (CJK and full-width characters 1 em, others 0.62 em)."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.62 for ch in text)


def _num(value: float) -> str:
    """Coordinates with at most one decimal, without a trailing ``.0``."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def scaled(value: int, largest: int, length: float) -> float:
    """The length of a mark for ``value`` when ``largest`` gets ``length`` (0 when there is nothing to show)."""
    if largest <= 0 or value <= 0:
        return 0.0
    return round(value / largest * length, 1)


def _open(chart_id: str, width: float, height: float, title: str, desc: str) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" font-family="{FONT}" font-size="{FONT_SIZE}" fill="{INK}">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def _empty(chart_id: str, width: float, title: str, desc: str) -> Markup:
    parts = _open(chart_id, width, 60, title, desc)
    parts.append(f'<text x="12" y="36" fill="{MUTED}">{EMPTY_TEXT}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int  # what the length shows
    value_text: str  # what is written after the bar ("309 户 / 1,168 人")


def horizontal_bars(
    chart_id: str, title: str, desc: str, bars: Sequence[Bar], *, width: float = 720
) -> Markup:
    """A horizontal bar chart: one row per bar, label on the left, value written after the bar."""
    if not bars:
        return _empty(chart_id, width, title, desc)
    row_h, bar_h, pad = 38, 24, 10
    label_w = max(text_width(b.label) for b in bars) + 14
    value_w = max(text_width(b.value_text) for b in bars) + 12
    plot = max(width - label_w - value_w - pad, 80.0)
    largest = max(b.value for b in bars)
    height = pad * 2 + row_h * len(bars)
    parts = _open(chart_id, width, height, title, desc)
    x0 = label_w
    for i, b in enumerate(bars):
        top = pad + i * row_h
        length = scaled(b.value, largest, plot)
        middle = top + row_h / 2
        parts.append(
            f'<text x="{_num(x0 - 10)}" y="{_num(middle + 5.5)}" text-anchor="end">{escape(b.label)}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{_num(x0)}" y="{_num(top + (row_h - bar_h) / 2)}" width="{_num(length)}" '
            f'height="{bar_h}" fill="{BAR}" data-value="{b.value}"><title>{escape(b.label)}：'
            f"{escape(b.value_text)}</title></rect>"
        )
        parts.append(
            f'<text x="{_num(x0 + length + 8)}" y="{_num(middle + 5.5)}">{escape(b.value_text)}</text>'
        )
    parts.append(
        f'<line x1="{_num(x0)}" y1="{pad - 2}" x2="{_num(x0)}" y2="{_num(height - pad + 2)}" '
        f'stroke="{AXIS}" stroke-width="1.5"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


@dataclass(frozen=True, slots=True)
class Column:
    label: str  # under the column ("5/8")
    value: int
    long_label: str  # for the tooltip ("2023年5月8日至5月14日")


def columns(
    chart_id: str, title: str, desc: str, cols: Sequence[Column], *, unit: str = "", width: float = 720
) -> Markup:
    """A column chart: one column per period, its value written above it, its label below the axis."""
    if not cols:
        return _empty(chart_id, width, title, desc)
    top_pad, bottom, left, right = 30, 34, 10, 10
    plot_h = 170.0
    slot = (width - left - right) / len(cols)
    col_w = max(min(slot * 0.62, 48.0), 2.0)
    largest = max(c.value for c in cols)
    height = top_pad + plot_h + bottom
    base = top_pad + plot_h
    parts = _open(chart_id, width, height, title, desc)
    for i, c in enumerate(cols):
        centre = left + slot * i + slot / 2
        length = scaled(c.value, largest, plot_h)
        parts.append(
            f'<rect class="bar" x="{_num(centre - col_w / 2)}" y="{_num(base - length)}" width="{_num(col_w)}" '
            f'height="{_num(length)}" fill="{BAR}" data-value="{c.value}"><title>{escape(c.long_label)}：'
            f"{c.value}{escape(unit)}</title></rect>"
        )
        parts.append(
            f'<text x="{_num(centre)}" y="{_num(base - length - 7)}" text-anchor="middle">{c.value}</text>'
        )
        parts.append(
            f'<text x="{_num(centre)}" y="{_num(base + 22)}" text-anchor="middle" fill="{MUTED}">'
            f"{escape(c.label)}</text>"
        )
    parts.append(
        f'<line x1="{left}" y1="{_num(base)}" x2="{_num(width - right)}" y2="{_num(base)}" '
        f'stroke="{AXIS}" stroke-width="1.5"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


@dataclass(frozen=True, slots=True)
class Segment:
    label: str
    value: int
    value_text: str  # in the legend ("94,700.00 元（37.5%）")
    colour: str


def stacked_bar(
    chart_id: str, title: str, desc: str, total_text: str, segments: Sequence[Segment], *, width: float = 720
) -> Markup:
    """One bar for the whole (``total_text`` above it), cut into segments in order, with a legend row per
    segment (swatch, label, value) below."""
    total = sum(s.value for s in segments if s.value > 0)
    if not segments:
        return _empty(chart_id, width, title, desc)
    pad, bar_top, bar_h, row_h = 10, 34, 34, 30
    plot = width - 2 * pad
    height = bar_top + bar_h + 14 + row_h * len(segments) + pad
    parts = _open(chart_id, width, height, title, desc)
    parts.append(f'<text x="{pad}" y="{bar_top - 10}">{escape(total_text)}</text>')
    if total <= 0:
        parts.append(
            f'<rect x="{pad}" y="{bar_top}" width="{_num(plot)}" height="{bar_h}" fill="#ffffff" '
            f'stroke="{AXIS}" stroke-dasharray="4 3"/>'
        )
    x = float(pad)
    for s in segments:
        length = scaled(s.value, total, plot)
        if length > 0:
            parts.append(
                f'<rect class="segment" x="{_num(x)}" y="{bar_top}" width="{_num(length)}" height="{bar_h}" '
                f'fill="{escape(s.colour)}" stroke="#ffffff" stroke-width="1" data-value="{s.value}">'
                f"<title>{escape(s.label)}：{escape(s.value_text)}</title></rect>"
            )
        x += length
    for i, s in enumerate(segments):
        y = bar_top + bar_h + 14 + i * row_h
        parts.append(
            f'<rect x="{pad}" y="{y + 4}" width="18" height="18" fill="{escape(s.colour)}" stroke="{INK}" '
            'stroke-width="0.5"/>'
        )
        parts.append(f'<text x="{pad + 28}" y="{y + 19}">{escape(s.label)}：{escape(s.value_text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


# ---------------------------------------------------------------- the dashboard's three charts

PAID = "#1e7b34"
DUE = "#b45f06"
AWAITING = "#8a939e"


def _yuan(fen: int) -> str:
    return f"{format_yuan(fen)} 元"


@dataclass(frozen=True, slots=True)
class DashboardCharts:
    stages: Markup
    weeks: Markup
    money: Markup


def dashboard_charts(
    prefix: str,
    stages: Sequence[rules.StageRow],
    weeks: Sequence[rules.WeekCount],
    money: rules.MoneyStatus,
) -> DashboardCharts:
    """The households-by-stage bars, the agreements-per-week columns and the committed/paid/outstanding bar;
    ``prefix`` keeps the ids unique on a page."""
    stage_chart = horizontal_bars(
        f"{prefix}-stages",
        "各办理阶段的户数和人数",
        "每个阶段已到达（含已进入后续阶段）的户数和在册人数："
        + "；".join(f"{r.label} {r.reached.households} 户 {r.reached.people} 人" for r in stages),
        [
            Bar(r.label, r.reached.households, f"{r.reached.households:,} 户 / {r.reached.people:,} 人")
            for r in stages
        ],
    )
    week_chart = columns(
        f"{prefix}-weeks",
        f"近 {len(weeks)} 周每周签约协议数",
        "按签约日期统计的每周（周一至周日）签约协议数："
        + "；".join(f"{w.start.month}月{w.start.day}日起一周 {w.count} 份" for w in weeks),
        [
            Column(
                f"{w.start.month}/{w.start.day}",
                w.count,
                f"{w.start.year}年{w.start.month}月{w.start.day}日至{w.end.month}月{w.end.day}日",
            )
            for w in weeks
        ],
        unit=" 份",
    )
    whole = money.committed
    segments = [
        Segment("已支付", money.paid, f"{_yuan(money.paid)}（{rules.percent(money.paid, whole)}）", PAID),
        Segment(
            "已满足支付条件、未到账",
            money.due,
            f"{_yuan(money.due)}（{rules.percent(money.due, whole)}）",
            DUE,
        ),
        Segment(
            "待满足支付条件",
            money.awaiting,
            f"{_yuan(money.awaiting)}（{rules.percent(money.awaiting, whole)}）",
            AWAITING,
        ),
    ]
    money_chart = stacked_bar(
        f"{prefix}-money",
        "补偿款：应付、已支付、未支付",
        f"已签协议应付补偿款 {_yuan(money.committed)}，已支付 {_yuan(money.paid)}，"
        f"未支付 {_yuan(money.outstanding)}（其中已满足支付条件 {_yuan(money.due)}，"
        f"待满足支付条件 {_yuan(money.awaiting)}）。",
        f"应付 {_yuan(money.committed)}",
        segments,
    )
    return DashboardCharts(stage_chart, week_chart, money_chart)
