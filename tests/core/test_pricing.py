"""Estimated costs against prices worked out by hand from the providers' price lists.

Prices per million tokens (input / output / cache read / cache write), as the bundled
genai-prices table has them: OpenAI gpt-4o 2.50 / 10 / 1.25 / -, Anthropic claude-sonnet-4-5
3 / 15 / 0.30 / 3.75 (5-minute writes), Google gemini-2.5-flash 0.30 / 2.50 / 0.03 / -.
``input_tokens`` include the cached ones, which are priced at the cache prices instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from perf_mcp.core.pricing import Estimate, estimate_cost, price_table

DEC_2025 = datetime(2025, 12, 6, 12, tzinfo=UTC).timestamp()
M = 1e-6  # one token at $1 per million tokens


@pytest.mark.parametrize(
    ("model", "provider", "tokens", "by_hand"),
    [
        ("gpt-4o", "openai", (1_000, 500, 0, 0), 1_000 * 2.5 * M + 500 * 10 * M),
        (  # 400 of the 1,000 input tokens read from the cache at half price
            "gpt-4o",
            "openai",
            (1_000, 500, 400, 0),
            600 * 2.5 * M + 400 * 1.25 * M + 500 * 10 * M,
        ),
        ("claude-sonnet-4-5", "anthropic", (2_000, 300, 0, 0), 2_000 * 3 * M + 300 * 15 * M),
        (  # cache reads at a tenth of the input price, cache writes at 1.25 times it
            "claude-sonnet-4-5",
            "anthropic",
            (1_000, 500, 200, 300),
            500 * 3 * M + 200 * 0.3 * M + 300 * 3.75 * M + 500 * 15 * M,
        ),
        ("gemini-2.5-flash", "gcp.gemini", (10_000, 800, 0, 0), 10_000 * 0.3 * M + 800 * 2.5 * M),
        (
            "gemini-2.5-flash",
            "gcp.vertex_ai",
            (10_000, 800, 6_000, 0),
            4_000 * 0.3 * M + 6_000 * 0.03 * M + 800 * 2.5 * M,
        ),
    ],
)
def test_estimates_match_prices_worked_out_by_hand(
    model: str, provider: str, tokens: tuple[int, int, int, int], by_hand: float
) -> None:
    estimate = estimate_cost(model, provider, *tokens, DEC_2025)
    assert estimate is not None
    assert estimate.cost_usd == pytest.approx(by_hand, rel=1e-9)
    assert estimate.price_date == "2025-12-06"


def test_cached_tokens_cost_less_than_the_same_tokens_uncached() -> None:
    uncached = estimate_cost("claude-sonnet-4-5", "anthropic", 10_000, 0, 0, 0, DEC_2025)
    cached = estimate_cost("claude-sonnet-4-5", "anthropic", 10_000, 0, 9_000, 0, DEC_2025)
    assert uncached is not None
    assert cached is not None
    assert cached.cost_usd == pytest.approx(1_000 * 3 * M + 9_000 * 0.3 * M)
    assert cached.cost_usd < uncached.cost_usd / 5


def test_a_run_is_priced_at_the_prices_of_its_own_date() -> None:
    """OpenAI cut o3's prices from $10 / $40 to $2 / $8 per million tokens on 2025-06-10."""
    before = datetime(2025, 6, 1, tzinfo=UTC).timestamp()
    after = datetime(2025, 7, 1, tzinfo=UTC).timestamp()
    assert estimate_cost("o3", "openai", 1_000_000, 0, 0, 0, before) == Estimate(10.0, "2025-06-01")
    assert estimate_cost("o3", "openai", 1_000_000, 0, 0, 0, after) == Estimate(2.0, "2025-07-01")


def test_provider_names_of_the_opentelemetry_conventions_are_understood() -> None:
    by_id = estimate_cost("grok-3", "x-ai", 1_000, 100, 0, 0, DEC_2025)
    assert by_id is not None
    assert estimate_cost("grok-3", "x_ai", 1_000, 100, 0, 0, DEC_2025) == by_id
    # A model its provider's table lacks is priced as its maker prices it.
    assert estimate_cost("gpt-4o", "azure.ai.openai", 1_000, 500, 0, 0, DEC_2025) == (
        estimate_cost("gpt-4o", "openai", 1_000, 500, 0, 0, DEC_2025)
    )


def test_unknown_models_and_runs_without_tokens_are_not_priced() -> None:
    assert estimate_cost("my-finetune-v7", "acme", 1_000, 100, 0, 0, DEC_2025) is None
    assert estimate_cost(None, "openai", 1_000, 100, 0, 0, DEC_2025) is None
    assert estimate_cost("gpt-4o", "openai", 0, 0, 0, 0, DEC_2025) is None


def test_the_price_table_names_the_installed_genai_prices() -> None:
    from importlib.metadata import version

    assert price_table() == f"genai-prices {version('genai-prices')}"
