"""Terminal charts of a report (``subctl report``): horizontal bars per series, fitted to the
terminal's width, or a sparkline when a series has more points than fit as lines
(``SPARK_AFTER``). Colour is a Rich style only: ``NO_COLOR`` (and a pipe) leave plain blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from subctl.export.values import visible

EIGHTHS = " ▏▎▍▌▋▊▉█"
SPARKS = "▁▂▃▄▅▆▇█"
SPARK_AFTER = 40  # more points than this: a sparkline (one character a point)
MIN_BAR = 8


def _amount(value: float) -> str:
    return f"{value:,.2f}"


def bar(value: float, top: float, width: int) -> str:
    """A bar of ``value`` out of ``top`` in ``width`` cells, to an eighth of a cell."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = round(value / top * width * 8)
    full, part = divmod(min(eighths, width * 8), 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def sparkline(values: Sequence[float]) -> str:
    low, high = min(values, default=0.0), max(values, default=0.0)
    if high == low:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[round((v - low) / (high - low) * (len(SPARKS) - 1))] for v in values)


def chart_lines(
    labels: Sequence[str], series: Mapping[str, Sequence[float]], width: int
) -> list[tuple[str, str, str]]:
    """The chart as (text, bar, text) line parts within ``width`` columns: per series a title,
    then a line per point (label, bar, amount), or label range and sparkline chunks."""
    lines: list[tuple[str, str, str]] = []
    for name, values in series.items():
        lines.append((visible(name), "", ""))
        if not values:
            continue
        if len(values) > SPARK_AFTER:
            spark = sparkline(values)
            chunk = max(1, width - 2)
            for i in range(0, len(spark), chunk):
                lines.append(("  ", spark[i : i + chunk], ""))
            span = f"  {labels[0]} .. {labels[-1]}: min {_amount(min(values))}, max " + _amount(
                max(values)
            )
            lines.append((span[:width], "", ""))
            continue
        label_w = max(len(label) for label in labels[: len(values)])
        amounts = [_amount(v) for v in values]
        amount_w = max(len(a) for a in amounts)
        bar_w = max(MIN_BAR, width - label_w - amount_w - 6)
        top = max(values)
        for label, value, amount in zip(labels, values, amounts, strict=False):
            text = bar(value, top, bar_w)
            lines.append(
                (f"  {label:<{label_w}} ", text, f"{'':<{bar_w - len(text)}} {amount:>{amount_w}}")
            )
    return lines


def render(labels: Sequence[str], series: Mapping[str, Sequence[float]], width: int) -> Any:
    """The chart as one Rich renderable (bars in a style that ``NO_COLOR`` drops)."""
    from rich.text import Text

    text = Text(no_wrap=True, overflow="crop")
    for i, (left, bars, right) in enumerate(chart_lines(labels, series, width)):
        if i:
            text.append("\n")
        if not bars and not right:
            text.append(left, style="bold" if not left.startswith(" ") else "dim")
            continue
        text.append(left)
        text.append(bars, style="cyan")
        text.append(right)
    return text
