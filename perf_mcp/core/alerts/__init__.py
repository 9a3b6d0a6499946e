"""Alert rules, thresholds, the pure ``evaluate()`` state machine, dry-run replays and the
answers of the alert tools. Pure: stdlib and pydantic only, no I/O and no clock.

- ``specs``: the built-in rules (``RULES``) and the settings shared by all of them;
- ``thresholds``: overrides from ``set_threshold`` and the levels that apply to a subject;
- ``state``: ``AlertState``, ``AlertEvent``, ``AlertRecord`` and ``evaluate()``/``acknowledge()``;
- ``records``: the alert records ``list_alerts`` shows, opened and closed by events;
- ``replay``: ``replay()`` a threshold over a stored history, ``compare_levels()`` for a dry run;
- ``models``: what the alert, threshold and health tools answer.

>>> t = effective_threshold("error_rate_5min", "GET /search")
>>> [e.kind for e in evaluate(t, "GET /search", 0.5, 40, now=0.0, prior=None).events]
['fired']
"""

from perf_mcp.core.alerts.models import (
    AlertFilter,
    AlertList,
    Breach,
    ComponentHealth,
    Evaluation,
    HealthLevel,
    HealthStatus,
    ThresholdChange,
    ThresholdList,
    ThresholdName,
)
from perf_mcp.core.alerts.records import (
    active_alerts,
    alert_status,
    forget_quiet,
    not_active,
    record_events,
)
from perf_mcp.core.alerts.replay import ReplaySummary, combine_replays, compare_levels, replay
from perf_mcp.core.alerts.specs import (
    OVERALL,
    RULES,
    SYSTEM,
    AlertStatus,
    EventKind,
    RuleSettings,
    RuleSpec,
    SampleKind,
    Scope,
    Severity,
    Unit,
    format_value,
    get_rule,
)
from perf_mcp.core.alerts.state import (
    AlertEvent,
    AlertRecord,
    AlertState,
    Outcome,
    acknowledge,
    evaluate,
)
from perf_mcp.core.alerts.thresholds import (
    Threshold,
    ThresholdInfo,
    ThresholdOverride,
    check_subject,
    check_value,
    effective_threshold,
    make_override,
    threshold_table,
)

__all__ = [
    "OVERALL",
    "RULES",
    "SYSTEM",
    "AlertEvent",
    "AlertFilter",
    "AlertList",
    "AlertRecord",
    "AlertState",
    "AlertStatus",
    "Breach",
    "ComponentHealth",
    "Evaluation",
    "EventKind",
    "HealthLevel",
    "HealthStatus",
    "Outcome",
    "ReplaySummary",
    "RuleSettings",
    "RuleSpec",
    "SampleKind",
    "Scope",
    "Severity",
    "Threshold",
    "ThresholdChange",
    "ThresholdInfo",
    "ThresholdList",
    "ThresholdName",
    "ThresholdOverride",
    "Unit",
    "acknowledge",
    "active_alerts",
    "alert_status",
    "check_subject",
    "check_value",
    "combine_replays",
    "compare_levels",
    "effective_threshold",
    "evaluate",
    "forget_quiet",
    "format_value",
    "get_rule",
    "make_override",
    "not_active",
    "record_events",
    "replay",
    "threshold_table",
]
