"""An agent made with pydantic-ai, instrumented only by logfire (no perf-mcp code).

logfire sends its spans to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (and nowhere else). The agent
runs on pydantic-ai's offline TestModel, which calls every tool once; the last runs' tool
fails, so those runs fail (after their first model request, whose tokens were spent). Prints
what perf-mcp should answer: runs, failures, tokens and tool calls.

    python -m tests.e2e.emitters.pydantic_ai_agent RUNS FAILING [INSTRUMENTATION_VERSION]
"""

from __future__ import annotations

import json
import sys

import logfire
from pydantic_ai import Agent
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage

logfire.configure(send_to_logfire=False, service_name="support", console=False, metrics=False)
# An instrumentation version as a third argument: 2 names spans as older releases did
# ("agent run", "running tool").
logfire.instrument_pydantic_ai(**({"version": int(sys.argv[3])} if len(sys.argv) > 3 else {}))

agent = Agent(TestModel(), name="support-bot")
fail = False


@agent.tool_plain
def lookup_order(order_id: int) -> str:
    """Where an order is."""
    if fail:
        raise RuntimeError("order service down")
    return f"order {order_id} shipped"


def main(runs: int, failing: int) -> None:
    global fail
    totals = {"runs": 0, "failures": 0, "input_tokens": 0, "output_tokens": 0, "tool_calls": 0}
    for i in range(runs):
        fail = i >= runs - failing
        totals["runs"] += 1
        totals["tool_calls"] += 1
        usage = RunUsage()  # counts the model requests of a run that fails too
        try:
            agent.run_sync("where is my order?", usage=usage)
        except RuntimeError:
            totals["failures"] += 1
        totals["input_tokens"] += usage.input_tokens
        totals["output_tokens"] += usage.output_tokens
    logfire.force_flush()
    print(json.dumps(totals))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
