"""Answers of the alert, threshold and health tools, built on the rule models in ``rules``.

Pure: stdlib and pydantic only. Until the alert manager runs in the server, these carry the
threshold table with in-memory overrides and empty alert lists.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.core.models import Window
from perf_mcp.core.rules import AlertState, ThresholdInfo, ThresholdOverride

# The names of rules.RULES, spelled out so a tool's input schema can list them (a test keeps
# the two in step).
ThresholdName = Literal[
    "response_time_p95_ms",
    "response_time_p99_ms",
    "error_rate_5min",
    "cpu_usage_percent",
    "memory_usage_percent",
    "agent_error_rate",
    "agent_avg_time_ms",
    "tool_error_rate",
]
AlertFilter = Literal["active", "firing", "acknowledged", "resolved", "all"]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class ThresholdList(_Answer):
    thresholds: list[ThresholdInfo]


class ThresholdChange(_Answer):
    """The answer to set_threshold: the stored override and the rule's levels after it."""

    override: ThresholdOverride
    threshold: ThresholdInfo
    persisted: bool = Field(
        description="True when the change is stored and survives a restart of the server."
    )


class AlertList(_Answer):
    window: Window
    alerts: list[AlertState] = Field(description="Newest change first.")
    total: int = Field(description="Alerts that matched before `limit` was applied.")
    truncated: bool
    active: int = Field(description="Alerts firing now, acknowledged or not.")
    alerting_enabled: bool = Field(
        description="False when no alert evaluation runs in this server (nothing can fire)."
    )


class ComponentHealth(_Answer):
    name: str
    status: Literal["ok", "degraded", "unhealthy", "disabled"]
    detail: str = ""


class HealthStatus(_Answer):
    """Whether the server, its store and its background work are well, and why not."""

    status: Literal["ok", "degraded", "unhealthy"]
    version: str
    uptime_s: float
    db_path: str
    store_bytes: int | None = Field(default=None, description="Database file and WAL size.")
    components: list[ComponentHealth]
    active_alerts: int
