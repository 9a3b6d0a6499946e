"""Explaining a window: what is anomalous now against its own recent past, and what moved with it.

Pure: ``explain`` takes each subject's values in the current window and in the comparable
windows before it (the same length, back to back) and returns the anomalies, largest first.
A value is anomalous against the median and MAD (median absolute deviation) of its past
values when it passes every gate:

- samples: ``MIN_COUNT`` now and in at least half of the past windows (as compare_windows);
- a ratio of at least ``MIN_RATIO`` to the median, either way (as compare_windows);
- an absolute change of at least the metric's ``MIN_CHANGE`` (as compare_windows; resources:
  ``RESOURCE_MIN_CHANGE`` percentage points);
- a robust z-score ``|value - median| / (1.4826 * MAD)`` of at least ``MIN_Z`` (a flat past,
  MAD 0, passes it).

Everything anomalous in one window moved together: the answer lists it all, the asked
subject's findings first.

>>> steady = {("endpoint", "GET /a"): Observed(100, {"p95_ms": 100.0})}
>>> spike = {("endpoint", "GET /a"): Observed(100, {"p95_ms": 400.0})}
>>> [(f.name, f.metric, f.ratio) for f in explain(spike, [steady] * 6)]
[('GET /a', 'p95_ms', 4.0)]
>>> explain(steady, [steady] * 6)
[]
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.core.compare import MIN_CHANGE, MIN_COUNT, MIN_RATIO, short
from perf_mcp.core.models import DeployMarker, Window

FindingKind = Literal["endpoint", "agent", "tool", "resource"]
MIN_Z = 3.5  # robust z-score: beyond 3.5 MADs is an outlier (Iglewicz and Hoaglin)
MAD_SCALE = 1.4826  # MAD times this estimates the standard deviation of normal data
MIN_RESOURCE_SAMPLES = 3  # resource samples a window needs before its mean compares
RESOURCE_MIN_CHANGE = 10.0  # percentage points of CPU or memory
RATE_MIN_CHANGE = 0.05  # requests, runs or calls per second


class Finding(BaseModel):
    """One anomalous value now, against the median of the past windows."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    name: str = Field(description='"METHOD /route", an agent, a tool, or a resource metric.')
    metric: str
    now: float
    median: float = Field(description="Of the past windows.")
    ratio: float | None = Field(description="now / median; null when the median is 0.")
    next: str = Field(description="The call that looks closer.")


class Explanation(BaseModel):
    """What is anomalous in the window against its recent past; all of it moved together."""

    model_config = ConfigDict(frozen=True)

    window: Window
    subject: str | None
    past_windows: int = Field(description="Comparable windows before this one.")
    findings: list[Finding] = Field(description="The subject's first, then the largest.")
    truncated: bool
    deploys: list[DeployMarker] = Field(description="Deploys in the window, newest first.")


@dataclass(frozen=True, slots=True)
class Observed:
    """A subject in one window: its sample count and metric values."""

    count: int
    values: Mapping[str, float | None]


Key = tuple[FindingKind, str]
WindowValues = Mapping[Key, Observed]


def explain(current: WindowValues, past: Sequence[WindowValues]) -> list[Finding]:
    """The anomalous values of ``current`` against ``past``, the largest first."""
    found: list[tuple[float, Finding]] = []
    for key, now in current.items():
        needed = MIN_RESOURCE_SAMPLES if key[0] == "resource" else MIN_COUNT
        if now.count < needed:
            continue
        enough = [h for h in (window.get(key) for window in past) if h and h.count >= needed]
        if not has_history(len(enough), len(past)):
            continue
        for metric, value in now.values.items():
            earlier = [h.values[metric] for h in enough if h.values.get(metric) is not None]
            if value is not None and len(earlier) * 2 >= len(past) and earlier:
                anomaly = _anomaly(key, metric, value, earlier)  # type: ignore[arg-type]
                if anomaly is not None:
                    found.append(anomaly)
    found.sort(key=lambda f: (-f[0], f[1].kind, f[1].name, f[1].metric))
    return [finding for _, finding in found]


def has_history(busy: int, windows: int) -> bool:
    """Whether ``busy`` of the ``windows`` past windows with enough samples are enough to
    judge a subject by (at least half of them, and one)."""
    return busy > 0 and busy * 2 >= windows


def _anomaly(
    key: Key, metric: str, value: float, earlier: list[float]
) -> tuple[float, Finding] | None:
    kind, name = key
    floor = _min_change(kind, metric)
    median = statistics.median(earlier)
    low, high = sorted((value, median))
    if high - low < floor or (low > 0 and high / low < MIN_RATIO):
        return None
    spread = MAD_SCALE * statistics.median(abs(x - median) for x in earlier)
    if spread and abs(value - median) / spread < MIN_Z:
        return None
    size = abs(math.log((value + floor) / (median + floor)))
    finding = Finding(
        kind=kind,
        name=name,
        metric=metric,
        now=short(value),
        median=short(median),
        ratio=short(value / median) if median else None,
        next=_next_call(kind, name),
    )
    return size, finding


def _min_change(kind: str, metric: str) -> float:
    if kind == "resource":
        return RESOURCE_MIN_CHANGE
    return MIN_CHANGE.get(metric, RATE_MIN_CHANGE)


def _next_call(kind: str, name: str) -> str:
    if kind == "endpoint":
        method, _, route = name.partition(" ")
        return f'get_endpoint_stats(endpoint="{route}", method="{method}")'
    if kind == "agent":
        return f'get_agent_stats(agent_name="{name}")'
    if kind == "tool":
        return f'get_tool_stats(tool_name="{name}")'
    return "get_resource_usage()"


def first_about(findings: list[Finding], subject: str | None) -> list[Finding]:
    """``findings`` with those about ``subject`` (a name, or an endpoint's route) first."""
    if subject is None:
        return findings
    about = [f for f in findings if subject in (f.name, f.name.partition(" ")[2])]
    return about + [f for f in findings if f not in about]
