"""The built-in rule table: names, defaults, ranges and scopes."""

from __future__ import annotations

from perf_mcp.core.alerts import (
    RULES,
    effective_threshold,
)


def test_every_design_threshold_has_a_rule_with_its_default() -> None:
    defaults = {name: spec.warning for name, spec in RULES.items()}
    assert defaults == {
        "response_time_p95_ms": 1000,
        "response_time_p99_ms": 2000,
        "error_rate_5min": 0.05,
        "cpu_usage_percent": 80,
        "memory_usage_percent": 85,
        "agent_error_rate": 0.10,
        "agent_avg_time_ms": 10000,
        "agent_cost_usd_per_hour": 10,
        "tool_error_rate": 0.20,
        "slo_fast_burn": 14.4,
        "slo_medium_burn": 6.0,
        "slo_slow_burn": 1.0,
    }


def test_every_rule_has_a_critical_level_above_warning_inside_its_range() -> None:
    pages = ("slo_fast_burn", "slo_medium_burn")  # critical from the start: warning = critical
    for spec in RULES.values():
        assert spec.min_value <= spec.warning <= spec.critical <= spec.max_value, spec.name
        assert (spec.warning == spec.critical) == (spec.name in pages), spec.name


def test_latency_critical_defaults_to_twice_the_warning() -> None:
    for name in ("response_time_p95_ms", "response_time_p99_ms", "agent_avg_time_ms"):
        assert RULES[name].critical == 2 * RULES[name].warning


def test_rules_declare_their_scope() -> None:
    assert RULES["response_time_p95_ms"].scopes == ("overall", "endpoint")
    assert RULES["error_rate_5min"].scopes == ("overall", "endpoint")
    assert RULES["agent_error_rate"].scopes == ("agent",)
    assert RULES["tool_error_rate"].scopes == ("tool",)
    assert RULES["cpu_usage_percent"].scopes == ("system",)


def test_minimum_samples_default_to_20_requests_and_5_runs() -> None:
    assert effective_threshold("error_rate_5min").min_samples == 20
    assert effective_threshold("agent_error_rate").min_samples == 5
    assert effective_threshold("tool_error_rate").min_samples == 5
    assert effective_threshold("cpu_usage_percent").min_samples == 1
