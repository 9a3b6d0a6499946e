"""Threshold levels: validating ``set_threshold`` input, stored overrides, and the levels
that apply to one subject.

>>> effective_threshold("response_time_p95_ms", "GET /search").warning
1000.0
>>> o = make_override("response_time_p95_ms", 500, now=0.0, subject="/search")
>>> effective_threshold("response_time_p95_ms", "GET /search", [o]).critical
1000.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import Field

from perf_mcp.core.alerts.specs import (
    DEFAULT_RESOLVE_RATIO,
    MAX_COOLDOWN_S,
    OVERALL,
    RULES,
    SYSTEM,
    FrozenModel,
    RuleSettings,
    RuleSpec,
    SampleKind,
    Scope,
    Severity,
    Unit,
    format_value,
    get_rule,
)
from perf_mcp.core.models import MAX_NAME_LENGTH, InvalidInputError

_ENDPOINT_SUBJECT = re.compile(r"^(?:[A-Z]{1,16} )?/")


class Threshold(FrozenModel):
    """The effective levels of one rule for one subject, as ``evaluate()`` uses them."""

    rule: str
    unit: Unit
    warning: float
    critical: float
    cooldown_s: float
    min_samples: int
    resolve_ratio: float = DEFAULT_RESOLVE_RATIO

    def level(self, severity: Severity) -> float:
        """The level of ``severity``."""
        return self.warning if severity == "warning" else self.critical

    def severity_of(self, value: float) -> Severity | None:
        """The severity a value above a level has, or None when it is at or below warning."""
        if value > self.critical:
            return "critical"
        if value > self.warning:
            return "warning"
        return None


class ThresholdOverride(FrozenModel):
    """A stored change to a rule's levels: for every subject (``subject=None``) or for one."""

    rule: str
    subject: str | None = None
    warning: float | None = None
    critical: float | None = None
    cooldown_s: float | None = None
    updated_at: float
    changed_by: str | None = Field(
        default=None, description="Who made the last change: the token and the client's name."
    )


class ThresholdInfo(FrozenModel):
    """One row of ``list_thresholds``: the default, the effective levels and the overrides."""

    name: str
    description: str
    unit: Unit
    scopes: tuple[Scope, ...]
    default_warning: float
    default_critical: float
    warning: float
    critical: float
    cooldown_s: float
    min_samples: int
    sample_kind: SampleKind
    allowed_range: tuple[float, float]
    overridden: bool
    changed_by: str | None = Field(
        default=None, description="With overridden: who set the levels for every subject."
    )
    subject_overrides: list[ThresholdOverride]


def check_subject(spec: RuleSpec, subject: str | None) -> str | None:
    """Validate a subject for ``spec``: None means every subject the rule applies to."""
    if subject is None:
        return None
    subject = subject.strip()
    if not subject or len(subject) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"subject must be 1 to {MAX_NAME_LENGTH} characters")
    if "system" in spec.scopes:
        if subject != SYSTEM:
            raise InvalidInputError(f"{spec.name} applies to the whole system: omit the subject")
        return None
    if "endpoint" in spec.scopes and subject != OVERALL and not _ENDPOINT_SUBJECT.match(subject):
        raise InvalidInputError(
            f"subject for {spec.name} is {OVERALL!r}, an endpoint path like '/search', "
            f"or a method and path like 'GET /search'; got {subject!r}"
        )
    return subject


