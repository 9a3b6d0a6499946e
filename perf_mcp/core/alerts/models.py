"""Answers of the alert, threshold, resource and health tools, built on the alert models.

Pure: stdlib and pydantic only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.core.alerts.replay import ReplaySummary
from perf_mcp.core.alerts.specs import Severity, Unit
from perf_mcp.core.alerts.state import AlertRecord
from perf_mcp.core.alerts.thresholds import Threshold, ThresholdInfo, ThresholdOverride
from perf_mcp.core.models import Window

# The names of specs.RULES, spelled out so a tool's input schema can list them (a test keeps
# the two in step).
ThresholdName = Literal[
    "response_time_p95_ms",
    "response_time_p99_ms",
    "error_rate_5min",
    "cpu_usage_percent",
    "memory_usage_percent",
    "agent_error_rate",
    "agent_avg_time_ms",
    "agent_cost_usd_per_hour",
    "tool_error_rate",
    "slo_fast_burn",
    "slo_medium_burn",
    "slo_slow_burn",
]
AlertFilter = Literal["active", "firing", "acknowledged", "resolved", "all"]
Evaluation = Literal["this server", "another server", "not running"]
HealthLevel = Literal["ok", "degraded", "unhealthy"]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class ThresholdList(_Answer):
    thresholds: list[ThresholdInfo]


class ThresholdChange(_Answer):
    """The answer to set_threshold: the levels before and after, and a dry run's replay."""

    override: ThresholdOverride = Field(description="What is stored (or would be, on a dry run).")
    subject: str | None = Field(description="The one subject changed; None = every subject.")
    previous: Threshold = Field(description="The levels that applied before.")
    current: Threshold = Field(description="The levels that apply after (dry run: would apply).")
    threshold: ThresholdInfo = Field(description="The rule's row as list_thresholds shows it.")
    dry_run: bool
    persisted: bool = Field(description="True when stored so it survives a restart.")
    replay: ReplaySummary | None = Field(
        default=None, description="Dry run: how the new levels would have behaved on history."
    )
    baseline: ReplaySummary | None = Field(
        default=None, description="Dry run: the same history under the levels in effect now."
    )
    note: str = ""


class AlertList(_Answer):
    window: Window
    status: AlertFilter
    alerts: list[AlertRecord] = Field(
        description="Active alerts, and others started or resolved in the window; newest first."
    )
    truncated: bool = Field(description="More alerts matched than `limit`.")
    active: int = Field(description="Alerts firing now, acknowledged or not.")
    evaluation: Evaluation = Field(
        description="Where rules are evaluated: here, in another perf-mcp server sharing this "
        "store, or nowhere (then nothing new can fire)."
    )
    interval_s: float | None = Field(description="Seconds between evaluations.")
    last_evaluated_at: float | None = Field(description="Unix seconds; None if not here.")


class ComponentHealth(_Answer):
    name: str
    status: Literal["ok", "degraded", "unhealthy", "disabled"]
    detail: str = ""


class Breach(_Answer):
    """A threshold crossed now: an active alert in brief."""

    alert_id: int
    threshold: str
    subject: str
    severity: Severity
    value: float | None
    limit: float | None
    unit: Unit
    since: float = Field(description="Unix seconds.")
    acknowledged: bool


class HealthStatus(_Answer):
    """Whether the server, its store and its background work are well, and why not."""

    status: HealthLevel = Field(
        description="unhealthy: a critical threshold is crossed; degraded: a warning threshold "
        "is crossed, the store takes no writes, data was dropped or background work stalled; "
        "else ok."
    )
    reasons: list[str] = Field(description="Why the status is not ok, worst first.")
    version: str
    uptime_s: float
    db_path: str
    store_bytes: int | None = Field(default=None, description="Database file and WAL size.")
    last_flush_age_s: float | None = Field(
        default=None, description="Seconds since recorded data was last written (None: never)."
    )
    components: list[ComponentHealth]
    active_alerts: int
    breached: list[Breach] = Field(description="Crossed thresholds, critical first.")
