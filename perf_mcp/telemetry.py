"""Logfire for the server: configured when it is first needed, so start-up does not pay for it.

With a ``LOGFIRE_TOKEN`` the CLI configures Logfire at once (the MCP SDK's request spans are
sent from the first request); without one, importing Logfire (about 0.2 s) waits for the first
alert transition to log, and nothing is sent. Never to stdout: that is the stdio protocol's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logfire

# configure()'s record_spans and options, waiting for the first use
_pending: tuple[bool, dict[str, Any]] | None = None


def configure(*, now: bool, record_spans: bool = True, **options: Any) -> None:
    """Configure Logfire with ``options``: at once, or when ``logfire_instance`` is first asked.

    ``record_spans=False`` records no span at all (head sampling 0): for when nothing would
    receive them.
    """
    global _pending
    _pending = record_spans, options
    if now:
        logfire_instance()


def logfire_instance() -> logfire.Logfire:
    """The default Logfire instance, configured as ``configure`` asked (if it did)."""
    global _pending
    import logfire

    if _pending is not None:
        (record_spans, options), _pending = _pending, None
        if not record_spans:
            options["sampling"] = logfire.SamplingOptions(head=0.0)
        logfire.configure(**options)
    return logfire.DEFAULT_LOGFIRE_INSTANCE