def check_value(spec: RuleSpec, value: float, severity: Severity = "warning") -> float:
    """Validate a level for ``spec``; out of range is an error saying the range."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{spec.name} needs a finite number, got {value!r}")
    if not spec.min_value <= value <= spec.max_value:
        hint = " (a fraction: 0.05 means 5%)" if spec.unit == "fraction" else ""
        raise InvalidInputError(
            f"{spec.name} {severity} must be between {format_value(spec.min_value, spec.unit)} and "
            f"{format_value(spec.max_value, spec.unit)}{hint}; got {value!r}"
        )
    return float(value)


def make_override(
    name: str,
    value: float | None,
    *,
    now: float,
    severity: Severity = "warning",
    subject: str | None = None,
    cooldown_s: float | None = None,
    existing: Iterable[ThresholdOverride] = (),
    changed_by: str | None = None,
) -> ThresholdOverride:
    """Validate a ``set_threshold`` call and return the override to store, noting who made
    it (``changed_by``).

    It merges with the existing override for the same rule and subject; ``value=None``
    changes only the cooldown. A warning above an explicitly set critical (or the reverse)
    is an error saying which to change first.
    """
    spec = get_rule(name)
    subject = check_subject(spec, subject)
    if severity not in ("warning", "critical"):
        raise InvalidInputError(f"severity must be 'warning' or 'critical', got {severity!r}")
    if value is None and cooldown_s is None:
        raise InvalidInputError("give a value, a cooldown_s, or both")
    if cooldown_s is not None and not 0 <= cooldown_s <= MAX_COOLDOWN_S:
        raise InvalidInputError(
            f"cooldown_s must be between 0 and {MAX_COOLDOWN_S:.0f} seconds, got {cooldown_s!r}"
        )
    existing = list(existing)
    prior = next((o for o in existing if o.rule == name and o.subject == subject), None)
    fields: dict[str, Any] = prior.model_dump() if prior else {"rule": name, "subject": subject}
    if value is not None:
        fields[severity] = check_value(spec, value, severity)
    if cooldown_s is not None:
        fields["cooldown_s"] = float(cooldown_s)
    fields["updated_at"], fields["changed_by"] = now, changed_by
    override = ThresholdOverride(**fields)
    others = [o for o in existing if not (o.rule == name and o.subject == subject)]
    warning, critical = _levels(spec, subject, [*others, override])
    if critical < warning:
        where = f" for {subject}" if subject else ""
        if severity == "critical":
            advice = "lower the warning level first"
        else:
            advice = "raise the critical level first (severity='critical')"
        raise InvalidInputError(
            f"{name}{where}: warning {format_value(warning, spec.unit)} would be above critical "
            f"{format_value(critical, spec.unit)}; {advice}"
        )
    return override


def effective_threshold(
    name: str,
    subject: str | None = None,
    overrides: Iterable[ThresholdOverride] = (),
    settings: RuleSettings | None = None,
) -> Threshold:
    """The levels that apply to ``subject``: its own override, then the rule-wide one, then
    the default. An endpoint subject "GET /x" also takes an override given as "/x".

    A warning changed without a critical keeps the default critical/warning ratio.
    """
    spec = get_rule(name)
    settings = settings or RuleSettings()
    overrides = list(overrides)
    warning, critical = _levels(spec, subject, overrides)
    cooldown = next(
        (
            o.cooldown_s
            for o in _applicable(spec.name, subject, overrides)
            if o.cooldown_s is not None
        ),
        settings.cooldown_s,
    )
    return Threshold(
        rule=name,
        unit=spec.unit,
        warning=warning,
        critical=max(critical, warning),
        cooldown_s=cooldown,
        min_samples=settings.min_samples(spec.sample_kind),
        resolve_ratio=settings.resolve_ratio,
    )


def threshold_table(
    overrides: Iterable[ThresholdOverride] = (), settings: RuleSettings | None = None
) -> list[ThresholdInfo]:
    """Every rule with its default and effective levels, for ``list_thresholds``."""
    overrides = list(overrides)
    rows = []
    for spec in RULES.values():
        effective = effective_threshold(spec.name, None, overrides, settings)
        mine = [o for o in overrides if o.rule == spec.name]
        rows.append(
            ThresholdInfo(
                name=spec.name,
                description=spec.description,
                unit=spec.unit,
                scopes=spec.scopes,
                default_warning=spec.warning,
                default_critical=spec.critical,
                warning=effective.warning,
                critical=effective.critical,
                cooldown_s=effective.cooldown_s,
                min_samples=effective.min_samples,
                sample_kind=spec.sample_kind,
                allowed_range=(spec.min_value, spec.max_value),
                overridden=any(o.subject is None for o in mine),
                changed_by=next((o.changed_by for o in mine if o.subject is None), None),
                subject_overrides=sorted(
                    (o for o in mine if o.subject is not None), key=lambda o: o.subject or ""
                ),
            )
        )
    return rows


def _applicable(
    rule: str, subject: str | None, overrides: Sequence[ThresholdOverride]
) -> list[ThresholdOverride]:
    """Overrides for ``subject``, most specific first: exact, path-only, rule-wide."""
    keys: list[str | None] = []
    if subject is not None and subject not in (OVERALL, SYSTEM):
        keys.append(subject)
        method, _, path = subject.partition(" ")
        if path.startswith("/") and method.isupper():
            keys.append(path)
    keys.append(None)
    mine = {o.subject: o for o in overrides if o.rule == rule}
    if subject == OVERALL and OVERALL in mine:
        keys.insert(0, OVERALL)
    return [mine[k] for k in keys if k in mine]


def _levels(
    spec: RuleSpec, subject: str | None, overrides: Sequence[ThresholdOverride]
) -> tuple[float, float]:
    """Effective (warning, critical) before clamping critical up to warning."""
    applicable = _applicable(spec.name, subject, overrides)
    warning = next((o.warning for o in applicable if o.warning is not None), spec.warning)
    explicit = next((o.critical for o in applicable if o.critical is not None), None)
    if explicit is not None:
        return warning, explicit
    if warning == spec.warning:
        return warning, spec.critical
    return warning, min(warning * spec.critical_ratio, spec.max_value)
