"""A person confirms a threshold change: MCP elicitation, where the client offers it.

``PERF_MCP_CONFIRM_THRESHOLDS`` says when: "ask" (the default) asks every client that
declared form elicitation and lets the others change thresholds as before; "require" also
refuses a change from a client that cannot ask its user; "off" never asks::

    refused = await confirmation_refused(ctx, "ask", "Set the warning level of ... to 900 ms?")
    if refused:
        raise ToolError(refused)
"""

from __future__ import annotations

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from perf_mcp.config import ConfirmPolicy


class Confirmation(BaseModel):
    """The form the client shows its user: one checkbox, ticked."""

    confirm: bool = Field(default=True, description="Make this change.")


async def confirmation_refused(
    ctx: Context | None, policy: ConfirmPolicy, question: str
) -> str | None:
    """Why the change must not be made (None: it may), asking the client's user if it can."""
    if policy == "off":
        return None
    if ctx is None or not can_ask(ctx):
        if policy == "ask":
            return None
        return (
            "not changed: this server needs a person to confirm each threshold change "
            "(PERF_MCP_CONFIRM_THRESHOLDS=require) and this client cannot ask one (it did not "
            "declare form elicitation); change it from a client that can ask its user"
        )
    try:
        answer = await ctx.elicit(question, Confirmation)
    except ValueError:  # accepted with content that is not the form's
        return "not changed: the confirmation did not answer the form"
    if answer.action == "accept" and answer.data.confirm:
        return None
    said = {"accept": "unticked", "decline": "declined", "cancel": "cancelled"}[answer.action]
    return f"not changed: the person asked {said} the change"


def can_ask(ctx: Context) -> bool:
    """Whether this request's client declared form elicitation and can be sent a request now."""
    session = ctx.session
    capabilities = session.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # An empty elicitation capability means form (the 2025-06-18 revision had no modes).
    form = elicitation is not None and (elicitation.form is not None or elicitation.url is None)
    return form and session.can_send_request
