"""Thresholds, alert rules and the pure ``evaluate()`` state machine.

No I/O and no clock: the caller passes ``now`` and the prior state, and gets back the new
state plus the transition events to log, store and send.

>>> t = effective_threshold("error_rate_5min", "GET /search")
>>> first = evaluate(t, "GET /search", value=0.5, samples=40, now=0.0, prior=None)
>>> [(e.kind, e.severity) for e in first.events]
[('fired', 'critical')]
>>> later = evaluate(t, "GET /search", value=0.01, samples=40, now=10.0, prior=first.state)
>>> [e.kind for e in later.events]
['resolved']

Lifecycle of one (rule, subject):

- **fire** when the value is above the warning (or critical) level and at least
  ``min_samples`` requests / runs / calls are in the window. A fire within the cooldown of the
  last notification for the same rule and subject is recorded but does not notify.
- **escalate** warning -> critical at once (always notifies; clears an acknowledgement);
  **de-escalate** critical -> warning only once the value is at or below
  ``resolve_ratio`` x critical.
- **repeat** a notification while still firing, no sooner than ``cooldown_s`` after the last,
  unless the alert is acknowledged (until resolved, or until a given time).
- **resolve** once the value is at or below ``resolve_ratio`` x warning (hysteresis: a value
  hovering at the line does not flap), or when the window holds no data at all. With fewer
  than ``min_samples`` but some data, a firing alert holds: there is no evidence either way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from perf_mcp.core.models import MAX_NAME_LENGTH, InvalidInputError

Severity = Literal["warning", "critical"]
Scope = Literal["overall", "endpoint", "agent", "tool", "system"]
Unit = Literal["ms", "fraction", "percent"]
AlertStatus = Literal["firing", "acknowledged", "resolved"]
SampleKind = Literal["requests", "runs", "calls", "samples"]
EventKind = Literal["fired", "escalated", "deescalated", "repeated", "resolved", "acknowledged"]

OVERALL = "overall"
SYSTEM = "system"
DEFAULT_COOLDOWN_S = 300.0
DEFAULT_RESOLVE_RATIO = 0.9
MAX_COOLDOWN_S = 7 * 86400.0
MAX_LISTED_SUBJECTS = 10
_ENDPOINT_SUBJECT = re.compile(r"^(?:[A-Z]{1,16} )?/")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Frozen):
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
    )
}


class RuleSettings(_Frozen):
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


class Threshold(_Frozen):
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


class ThresholdOverride(_Frozen):
    """A stored change to a rule's levels: for every subject (``subject=None``) or for one."""

    rule: str
    subject: str | None = None
    warning: float | None = None
    critical: float | None = None
    cooldown_s: float | None = None
    updated_at: float


class AlertState(_Frozen):
    """Where one (rule, subject) stands; persisted so alerts survive a restart."""

    rule: str
    subject: str
    status: Literal["ok", "firing"] = "ok"
    severity: Severity | None = None
    value: float | None = None
    threshold: float | None = Field(default=None, description="Level of the current severity.")
    samples: int = 0
    started_at: float | None = Field(default=None, description="When this episode fired.")
    changed_at: float | None = Field(default=None, description="Last status or severity change.")
    last_notified_at: float | None = Field(
        default=None, description="Kept after resolving, so a quick re-fire honours the cooldown."
    )
    notified: bool = Field(default=False, description="This episode has notified someone.")
    acknowledged: bool = False
    acknowledged_until: float | None = Field(
        default=None, description="With acknowledged: silence ends then; None = until resolved."
    )

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    def is_acknowledged(self, now: float) -> bool:
        """True while an acknowledgement silences repeats."""
        return self.acknowledged and (
            self.acknowledged_until is None or now < self.acknowledged_until
        )


class AlertEvent(_Frozen):
    """One transition (or reminder) of one (rule, subject)."""

    kind: EventKind
    rule: str
    subject: str
    severity: Severity | None = Field(description="Severity after the event; resolved: before.")
    value: float | None
    threshold: float | None
    unit: Unit
    samples: int
    at: float = Field(description="Unix seconds.")
    notify: bool = Field(
        description="False when a cooldown or acknowledgement keeps people from being told."
    )
    message: str


