"""The README's reverse proxies (nginx and Caddy) started in front of perf-mcp on 127.0.0.1.

Each runs its README snippet as a reader copies it; only what a test on 127.0.0.1 must change
is changed (where it listens and the upstream port), and a snippet that no longer holds the
text being changed fails the test instead of testing something else."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.mcp_process import REPO, free_port, stop, wait_for_port
from tests.required import missing

PUBLIC_HOST = "perf.example.com"
README_UPSTREAM = "127.0.0.1:8765"


@dataclass(frozen=True)
class Proxy:
    """A proxy the README shows: its code block's language is its binary's name."""

    name: str
    package: str  # the Debian package .ci/run installs
    config: Callable[[str, int, int, Path], str]  # (snippet, listen, upstream, tmp) -> file
    command: Callable[[str, Path, Path], list[str]]  # (binary, config file, tmp) -> argv

    def binary(self) -> str | None:
        return shutil.which(self.name) or shutil.which(self.name, path="/usr/sbin:/usr/bin")

    def readme_snippet(self) -> str:
        """The README's ```<name> block, as a reader copies it."""
        readme = (REPO / "README.md").read_text()
        found = re.search(rf"```{self.name}\n(.*?)```", readme, re.DOTALL)
        assert found, f"the README shows a {self.name} snippet"
        return found.group(1)


def required_binary(proxy: Proxy) -> str:
    """The proxy's binary; a skip saying what to install, or a failure under CI=true (.ci/run
    installs it, so a missing one there is a broken CI, not a reason to skip)."""
    binary = proxy.binary()
    if binary is None:
        reason = f"{proxy.name} is not installed (apt-get install {proxy.package})"
        missing(reason)
    return binary


@contextmanager
def proxied(proxy: Proxy, tmp: Path, upstream: int) -> Iterator[str]:
    """The proxy in the foreground, its files under ``tmp``, the README's snippet in front of
    127.0.0.1:``upstream``; yields the proxied /mcp URL."""
    port = free_port()
    conf = tmp / f"{proxy.name}.conf"
    conf.write_text(proxy.config(proxy.readme_snippet(), port, upstream, tmp))
    process = subprocess.Popen(
        proxy.command(required_binary(proxy), conf, tmp),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Caddy keeps its state (autosave.json, certificates) under the XDG directories.
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp), "XDG_DATA_HOME": str(tmp)},
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


def replaced(snippet: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        assert old in snippet, f"the README snippet no longer says {old!r}:\n{snippet}"
        snippet = snippet.replace(old, new)
    return snippet


def nginx_conf(snippet: str, listen: int, upstream: int, tmp: Path) -> str:
    """The README's ``location`` inside a server for the public name, nginx's files in tmp."""
    temp = " ".join(
        f"{kind}_temp_path {tmp}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    location = replaced(snippet, {README_UPSTREAM: f"127.0.0.1:{upstream}"})
    return (
        f"daemon off; master_process off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; {temp}\n"
        f"  server {{ listen 127.0.0.1:{listen}; server_name {PUBLIC_HOST};\n{location}\n  }}\n}}\n"
    )


def caddy_conf(snippet: str, listen: int, upstream: int, tmp: Path) -> str:
    """The README's site block, served over plain HTTP on a test port (a test machine gets no
    certificate for the public name), with the admin endpoint off and 127.0.0.1 as the only
    address Caddy binds."""
    site = replaced(
        snippet,
        {
            f"{PUBLIC_HOST} {{": f"http://{PUBLIC_HOST}:{listen} {{",
            README_UPSTREAM: f"127.0.0.1:{upstream}",
        },
    )
    return "{\n\tadmin off\n\tdefault_bind 127.0.0.1\n}\n\n" + site


PROXIES = (
    Proxy(
        "nginx",
        "nginx-light",
        nginx_conf,
        lambda binary, conf, tmp: [binary, "-c", str(conf), "-p", str(tmp)],
    ),
    Proxy(
        "caddy",
        "caddy",
        caddy_conf,
        lambda binary, conf, _: [binary, "run", "--config", str(conf), "--adapter", "caddyfile"],
    ),
)
