"""Which tokens `perf-mcp serve` uses, and where it agrees to listen."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_mcp.cli.access import AccessError, bind_refusal, new_token, tokens_of
from perf_mcp.config import Settings

FULL = "a-full-token-0123456789"
READ = "a-read-token-0123456789"


def test_tokens_come_from_flags_variables_or_files(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"  {FULL}\n")
    assert tokens_of(Settings(token_file=str(token_file), read_token=READ)) == (FULL, READ)
    assert tokens_of(Settings()) == (None, None)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"token": "short"}, "--token: a token must be at least 16"),
        ({"read_token": "with a space in it here"}, "--read-token: a token must be"),
        ({"token": FULL, "read_token": FULL}, "are the same"),
        ({"token": FULL, "token_file": "/x"}, "give --token or --token-file, not both"),
        ({"token_file": "/no/such/file"}, "--token-file: cannot read /no/such/file"),
    ],
)
def test_unusable_tokens_are_refused_with_the_flag_named(given: dict[str, str], says: str) -> None:
    with pytest.raises(AccessError, match=says):
        tokens_of(Settings(**given))  # type: ignore[arg-type]


def test_a_new_token_is_long_and_new_each_time() -> None:
    first, second = new_token(), new_token()
    assert len(first) >= 43
    assert first != second
    assert tokens_of(Settings(token=first)) == (first, None)


def test_only_loopback_serves_without_a_full_token() -> None:
    assert bind_refusal("127.0.0.1", None, None) is None
    assert bind_refusal("::1", None, READ) is None
    assert bind_refusal("0.0.0.0", FULL, None) is None
    assert "--token" in (bind_refusal("0.0.0.0", None, None) or "")
    assert "only a read token" in (bind_refusal("10.0.0.2", None, READ) or "")


def test_a_listed_host_behind_a_proxy_needs_a_token_even_on_loopback() -> None:
    refusal = bind_refusal("127.0.0.1", None, None, ["perf.example.com"]) or ""
    assert "Host perf.example.com" in refusal
    assert "--token" in refusal
    assert bind_refusal("127.0.0.1", FULL, None, ["perf.example.com"]) is None


def test_allow_lists_read_comma_separated_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_MCP_ALLOWED_HOSTS", "perf.example.com, perf.example.com:*")
    monkeypatch.setenv("PERF_MCP_ALLOWED_ORIGINS", "https://dash.example.com")
    settings = Settings()
    assert settings.allowed_hosts == ["perf.example.com", "perf.example.com:*"]
    assert settings.allowed_origins == ["https://dash.example.com"]
