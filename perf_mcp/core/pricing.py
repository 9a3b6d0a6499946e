"""What an agent run cost when it reported tokens but no cost: priced with ``genai-prices``.

The prices come from the table bundled with the installed ``genai-prices`` (never fetched at
run time), at the price in effect on the run's own date (UTC), which is recorded with the
estimate. ``input_tokens`` counts every input token, cache reads and writes included (the
OpenTelemetry GenAI convention; Anthropic's own ``input_tokens`` leaves them out, which
``perf_mcp.integrations.usage`` adds back): cache reads and writes are priced at the
provider's cache prices, the rest at its input price.

>>> estimate = estimate_cost("gpt-4o", "openai", 1_000, 500, 0, 0, 1_765_000_000.0)
>>> round(estimate.cost_usd, 6), estimate.price_date
(0.0075, '2025-12-06')
>>> estimate_cost("my-own-model", None, 1_000, 500, 0, 0, 1_765_000_000.0) is None
True
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any, NamedTuple

# Where a run's cost came from, as the accumulators count it.
REPORTED = 0  # the run reported a cost (above 0), or no tokens at all
ESTIMATED = 1  # priced here from its tokens
UNPRICED = 2  # tokens but no cost, and no price for its model: counted as 0
LOOKUPS_CACHED = 4096  # (model, provider) pairs and priced usages remembered


class Estimate(NamedTuple):
    """A run's estimated cost and the date whose prices gave it (ISO, UTC)."""

    cost_usd: float
    price_date: str


@functools.cache
def price_table() -> str:
    """Which price table estimates come from, e.g. ``"genai-prices 0.2.5"``."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


def estimate_cost(
    model: str | None,
    provider: str | None,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
    ts: float,
) -> Estimate | None:
    """The run's cost at its date's prices, or None when its model has no known price."""
    if not model or not (input_tokens or output_tokens):
        return None
    usage = (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
    return _priced(model, provider, usage, int(ts // 86_400))  # a day: many runs, one lookup


@functools.lru_cache(maxsize=LOOKUPS_CACHED)
def _priced(
    model: str, provider: str | None, usage: tuple[int, int, int, int], day: int
) -> Estimate | None:
    """The cost in USD on ``day`` (days since 1970, UTC); a provider genai-prices does not
    price this model for falls back to the model's own provider (an OpenAI model served by
    Azure is priced as OpenAI prices it)."""
    model = model.lower()
    provider = None if provider is None else provider.lower().replace("_", "-")  # x_ai: x-ai
    if not _known(model, provider):
        return None
    import genai_prices

    input_tokens, output_tokens, cache_read, cache_write = usage
    when = datetime.fromtimestamp(day * 86_400, UTC)
    tokens = genai_prices.Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
    for provider_id in dict.fromkeys((provider, None)):
        try:
            price = genai_prices.calc_price(
                tokens, model, provider_id=provider_id, genai_request_timestamp=when
            )
        except (LookupError, ValueError):
            continue
        return Estimate(float(price.total_price), when.date().isoformat())
    return None


@functools.lru_cache(maxsize=LOOKUPS_CACHED)
def _known(model: str, provider: str | None) -> bool:
    """Whether genai-prices has a price for ``model`` (looked up once: a miss scans the table)."""
    import genai_prices

    probe: Any = genai_prices.Usage(input_tokens=1)
    for provider_id in dict.fromkeys((provider, None)):
        try:
            genai_prices.calc_price(probe, model, provider_id=provider_id)
        except (LookupError, ValueError):
            continue
        return True
    return False
