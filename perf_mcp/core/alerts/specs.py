"""The built-in alert rules: their names, default levels, units, ranges and scopes.

>>> get_rule("error_rate_5min").warning
0.05
>>> format_value(0.125, "fraction"), format_value(1520, "ms"), format_value(20, "burn")
('12.5%', '1520 ms', '20x')
>>> format_value(12.5, "usd_per_hour")
'$12.50/h'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.core.models import InvalidInputError

Severity = Literal["warning", "critical"]
Scope = Literal["overall", "endpoint", "agent", "tool", "system", "slo"]
Unit = Literal["ms", "fraction", "percent", "burn", "usd_per_hour"]
AlertStatus = Literal["firing", "acknowledged", "resolved"]
SampleKind = Literal["requests", "runs", "calls", "samples"]
EventKind = Literal["fired", "escalated", "deescalated", "repeated", "resolved", "acknowledged"]

OVERALL = "overall"
SYSTEM = "system"
DEFAULT_COOLDOWN_S = 300.0
DEFAULT_RESOLVE_RATIO = 0.9
MAX_COOLDOWN_S = 7 * 86400.0


class FrozenModel(BaseModel):
    """The base of every alert model: unknown fields are errors and a change is a copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(FrozenModel):
    """A built-in rule: its name, default levels, unit, allowed range and scope."""

    name: str
    description: str
    unit: Unit
    warning: float = Field(description="Default warning level: fires above it.")
    critical: float = Field(description="Default critical level: fires above it.")
    min_value: float = Field(description="Smallest level set_threshold accepts.")
    max_value: float = Field(description="Largest level set_threshold accepts.")
    scopes: tuple[Scope, ...]
    sample_kind: SampleKind

    @property
    def critical_ratio(self) -> float:
        """critical / warning of the defaults; a changed warning keeps it unless critical is set."""
        return self.critical / self.warning


_MS_MAX = 3_600_000.0  # one hour
_RUN_MS_MAX = 86_400_000.0  # one day: agent runs can be long
_BURN_MAX = 10_000.0  # a 99.99% objective with every event bad burns at 10,000x


def _slo_rule(name: str, level: float, windows: str, action: str, critical: float) -> RuleSpec:
    """A burn-rate rule of the SRE workbook for every SLO (perf_mcp.core.alerts.slo)."""
    return RuleSpec(
        name=name,
        description=f"SLO error-budget burn rate, the lower of {windows} (windows for a 30-day "
        f"period, scaled to the SLO's); {action} above {level:g}x.",
        unit="burn",
        warning=level,
        critical=critical,
        min_value=0.1,
        max_value=_BURN_MAX,
        scopes=("slo",),
        sample_kind="samples",
    )


RULES: Mapping[str, RuleSpec] = {
    spec.name: spec
    for spec in (
        RuleSpec(
            name="response_time_p95_ms",
            description="p95 request latency over the last 5 minutes, overall and per endpoint.",
            unit="ms",
            warning=1000,
            critical=2000,
            min_value=1,
            max_value=_MS_MAX,
            scopes=("overall", "endpoint"),
            sample_kind="requests",
        ),
        RuleSpec(
            name="response_time_p99_ms",
            description="p99 request latency over the last 5 minutes, overall and per endpoint.",
            unit="ms",
            warning=2000,
            critical=4000,
            min_value=1,
            max_value=_MS_MAX,
            scopes=("overall", "endpoint"),
            sample_kind="requests",
        ),
        RuleSpec(
            name="error_rate_5min",
            description="Share of 5xx responses over the last 5 minutes, overall and per endpoint.",
            unit="fraction",
            warning=0.05,
            critical=0.20,
            min_value=0,
            max_value=1,
            scopes=("overall", "endpoint"),
            sample_kind="requests",
        ),
        RuleSpec(
            name="cpu_usage_percent",
            description="System CPU use in the latest resource sample.",
            unit="percent",
            warning=80,
            critical=95,
            min_value=1,
            max_value=100,
            scopes=("system",),
            sample_kind="samples",
        ),
        RuleSpec(
            name="memory_usage_percent",
            description="System memory use in the latest resource sample.",
            unit="percent",
            warning=85,
            critical=95,
            min_value=1,
            max_value=100,
            scopes=("system",),
            sample_kind="samples",
        ),
        RuleSpec(
            name="agent_error_rate",
            description="Failed runs / runs over the last 5 minutes, per agent.",
            unit="fraction",
            warning=0.10,
            critical=0.30,
            min_value=0,
            max_value=1,
            scopes=("agent",),
            sample_kind="runs",
        ),
        RuleSpec(
            name="agent_avg_time_ms",
            description="Mean agent run time over the last 5 minutes, per agent.",
            unit="ms",
            warning=10_000,
            critical=20_000,
            min_value=1,
            max_value=_RUN_MS_MAX,
            scopes=("agent",),
            sample_kind="runs",
        ),
        RuleSpec(
            name="agent_cost_usd_per_hour",
            description="Spend per agent over the last 5 minutes (reported and estimated "
            "costs), as USD per hour.",
            unit="usd_per_hour",
            warning=10,
            critical=50,
            min_value=0.01,
            max_value=1e6,
            scopes=("agent",),
            sample_kind="runs",
        ),
        RuleSpec(
            name="tool_error_rate",
            description="Failed calls / calls over the last 5 minutes, per tool.",
            unit="fraction",
            warning=0.20,
            critical=0.50,
            min_value=0,
            max_value=1,
            scopes=("tool",),
            sample_kind="calls",
        ),
        # Pages are critical from the start (warning = critical); the ticket is a warning.
        _slo_rule("slo_fast_burn", 14.4, "1 h and 5 min", "pages", critical=14.4),
        _slo_rule("slo_medium_burn", 6.0, "6 h and 30 min", "pages", critical=6.0),
        _slo_rule("slo_slow_burn", 1.0, "3 d and 6 h", "a ticket", critical=_BURN_MAX),
    )
}


class RuleSettings(FrozenModel):
    """Settings shared by every rule (a deployment's configuration, not per-rule overrides)."""

    cooldown_s: Annotated[float, Field(ge=0, le=MAX_COOLDOWN_S)] = DEFAULT_COOLDOWN_S
    resolve_ratio: Annotated[float, Field(gt=0, le=1)] = DEFAULT_RESOLVE_RATIO
    min_requests: Annotated[int, Field(ge=1)] = 20
    min_runs: Annotated[int, Field(ge=1)] = 5
    min_calls: Annotated[int, Field(ge=1)] = 5

    def min_samples(self, kind: SampleKind) -> int:
        """The minimum count of requests / runs / calls before a rule of ``kind`` may fire."""
        return {
            "requests": self.min_requests,
            "runs": self.min_runs,
            "calls": self.min_calls,
            "samples": 1,
        }[kind]


def get_rule(name: str) -> RuleSpec:
    """The rule called ``name``; an unknown name is an error listing the allowed ones."""
    try:
        return RULES[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown threshold {name!r}; allowed: {', '.join(RULES)}"
        ) from None


def format_value(value: float | None, unit: Unit) -> str:
    """A value as a person reads it: 1520 ms, 12.5%, 91.0%."""
    if value is None:
        return "no data"
    if unit == "ms":
        return f"{value:.0f} ms" if value >= 10 else f"{value:.3g} ms"
    if unit == "fraction":
        return f"{value * 100:.3g}%"
    if unit == "burn":
        return f"{value:.3g}x"
    if unit == "usd_per_hour":
        return f"${value:,.2f}/h"
    return f"{value:.1f}%"
