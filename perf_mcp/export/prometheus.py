"""The Prometheus text exposition format (0.0.4): metric families rendered as text.

Pure: plain values in, text out. Histograms are classic ones (``_bucket{le=...}``, ``_sum``,
``_count``) in seconds, their ``le`` bounds the upper edges of the sketch buckets holding
``NOMINAL_LE_S``, so every bucket count is exact (no sample is split between bounds).

>>> family = Family("perf_mcp_demo_total", "counter", 'Demo "runs".')
>>> family.add({"agent": 'say "hi"\\n'}, 3)
>>> print(render([family]), end="")
# HELP perf_mcp_demo_total Demo "runs".
# TYPE perf_mcp_demo_total counter
perf_mcp_demo_total{agent="say \\"hi\\"\\n"} 3
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from perf_mcp.core.sketch import LogHistogram, position

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MetricType = Literal["counter", "gauge", "histogram"]
# The histogram bounds asked for, in seconds: Prometheus' defaults widened for agent runs.
NOMINAL_LE_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
MAX_EDGE_MS = 1e15  # past any bucket edge (the sketch's last bucket has none)
LE_DIGITS = 6  # significant digits of an ``le`` label: far finer than a sketch bucket


@dataclass
class Family:
    """One metric family: its name, type, help text and sample lines (rendered as added)."""

    name: str
    type: MetricType
    help: str
    lines: list[str] = field(default_factory=list)

    def add(self, labels: Mapping[str, str], value: float) -> None:
        """One sample of the family."""
        self._line("", label_text(labels), value)

    def add_histogram(self, labels: Mapping[str, str], hist: LogHistogram, sum_ms: float) -> None:
        """A sketch of milliseconds as a classic histogram in seconds."""
        shown = label_text(labels)
        bucket = f"{self.name}_bucket{{{shown}," if shown else f"{self.name}_bucket{{"
        self.lines += [f'{bucket}le="{le}"}} {count}' for le, count in cumulative_counts(hist)]
        self.lines.append(f'{bucket}le="+Inf"}} {hist.count}')
        self._line("_sum", shown, sum_ms / 1000)
        self._line("_count", shown, hist.count)

    def _line(self, suffix: str, shown: str, value: float) -> None:
        name = f"{self.name}{suffix}{{{shown}}}" if shown else self.name + suffix
        self.lines.append(f"{name} {format_value(value)}")


def render(families: Iterable[Family]) -> str:
    """The exposition text of ``families``: HELP and TYPE, then each sample on its line."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        lines += family.lines
    return "\n".join(lines) + "\n" if lines else ""


def label_text(labels: Mapping[str, str]) -> str:
    """``name="value",...`` with the values escaped."""
    return ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())


def escape_label(value: str) -> str:
    r"""A label value with ``\``, ``"`` and newlines escaped."""
    if "\\" not in value and '"' not in value and "\n" not in value:
        return value
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    r"""A help text with ``\`` and newlines escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value: integers exactly, floats in full, ``+Inf``/``-Inf``/``NaN``."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


@cache
def le_bounds() -> tuple[tuple[str, int], ...]:
    """Each ``le`` label with the sketch bucket it ends: the buckets holding NOMINAL_LE_S."""
    bounds: dict[str, int] = {}
    for seconds in NOMINAL_LE_S:
        edge_ms, pos = bucket_upper_edge(seconds * 1000)
        bounds.setdefault(f"{edge_ms / 1000:.{LE_DIGITS}g}", pos)
    return tuple(bounds.items())


def bucket_upper_edge(value_ms: float) -> tuple[float, int]:
    """The upper edge of the sketch bucket holding ``value_ms`` (the largest value in it, to
    a float's precision), and the bucket. Found through ``position`` alone, so it holds for
    any log bucketing the sketch uses."""
    pos = position(value_ms)
    inside, outside = value_ms, value_ms * 2
    while position(outside) == pos:
        if outside > MAX_EDGE_MS:
            raise ValueError(f"the sketch bucket holding {value_ms} ms has no upper edge")
        inside, outside = outside, outside * 2
    while True:
        middle = (inside + outside) / 2
        if middle in (inside, outside):
            return inside, pos
        if position(middle) == pos:
            inside = middle
        else:
            outside = middle


def cumulative_counts(hist: LogHistogram) -> list[tuple[str, int]]:
    """(``le`` label, samples in buckets up to that bound) for each bound, lowest first."""
    above = sorted(hist.bins.items(), reverse=True)  # counting down keeps zeros below all
    counts: list[tuple[str, int]] = []
    remaining, i = hist.count, 0
    for le, pos in reversed(le_bounds()):
        while i < len(above) and above[i][0] > pos:
            remaining -= above[i][1]
            i += 1
        counts.append((le, remaining))
    return counts[::-1]