class Evaluation(NamedTuple):
    """What ``evaluate()`` returns: the new state and the events of this step."""

    state: AlertState
    events: tuple[AlertEvent, ...] = ()


class ThresholdInfo(_Frozen):
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
    subject_overrides: list[ThresholdOverride]


class ReplaySummary(_Frozen):
    """How a threshold would have behaved over a stored history (``set_threshold`` dry run)."""

    evaluations: int
    fired: int = Field(description="Episodes that started.")
    escalations: int
    notifications: int
    firing_s: float = Field(description="Time spent firing, between evaluation points.")
    still_firing: bool
    first_at: float | None = Field(default=None, description="The oldest point replayed.")
    last_at: float | None = Field(default=None, description="The newest point replayed.")
    subjects: int = Field(default=1, description="Subjects replayed (endpoints, agents, ...).")
    fired_subjects: list[str] = Field(
        default=[], description=f"Up to {MAX_LISTED_SUBJECTS} subjects that fired, most first."
    )


# ---------------------------------------------------------------- rules and overrides


def get_rule(name: str) -> RuleSpec:
    """The rule called ``name``; an unknown name is an error listing the allowed ones."""
    try:
        return RULES[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown threshold {name!r}; allowed: {', '.join(RULES)}"
        ) from None


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
            f"{spec.name} {severity} must be between {_fmt(spec.min_value, spec.unit)} and "
            f"{_fmt(spec.max_value, spec.unit)}{hint}; got {value!r}"
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
) -> ThresholdOverride:
    """Validate a ``set_threshold`` call and return the override to store.

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
    fields["updated_at"] = now
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
            f"{name}{where}: warning {_fmt(warning, spec.unit)} would be above critical "
            f"{_fmt(critical, spec.unit)}; {advice}"
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


# ---------------------------------------------------------------- the state machine


def evaluate(
    threshold: Threshold,
    subject: str,
    value: float | None,
    samples: int,
    now: float,
    prior: AlertState | None,
) -> Evaluation:
    """One evaluation step of one rule for one subject.

    ``value`` is the observed value over the window (None: no data), ``samples`` how many
    requests / runs / calls it rests on.
    """
    state = prior or AlertState(rule=threshold.rule, subject=subject)
    if value is None or not math.isfinite(value) or samples < threshold.min_samples:
        if state.firing and (value is None or samples <= 0):
            step = _Step(threshold, subject, now, samples, value)
            return step.resolve(state, "no data in the window")
        return Evaluation(state)  # too little data to change anything
    if not state.firing and value <= threshold.warning:
        return Evaluation(state)  # the common case, kept cheap: no copies, no events

    step = _Step(threshold, subject, now, samples, value)
    observed = step.observed(state)
    severity = threshold.severity_of(value)
    if not state.firing:
        assert severity is not None  # value is above warning
        return step.fire(observed, severity)

    ratio = threshold.resolve_ratio
    if value <= threshold.warning * ratio:
        return step.resolve(state, "")
    if state.severity == "warning" and severity == "critical":
        return step.escalate(observed)
    if state.severity == "critical" and value <= threshold.critical * ratio:
        return step.deescalate(observed)
    return step.hold(observed)


def acknowledge(state: AlertState, now: float, until: float | None = None) -> Evaluation:
    """Silence repeats of a firing alert until it resolves, or until ``until`` (Unix seconds)."""
    if not state.firing:
        raise InvalidInputError(
            f"no firing alert for {state.rule} on {state.subject}: nothing to acknowledge"
        )
    if until is not None and not (math.isfinite(until) and until > now):
        raise InvalidInputError(
            f"until must be a time in the future (Unix seconds, now is {now:.0f}), got {until!r}"
        )
    new = state.model_copy(update={"acknowledged": True, "acknowledged_until": until})
    span = f"until {_iso(until)}" if until is not None else "until it resolves"
    event = AlertEvent(
        kind="acknowledged",
        rule=state.rule,
        subject=state.subject,
        severity=state.severity,
        value=state.value,
        threshold=state.threshold,
        unit=get_rule(state.rule).unit,
        samples=state.samples,
        at=now,
        notify=False,
        message=f"{state.rule} for {state.subject} acknowledged {span}",
    )
    return Evaluation(state=new, events=(event,))


def replay(
    threshold: Threshold, subject: str, points: Iterable[tuple[float, float | None, int]]
) -> ReplaySummary:
    """Run ``evaluate()`` over (time, value, samples) points in time order: a dry run."""
    state: AlertState | None = None
    evaluations = fired = escalations = notifications = 0
    firing_s = 0.0
    first_at: float | None = None
    last_at: float | None = None
    for at, value, samples in points:
        first_at = at if first_at is None else first_at
        if state is not None and state.firing and last_at is not None:
            firing_s += max(0.0, at - last_at)
        result = evaluate(threshold, subject, value, samples, at, state)
        state, last_at = result.state, at
        evaluations += 1
        for event in result.events:
            fired += event.kind == "fired"
            escalations += event.kind == "escalated"
            notifications += event.notify
    return ReplaySummary(
        evaluations=evaluations,
        fired=fired,
        escalations=escalations,
        notifications=notifications,
        firing_s=firing_s,
        still_firing=bool(state and state.firing),
        first_at=first_at,
        last_at=last_at,
        fired_subjects=[subject] if fired else [],
    )


def combine_replays(by_subject: Mapping[str, ReplaySummary]) -> ReplaySummary:
    """One summary for a rule replayed subject by subject: counts add up.

    >>> quiet = ReplaySummary(evaluations=3, fired=0, escalations=0, notifications=0,
    ...     firing_s=0, still_firing=False, first_at=60, last_at=180)
    >>> busy = quiet.model_copy(update={"fired": 2, "notifications": 2, "firing_s": 60})
    >>> both = combine_replays({"/a": quiet, "/b": busy})
    >>> (both.evaluations, both.fired, both.subjects, both.fired_subjects)
    (6, 2, 2, ['/b'])
    """
    parts = list(by_subject.values())
    firsts = [p.first_at for p in parts if p.first_at is not None]
    lasts = [p.last_at for p in parts if p.last_at is not None]
    fired = sorted((p.fired, s) for s, p in by_subject.items() if p.fired)
    return ReplaySummary(
        evaluations=sum(p.evaluations for p in parts),
        fired=sum(p.fired for p in parts),
        escalations=sum(p.escalations for p in parts),
        notifications=sum(p.notifications for p in parts),
        firing_s=sum(p.firing_s for p in parts),
        still_firing=any(p.still_firing for p in parts),
        first_at=min(firsts, default=None),
        last_at=max(lasts, default=None),
        subjects=len(parts),
        fired_subjects=[s for _, s in reversed(fired)][:MAX_LISTED_SUBJECTS],
    )


class _Step:
    """The transitions of one evaluation step, sharing its inputs."""

    def __init__(
        self, threshold: Threshold, subject: str, now: float, samples: int, value: float | None
    ) -> None:
        self.t = threshold
        self.subject = subject
        self.now = now
        self.samples = samples
        self.value = value

    def observed(self, state: AlertState) -> AlertState:
        return state.model_copy(update={"value": self.value, "samples": self.samples})

    def cooled_down(self, state: AlertState) -> bool:
        last = state.last_notified_at
        return last is None or self.now - last >= self.t.cooldown_s

    def fire(self, state: AlertState, severity: Severity) -> Evaluation:
        notify = self.cooled_down(state)
        level = self.t.level(severity)
        new = state.model_copy(
            update={
                "status": "firing",
                "severity": severity,
                "threshold": level,
                "started_at": self.now,
                "changed_at": self.now,
                "notified": notify,
                "last_notified_at": self.now if notify else state.last_notified_at,
                "acknowledged": False,
                "acknowledged_until": None,
            }
        )
        text = f"is {self._v(self.value)}, above the {severity} threshold {self._v(level)}"
        return self._emit(new, "fired", notify, text)

    def escalate(self, state: AlertState) -> Evaluation:
        level = self.t.critical
        new = state.model_copy(
            update={
                "severity": "critical",
                "threshold": level,
                "changed_at": self.now,
                "notified": True,
                "last_notified_at": self.now,
                "acknowledged": False,
                "acknowledged_until": None,
            }
        )
        text = f"rose to {self._v(self.value)}, above the critical threshold {self._v(level)}"
        return self._emit(new, "escalated", True, text)

    def deescalate(self, state: AlertState) -> Evaluation:
        new = state.model_copy(
            update={"severity": "warning", "threshold": self.t.warning, "changed_at": self.now}
        )
        text = (
            f"fell to {self._v(self.value)}, below the critical threshold "
            f"{self._v(self.t.critical)} but above warning {self._v(self.t.warning)}"
        )
        return self._emit(new, "deescalated", False, text)

    def hold(self, state: AlertState) -> Evaluation:
        if state.is_acknowledged(self.now) or not self.cooled_down(state):
            return Evaluation(state)
        new = state.model_copy(update={"notified": True, "last_notified_at": self.now})
        since = self.now - (state.started_at if state.started_at is not None else self.now)
        assert state.severity is not None
        text = (
            f"is still {self._v(self.value)}, above the {state.severity} threshold "
            f"{self._v(self.t.level(state.severity))}, firing for {_duration(since)}"
        )
        return self._emit(new, "repeated", True, text)

    def resolve(self, state: AlertState, reason: str) -> Evaluation:
        new = state.model_copy(
            update={
                "status": "ok",
                "severity": None,
                "threshold": None,
                "value": self.value,
                "samples": self.samples,
                "started_at": None,
                "changed_at": self.now,
                "notified": False,
                "acknowledged": False,
                "acknowledged_until": None,
            }
        )
        if not reason:
            ratio = self.t.resolve_ratio
            reason = (
                f"back to {self._v(self.value)}, at or below {self._v(self.t.warning * ratio)} "
                f"({ratio:.0%} of the warning threshold {self._v(self.t.warning)})"
            )
        event = AlertEvent(
            kind="resolved",
            rule=self.t.rule,
            subject=self.subject,
            severity=state.severity,
            value=self.value,
            threshold=state.threshold,
            unit=self.t.unit,
            samples=self.samples,
            at=self.now,
            notify=state.notified,
            message=f"{self.t.rule} for {self.subject} resolved: {reason}",
        )
        return Evaluation(state=new, events=(event,))

    def _emit(self, state: AlertState, kind: EventKind, notify: bool, text: str) -> Evaluation:
        noun = _SAMPLE_NOUN[get_rule(self.t.rule).sample_kind]
        detail = f" ({self.samples} {noun} in the window)" if noun else ""
        event = AlertEvent(
            kind=kind,
            rule=self.t.rule,
            subject=self.subject,
            severity=state.severity,
            value=self.value,
            threshold=state.threshold,
            unit=self.t.unit,
            samples=self.samples,
            at=self.now,
            notify=notify,
            message=f"{self.t.rule} for {self.subject} {text}{detail}",
        )
        return Evaluation(state=state, events=(event,))

    def _v(self, value: float | None) -> str:
        return _fmt(value, self.t.unit)


_SAMPLE_NOUN: Mapping[SampleKind, str] = {
    "requests": "requests",
    "runs": "runs",
    "calls": "calls",
    "samples": "",
}


def _fmt(value: float | None, unit: Unit) -> str:
    """A value as a person reads it: 1520 ms, 12.5%, 91.0%."""
    if value is None:
        return "no data"
    if unit == "ms":
        return f"{value:.0f} ms" if value >= 10 else f"{value:.3g} ms"
    if unit == "fraction":
        return f"{value * 100:.3g}%"
    return f"{value:.1f}%"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


class AlertRecord(_Frozen):
    """One alert: an episode of one rule firing for one subject, from fired to resolved."""

    id: int = Field(description="0 until the store assigns one.")
    threshold: str = Field(description="The rule's name, e.g. response_time_p95_ms.")
    subject: str = Field(description='"GET /search", an agent, a tool, "overall" or "system".')
    severity: Severity
    state: AlertStatus
    value: float | None = Field(description="The latest observed value, in the rule's unit.")
    limit: float | None = Field(description="The level of the current severity.")
    unit: Unit
    message: str
    started_at: float = Field(description="Unix seconds.")
    updated_at: float
    resolved_at: float | None = None
    acknowledged_at: float | None = None
    acknowledged_until: float | None = Field(
        default=None, description="With acknowledged_at: silence ends then; None = until resolved."
    )
