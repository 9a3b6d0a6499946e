"""A throwaway PostgreSQL server for the tests and benches: made by initdb in a temporary
directory, listening only on a unix socket there, stopped and deleted at the end.

As root (CI runs as root), initdb refuses to run: the server then runs as the ``postgres``
user that Debian's package creates. Tests start it with ``fsync`` off (nothing they check
needs the disk); ``durable=True`` keeps PostgreSQL's default durability, for benches.
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


class Server:
    """A cluster in ``home``: ``url`` reaches it (add a database name with ``database``)."""

    def __init__(self, binaries: Path, home: Path) -> None:
        self.binaries, self.home, self.data = binaries, home, home / "data"
        self.url = f"postgresql://{SUPERUSER}@/?host={home}"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # KeyError: no such user to run the server as
            os.chown(home, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def database(self, name: str) -> str:
        """The URL of database ``name`` on this server."""
        return self.url.replace("/?", f"/{name}?", 1)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip

    def start(self, durable: bool = False) -> None:
        options = (  # connections: a pool per writer, and a bench starts 100 writers
            f"-c listen_addresses='' -c unix_socket_directories={self.home} -c max_connections=250"
        )
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "log"), "-o", options,
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "stop")

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_user, str(self.binaries / program), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def require_postgres() -> Path:
    """The directory of PostgreSQL's initdb and pg_ctl, with psycopg importable; else the
    test skips saying why, or fails under CI (where .ci/run installs them)."""
    from tests.required import missing  # pytest, only when a test asks

    binaries, reason = find_binaries(), None
    if binaries is None:
        reason = "PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        reason = "psycopg is not installed (pip install -e '.[test]')"
    if reason is not None:
        missing(reason)
    assert binaries is not None
    return binaries


@contextlib.contextmanager
def running_server(binaries: Path, durable: bool = False) -> Iterator[Server]:
    """A new server, started; stopped and deleted afterwards."""
    home = Path(tempfile.mkdtemp(prefix="perf-mcp-pg-"))
    try:
        server = Server(binaries, home)
        server.init()
        server.start(durable)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
