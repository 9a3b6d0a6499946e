"""The alert state machine: one pure ``evaluate()`` step per rule and subject, and
``acknowledge()``.

No I/O and no clock: the caller passes ``now`` and the prior state, and gets back the new
state plus the transition events to log, store and send.

>>> from perf_mcp.core.alerts.thresholds import effective_threshold
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
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, NamedTuple

from pydantic import Field

from perf_mcp.core.alerts.specs import (
    AlertStatus,
    EventKind,
    FrozenModel,
    SampleKind,
    Severity,
    Unit,
    format_value,
    get_rule,
)
from perf_mcp.core.alerts.thresholds import Threshold
from perf_mcp.core.models import InvalidInputError


class AlertState(FrozenModel):
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


class AlertEvent(FrozenModel):
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


class Outcome(NamedTuple):
    """What ``evaluate()`` returns: the new state and the events of this step."""

    state: AlertState
    events: tuple[AlertEvent, ...] = ()


class AlertRecord(FrozenModel):
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


# ---------------------------------------------------------------- the state machine


def evaluate(
    threshold: Threshold,
    subject: str,
    value: float | None,
    samples: int,
    now: float,
    prior: AlertState | None,
) -> Outcome:
    """One evaluation step of one rule for one subject.

    ``value`` is the observed value over the window (None: no data), ``samples`` how many
    requests / runs / calls it rests on.
    """
    state = prior or AlertState(rule=threshold.rule, subject=subject)
    if value is None or not math.isfinite(value) or samples < threshold.min_samples:
        if state.firing and (value is None or samples <= 0):
            step = _Step(threshold, subject, now, samples, value)
            return step.resolve(state, "no data in the window")
        return Outcome(state)  # too little data to change anything
    if not state.firing and value <= threshold.warning:
        return Outcome(state)  # the common case, kept cheap: no copies, no events

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


def acknowledge(
    state: AlertState, now: float, until: float | None = None, by: str | None = None
) -> Outcome:
    """Silence repeats of a firing alert until it resolves, or until ``until`` (Unix seconds);
    ``by`` (who acknowledged) goes into the event's message, the alert history."""
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
        message=f"{state.rule} for {state.subject} acknowledged {span}"
        + (f" by {by}" if by else ""),
    )
    return Outcome(state=new, events=(event,))


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

    def fire(self, state: AlertState, severity: Severity) -> Outcome:
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

    def escalate(self, state: AlertState) -> Outcome:
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

    def deescalate(self, state: AlertState) -> Outcome:
        new = state.model_copy(
            update={"severity": "warning", "threshold": self.t.warning, "changed_at": self.now}
        )
        text = (
            f"fell to {self._v(self.value)}, below the critical threshold "
            f"{self._v(self.t.critical)} but above warning {self._v(self.t.warning)}"
        )
        return self._emit(new, "deescalated", False, text)

    def hold(self, state: AlertState) -> Outcome:
        if state.is_acknowledged(self.now) or not self.cooled_down(state):
            return Outcome(state)
        new = state.model_copy(update={"notified": True, "last_notified_at": self.now})
        since = self.now - (state.started_at if state.started_at is not None else self.now)
        assert state.severity is not None
        text = (
            f"is still {self._v(self.value)}, above the {state.severity} threshold "
            f"{self._v(self.t.level(state.severity))}, firing for {_duration(since)}"
        )
        return self._emit(new, "repeated", True, text)

    def resolve(self, state: AlertState, reason: str) -> Outcome:
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
        return Outcome(state=new, events=(event,))

    def _emit(self, state: AlertState, kind: EventKind, notify: bool, text: str) -> Outcome:
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
        return Outcome(state=state, events=(event,))

    def _v(self, value: float | None) -> str:
        return format_value(value, self.t.unit)


_SAMPLE_NOUN: Mapping[SampleKind, str] = {
    "requests": "requests",
    "runs": "runs",
    "calls": "calls",
    "samples": "",
}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
