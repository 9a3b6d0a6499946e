"""A person confirms a threshold change: MCP elicitation, where the client offers it.

``PERF_MCP_CONFIRM_THRESHOLDS`` says when: "ask" (the default) asks every client that
declared form elicitation and lets the others change thresholds as before; "require" also
refuses a change from a client that cannot ask its user; "off" never asks.

``confirm_change`` is a resolver of the SDK (``Resolve``): it runs before ``set_threshold``
and returns the question, which the SDK asks mid-call (protocol 2025-11-25) or through an
``input_required`` round (2026-07-28), or a ticked box when no one is to be asked::

    confirmation: Annotated[ElicitationResult[Confirmation], Resolve(confirm_change)]
"""

from __future__ import annotations

from typing import Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit
from pydantic import BaseModel, Field

from perf_mcp.core.alerts import Severity, format_value
from perf_mcp.server.auth import require_write

CANNOT_ASK = (
    "not changed: this server needs a person to confirm each threshold change "
    "(PERF_MCP_CONFIRM_THRESHOLDS=require) and this client cannot ask one (it did not declare "
    "form elicitation); change it from a client that can ask its user"
)


class Confirmation(BaseModel):
    """The form the client shows its user: one checkbox, ticked."""

    confirm: bool = Field(default=True, description="Make this change.")


def confirm_change(
    name: str | None,
    value: float | None,
    severity: Severity,
    subject: str | None,
    cooldown_s: float | None,
    dry_run: bool,
    ctx: Context,
) -> Elicit[Confirmation] | Confirmation:
    """The question for the client's user, or a ticked box when no one is to be asked."""
    runtime: Any = ctx.request_context.lifespan_context
    policy = runtime.settings.confirm_thresholds
    if name is None or dry_run or policy == "off":  # None: refused, set_threshold says why
        return Confirmation()
    require_write("set_threshold")  # a read token is refused before anyone is asked
    try:
        now = runtime.alert_manager.threshold(name, subject)
    except ValueError:
        return Confirmation()  # set_threshold itself says what is wrong
    changes = []
    if value is not None:
        level = format_value(now.level(severity), now.unit)
        changes.append(f"{severity} from {level} to {format_value(value, now.unit)}")
    if cooldown_s is not None:
        changes.append(f"cooldown from {now.cooldown_s:g} s to {cooldown_s:g} s")
    if not changes:
        return Confirmation()  # nothing to change: set_threshold says so
    if not can_ask(ctx):
        if policy == "ask":
            return Confirmation()
        raise ToolError(CANNOT_ASK)
    whom = f"for {subject[:80]!r}" if subject else "for every subject"
    return Elicit(f"perf-mcp: change {name} {whom}: {' and '.join(changes)}?", Confirmation)


def refusal(answer: ElicitationResult[Confirmation]) -> str | None:
    """Why the change must not be made (None: the box was ticked)."""
    if isinstance(answer, AcceptedElicitation):
        return None if answer.data.confirm else "not changed: the person asked unticked the change"
    said = "declined" if answer.action == "decline" else "cancelled"
    return f"not changed: the person asked {said} the change"


def can_ask(ctx: Context) -> bool:
    """Whether this request's client declared form elicitation."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # An empty elicitation capability means form (the 2025-06-18 revision had no modes).
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)
