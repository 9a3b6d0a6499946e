"""The Host and Origin headers the HTTP server answers by default."""

from __future__ import annotations

from perf_mcp.server.http import bound_names, transport_security


def test_a_loopback_bind_answers_its_loopback_names_on_its_port_only() -> None:
    assert bound_names("127.0.0.1", 8765) == ["127.0.0.1:8765", "localhost:8765", "[::1]:8765"]
    security = transport_security("localhost", 8765)
    assert "http://localhost:8765" in security.allowed_origins
    assert not any(origin.endswith(":*") for origin in security.allowed_origins)


def test_listed_hosts_and_origins_add_to_the_bound_address() -> None:
    security = transport_security(
        "10.1.2.3", 8765, ["perf.example.com"], ["https://dash.example.com"]
    )
    assert security.allowed_hosts == ["10.1.2.3:8765", "perf.example.com"]
    assert "https://perf.example.com" in security.allowed_origins
    assert "https://dash.example.com" in security.allowed_origins


def test_a_wildcard_bind_answers_every_interface_address() -> None:
    names = bound_names("0.0.0.0", 9000)
    assert "127.0.0.1:9000" in names
    assert all(name.endswith(":9000") for name in names)
    assert len(names) == len(set(names))
