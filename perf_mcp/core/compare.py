"""Comparing two windows: what changed for each endpoint, agent and tool, and by how much.

Pure: ``compare`` takes each window's merged accumulators and length and returns the subjects
that changed, ranked. A metric's change is reported only when it passes every gate:

- enough samples: ``MIN_COUNT`` on both sides (for the rate, on either side: traffic that
  appeared or stopped is news), so no p95 comes from a handful of samples;
- a ratio of at least ``MIN_RATIO`` between the two values, either way;
- an absolute change of at least ``MIN_CHANGE[metric]`` (for the rate: ``MIN_COUNT``
  requests more or fewer over the window than the baseline's rate gives).

A change's size is ``|ln((after + floor) / (before + floor))|`` with the metric's minimum
change as the floor, so that a rise from nothing is finite and tiny values do not dominate;
subjects rank by their largest change.

>>> from perf_mcp.core.series import RequestAcc
>>> before, after = RequestAcc(), RequestAcc()
>>> before.hist.add(100.0, 100); after.hist.add(300.0, 100)
>>> a = ("endpoint", "GET /a")
>>> (found,) = compare(Side({a: before}, 60), Side({a: after}, 60))
>>> [(c.metric, round(c.ratio, 2)) for c in found.changes][:1]
[('p50_ms', 3.0)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.core.models import DeployMarker, OptionalNumber, Window
from perf_mcp.core.series import RequestAcc, RunAcc
from perf_mcp.core.stats import rate

Kind = Literal["endpoint", "agent", "tool"]
Subject = tuple[Kind, str]  # an endpoint is named "METHOD /template"
Baseline = Literal["previous", "24h", "7d", "deploy"]
BASELINE_OFFSETS_S = {"24h": 86_400, "7d": 604_800}  # the same window, this long before

MIN_COUNT = 50  # samples needed on both sides before a latency, error rate or usage compares
MIN_RATIO = 1.5  # the larger value over the smaller one
MIN_CHANGE = {  # the smallest absolute change worth reporting, per metric
    "error_rate": 0.01,  # one percentage point
    "p50_ms": 5.0,
    "p95_ms": 5.0,
    "p99_ms": 5.0,
    "tokens_per_run": 100.0,
    "cost_per_run_usd": 0.001,
}
QUANTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}  # latency metrics compared


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class MetricChange(_Answer):
    """One metric that changed past the gates."""

    metric: str = Field(
        description="rate_per_s, error_rate, p50_ms, p95_ms, p99_ms, tokens_per_run "
        "or cost_per_run_usd."
    )
    before: float
    after: float
    ratio: OptionalNumber = Field(description="after / before; null when before is 0.")


class SubjectChange(_Answer):
    """An endpoint ("METHOD /route"), agent or tool whose numbers changed."""

    kind: Kind
    name: str
    count_before: int
    count_after: int
    changes: list[MetricChange] = Field(description="Largest change first.")


class ResourceSide(_Answer):
    """A machine metric's mean over each window's stored resource samples."""

    metric: str
    before: OptionalNumber
    after: OptionalNumber
    samples_before: int
    samples_after: int


class WindowComparison(_Answer):
    """What changed between a window and its baseline, largest change first."""

    window: Window
    baseline: Baseline
    start: float = Field(description="The window compared, Unix seconds.")
    end: float
    baseline_start: float
    baseline_end: float
    deploy: DeployMarker | None = Field(description="The marker a deploy baseline splits at.")
    changes: list[SubjectChange]
    total_changed: int = Field(description="Subjects with a change past the gates.")
    truncated: bool
    resources: list[ResourceSide]


@dataclass(frozen=True)
class Side:
    """One window's merged accumulators (histograms filled where a percentile may be asked)
    and the seconds it covers."""

    accs: Mapping[Subject, RequestAcc | RunAcc]
    seconds: float


def comparable(count_before: int, count_after: int) -> bool:
    """Whether a subject has enough samples on both sides to compare more than its rate
    (only then does the caller need its histograms)."""
    return min(count_before, count_after) >= MIN_COUNT


def compare(before: Side, after: Side) -> list[SubjectChange]:
    """Every subject with a change past the gates, the largest change first."""
    ranked: list[tuple[float, SubjectChange]] = []
    for subject in before.accs.keys() | after.accs.keys():
        found = _subject_changes(subject, before, after)
        if found is not None:
            ranked.append(found)
    ranked.sort(key=lambda r: (-r[0], r[1].kind, r[1].name))
    return [change for _, change in ranked]


def _subject_changes(
    subject: Subject, before: Side, after: Side
) -> tuple[float, SubjectChange] | None:
    acc_before, acc_after = before.accs.get(subject), after.accs.get(subject)
    n_before = acc_before.count if acc_before is not None else 0
    n_after = acc_after.count if acc_after is not None else 0
    scored: list[tuple[float, MetricChange]] = []
    if max(n_before, n_after) >= MIN_COUNT:
        floor = MIN_COUNT / after.seconds  # MIN_COUNT requests over the window
        scored += _gated("rate_per_s", n_before / before.seconds, n_after / after.seconds, floor)
    if acc_before is not None and acc_after is not None and comparable(n_before, n_after):
        values_before, values_after = metric_values(acc_before), metric_values(acc_after)
        for metric, floor in MIN_CHANGE.items():
            b, a = values_before.get(metric), values_after.get(metric)
            if b is not None and a is not None:
                scored += _gated(metric, b, a, floor)
    if not scored:
        return None
    scored.sort(key=lambda s: -s[0])
    kind, name = subject
    change = SubjectChange(
        kind=kind,
        name=name,
        count_before=n_before,
        count_after=n_after,
        changes=[c for _, c in scored],
    )
    return scored[0][0], change


def _gated(
    metric: str, before: float, after: float, floor: float
) -> list[tuple[float, MetricChange]]:
    """The change as a one-item list if it passes the ratio and absolute gates, else []."""
    low, high = sorted((before, after))
    if high - low < floor or (low > 0 and high / low < MIN_RATIO):
        return []
    size = abs(math.log((after + floor) / (before + floor)))
    ratio = short(after / before) if before else None
    change = MetricChange(metric=metric, before=short(before), after=short(after), ratio=ratio)
    return [(size, change)]


def short(value: float) -> float:
    """``value`` to 4 significant digits: the sketch is 1% accurate, and answers cost tokens."""
    return float(f"{value:.4g}")


def metric_values(acc: RequestAcc | RunAcc) -> dict[str, float | None]:
    """The metrics of one side that compare beyond the rate."""
    quantiles = acc.hist.quantiles(list(QUANTILES.values()))
    if isinstance(acc, RunAcc):
        tokens = acc.input_tokens + acc.output_tokens
        return values_of(acc.count, acc.failures, quantiles, (tokens, acc.cost_usd))
    return values_of(acc.count, acc.status[5], quantiles)


def values_of(
    count: int,
    errors: int,
    quantiles: Sequence[float | None],
    usage: tuple[int, float] | None = None,
) -> dict[str, float | None]:
    """``metric_values`` from a side's sums and its ``QUANTILES``; ``usage`` (tokens, cost)
    is a run's (tools use no tokens: 0 against 0 never passes the gates)."""
    values = dict(zip(QUANTILES, quantiles, strict=True))
    values["error_rate"] = rate(errors, count)
    if usage is not None:
        values["tokens_per_run"] = rate(usage[0], count)
        values["cost_per_run_usd"] = rate(usage[1], count)
    return values
