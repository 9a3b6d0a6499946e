"""Override validation, merging and the levels that apply to a subject."""

from __future__ import annotations

import math

import pytest

from perf_mcp.core.alerts import (
    RULES,
    effective_threshold,
    make_override,
    threshold_table,
)
from perf_mcp.core.models import InvalidInputError

SEARCH = "GET /search"


def test_unknown_threshold_name_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidInputError) as err:
        make_override("latency_p95", 500, now=0)
    message = str(err.value)
    assert "'latency_p95'" in message
    assert all(name in message for name in RULES)


def test_out_of_range_value_says_the_range() -> None:
    with pytest.raises(InvalidInputError, match=r"between 1 ms and 3600000 ms"):
        make_override("response_time_p95_ms", 0.5, now=0)
    with pytest.raises(InvalidInputError, match=r"between 0% and 100%.*0\.05 means 5%"):
        make_override("error_rate_5min", 5, now=0)
    with pytest.raises(InvalidInputError, match="finite"):
        make_override("cpu_usage_percent", math.nan, now=0)


def test_rejects_bad_subjects_severity_and_cooldown() -> None:
    with pytest.raises(InvalidInputError, match="whole system"):
        make_override("cpu_usage_percent", 90, subject="GET /x", now=0)
    with pytest.raises(InvalidInputError, match="'GET /search'"):
        make_override("response_time_p95_ms", 900, subject="search", now=0)
    with pytest.raises(InvalidInputError, match="severity"):
        make_override("response_time_p95_ms", 900, severity="page", now=0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="cooldown_s"):
        make_override("response_time_p95_ms", None, cooldown_s=-1, now=0)
    with pytest.raises(InvalidInputError, match="give a value"):
        make_override("response_time_p95_ms", None, now=0)


def test_changed_warning_keeps_the_default_critical_ratio() -> None:
    override = make_override("response_time_p95_ms", 500, now=0)
    threshold = effective_threshold("response_time_p95_ms", SEARCH, [override])
    assert (threshold.warning, threshold.critical) == (500, 1000)
    capped = make_override("error_rate_5min", 0.5, now=0)
    assert effective_threshold("error_rate_5min", None, [capped]).critical == 1.0


def test_warning_above_an_explicit_critical_says_what_to_change_first() -> None:
    critical = make_override("response_time_p95_ms", 1500, severity="critical", now=0)
    with pytest.raises(InvalidInputError, match=r"raise the critical level first"):
        make_override("response_time_p95_ms", 1800, now=1, existing=[critical])
    with pytest.raises(InvalidInputError, match=r"lower the warning level first"):
        make_override("response_time_p95_ms", 800, severity="critical", now=1)


def test_a_second_call_merges_with_the_stored_override() -> None:
    first = make_override("response_time_p95_ms", 700, subject=SEARCH, now=0)
    second = make_override(
        "response_time_p95_ms", 3000, severity="critical", subject=SEARCH, now=5, existing=[first]
    )
    assert (second.warning, second.critical, second.updated_at) == (700, 3000, 5)
    cooled = make_override(
        "response_time_p95_ms", None, subject=SEARCH, cooldown_s=60, now=6, existing=[second]
    )
    threshold = effective_threshold("response_time_p95_ms", SEARCH, [cooled])
    assert (threshold.warning, threshold.critical, threshold.cooldown_s) == (700, 3000, 60)


def test_subject_overrides_win_over_path_overrides_over_rule_wide_ones() -> None:
    overrides = [
        make_override("response_time_p95_ms", 1200, now=0),
        make_override("response_time_p95_ms", 2500, subject="/search", now=0),
        make_override("response_time_p95_ms", 4000, subject="POST /search", now=0),
    ]

    def warning(subject: str) -> float:
        return effective_threshold("response_time_p95_ms", subject, overrides).warning

    assert warning("POST /search") == 4000
    assert warning("GET /search") == 2500
    assert warning("GET /users/{id}") == 1200
    assert warning("overall") == 1200
    assert effective_threshold("response_time_p99_ms", "GET /search", overrides).warning == 2000


def test_threshold_table_shows_defaults_overrides_and_subject_overrides() -> None:
    overrides = [
        make_override("agent_error_rate", 0.25, now=0),
        make_override("agent_avg_time_ms", 60_000, subject="planner", now=0),
    ]
    table = {row.name: row for row in threshold_table(overrides)}
    assert list(table) == list(RULES)
    assert (table["agent_error_rate"].warning, table["agent_error_rate"].default_warning) == (
        0.25,
        0.10,
    )
    assert table["agent_error_rate"].overridden
    avg = table["agent_avg_time_ms"]
    assert not avg.overridden
    assert avg.warning == 10_000
    assert [(o.subject, o.warning) for o in avg.subject_overrides] == [("planner", 60_000)]
    assert table["error_rate_5min"].allowed_range == (0, 1)
