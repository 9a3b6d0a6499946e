"""A throwaway PostgreSQL server for the tests: made by initdb in a temporary directory,
listening only on a unix socket there, stopped and deleted at the end.

As root (CI runs as root), initdb refuses to run: the server then runs as the ``postgres``
user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SUPERUSER = "perf"


def find_binaries() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(initdb: str) -> int:
    return int(Path(initdb).parts[-3].split(".")[0])


@contextlib.contextmanager
def running_server(binaries: Path) -> Iterator[str]:
    """Start a server; yield a URL (without a database name) that reaches it."""
    home = Path(tempfile.mkdtemp(prefix="perf-mcp-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")  # KeyError: no such user to run the server as
        os.chown(home, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    data = home / "data"
    options = (
        f"-c listen_addresses='' -c unix_socket_directories={home} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
            "-E", "UTF8", "--no-sync")  # fmt: skip
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-o", options,
            "-w", "start")  # fmt: skip
        try:
            yield f"postgresql://{SUPERUSER}@/?host={home}"
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server."""
    return server_url.replace("/?", f"/{name}?", 1)
