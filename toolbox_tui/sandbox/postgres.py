"""A private PostgreSQL cluster on a free loopback port, for the demo sandbox and the tests.

The cluster comes from the Debian binaries (``/usr/lib/postgresql/<version>/bin``), lives in
a fresh temporary directory, asks for a password (scram-sha-256) like a production server
does, and is thrown away on ``stop()`` (``halt()`` keeps it for a later ``start()``).
Durability is switched off: nothing here outlives the process that started it.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from checks.subprocesses import die_with_parent
from toolbox_tui.sandbox.errors import SandboxError, log_tail, mask
from toolbox_tui.sandbox.local_server import LocalServer

INSTALL_HINT = "apt-get install -y postgresql"
BIN_ENV_VAR = "TOOLBOX_PG_BIN"
DEBIAN_ROOT = Path("/usr/lib/postgresql")

_TOOLS = ("initdb", "postgres", "psql")
_SUPERUSER = "postgres"
_START_TIMEOUT = 30.0
_POLL_INTERVAL = 0.01
_COMMAND_TIMEOUT = 60.0


def find_bin_dir(bin_dir: str | Path | None = None) -> Path:
    """The directory holding initdb, postgres, pg_ctl and psql.

    ``bin_dir`` wins, then ``$TOOLBOX_PG_BIN``, then the highest Debian version installed.
    """
    explicit = bin_dir or os.environ.get(BIN_ENV_VAR)
    if explicit:
        directory = Path(explicit)
        missing = [tool for tool in _TOOLS if not _is_executable(directory / tool)]
        if missing:
            raise SandboxError(
                f"PostgreSQL binaries not found in {directory} (missing: {', '.join(missing)}); "
                f"install them with `{INSTALL_HINT}`"
            )
        return directory
    candidates = sorted(DEBIAN_ROOT.glob("*/bin"), key=_version_key, reverse=True)
    for directory in candidates:
        if all(_is_executable(directory / tool) for tool in _TOOLS):
            return directory
    raise SandboxError(
        f"no PostgreSQL binaries under {DEBIAN_ROOT}/*/bin; install them with "
        f"`{INSTALL_HINT}` or point ${BIN_ENV_VAR} at a directory holding {', '.join(_TOOLS)}"
    )


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    # "9.6" < "15": compare the version numerically, not as text.
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _client_env() -> dict[str, str]:
    # A developer's PGHOST, PGPORT, PGDATA ... must not redirect our tools to their server.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


class PostgresServer(LocalServer):
    """A throwaway PostgreSQL cluster; ``with PostgresServer() as pg:`` starts and stops it."""

    NAME = "PostgreSQL"
    DIR_PREFIX = "toolbox-pg-"
    # Immediate shutdown, what `pg_ctl -m immediate` sends: the postmaster stops its
    # backends and exits at once; the next start of a halted cluster recovers from the WAL.
    STOP_SIGNAL = signal.SIGQUIT
    # Fast shutdown for halt(): a checkpoint writes out every commit first. With
    # synchronous_commit off, an immediate shutdown loses the last ones, and a halted
    # cluster must resume with what was committed.
    HALT_SIGNAL = signal.SIGINT

    def __init__(self, password: str | None = None, bin_dir: str | Path | None = None) -> None:
        super().__init__(password)
        self._bin_dir_choice = bin_dir
        self._bin_dir: Path | None = None
        # initdb and the server refuse to run as root: root hands them to the postgres user.
        self._uid: int | None = None
        self._gid: int | None = None

    def _prepare(self) -> None:
        self._bin_dir = find_bin_dir(self._bin_dir_choice)
        self._uid, self._gid = _cluster_owner()

    def _boot(self) -> None:
        assert self._dir is not None
        self._give_to_owner(self._dir)
        self._initdb()
        sockets = self._dir / "sockets"
        sockets.mkdir()
        self._give_to_owner(sockets)
        self._listen(None)

    # -- connection details ---------------------------------------------------------------

    @property
    def user(self) -> str:
        return _SUPERUSER

    @property
    def bin_dir(self) -> Path:
        """The binaries this server runs (looked up now if it has not started yet)."""
        return self._bin_dir or find_bin_dir(self._bin_dir_choice)

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``database`` as the superuser, password included."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self._password, safe='')}"
            f"@{self.host}:{self.port}/{quote(database, safe='')}"
        )

    # -- databases ------------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        self._psql(f"CREATE DATABASE {_quote_ident(name)}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, ending any sessions still connected to it."""
        ident = _quote_ident(name)
        if self._major_version() >= 13:
            self._psql(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
            return
        literal = "'" + name.replace("'", "''") + "'"
        # Two -c options run as two transactions: DROP DATABASE refuses to run inside one.
        self._psql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {literal}",
            f"DROP DATABASE IF EXISTS {ident}",
        )

    # -- internals ------------------------------------------------------------------------

    @property
    def _data(self) -> Path:
        assert self._dir is not None
        return self._dir / "data"

    @property
    def _log(self) -> Path:
        assert self._dir is not None
        return self._dir / "server.log"

    def _pidfile(self) -> Path:
        if self._dir is None:
            raise OSError("no data directory")
        return self._data / "postmaster.pid"

    def _tool(self, name: str) -> str:
        assert self._bin_dir is not None
        return str(self._bin_dir / name)

    def _give_to_owner(self, path: Path) -> None:
        if self._uid is not None and self._gid is not None:
            os.chown(path, self._uid, self._gid)

    def _run_as_owner(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        # Popen's user/group switch the child itself, like `runuser -u postgres --` but
        # without an extra process in between.
        return subprocess.run(
            argv,
            cwd=self._dir,
            env=_client_env(),
            user=self._uid,
            group=self._gid,
            extra_groups=[] if self._uid is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
            # The calling thread waits for it, so it lasts as long as the parent-death signal needs.
            preexec_fn=die_with_parent(),
        )

    def _initdb(self) -> None:
        assert self._dir is not None
        pwfile = self._dir / "pwfile"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self._password + "\n", encoding="utf-8")
        self._give_to_owner(pwfile)
        try:
            done = self._run_as_owner(
                [
                    self._tool("initdb"),
                    "-D",
                    str(self._data),
                    "-U",
                    _SUPERUSER,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                    # The cluster is deleted on stop: flushing it to disk buys nothing.
                    "--no-sync",
                ],
                timeout=_COMMAND_TIMEOUT,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            output = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
            raise SandboxError(
                f"initdb failed (exit {done.returncode}):\n{mask(output, self._password)}"
            )

    def _launch(self) -> bool:
        assert self._dir is not None
        argv = [
            self._tool("postgres"),
            "-D",
            str(self._data),
            "-p",
            str(self.port),
            "-k",
            str(self._dir / "sockets"),
            "-c",
            "listen_addresses=127.0.0.1",
            # Throwaway data: skip every flush to disk.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        # None of our postmasters runs now, so a pidfile is stale (left by SIGKILL): its
        # "ready" line would end the wait below before the new server is up.
        self._pidfile().unlink(missing_ok=True)
        # The postmaster is our own child (not detached by `pg_ctl start`), so it is
        # reaped the moment it exits and leaves no zombie behind for init to collect.
        proc = self._spawn(argv, self._log, env=_client_env(), user=self._uid, group=self._gid)
        return self._wait_until_ready(proc)

    def _wait_until_ready(self, proc: subprocess.Popen[bytes]) -> bool:
        """True once the server accepts connections; False if its port was taken."""
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._status() == "ready":
                return True
            code = proc.poll()
            if code is not None:
                if "Address already in use" in log_tail(self._log, self._password):
                    return False
                raise SandboxError(
                    f"PostgreSQL exited during start (code {code}); server log:\n"
                    + log_tail(self._log, self._password)
                )
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"PostgreSQL was not ready after {_START_TIMEOUT:.0f} s; server log:\n"
                    + log_tail(self._log, self._password)
                )
            time.sleep(_POLL_INTERVAL)

    def _status(self) -> str:
        # The eighth line of postmaster.pid is the server's state; `pg_ctl -w` polls it too.
        try:
            lines = self._pidfile().read_text(encoding="utf-8").splitlines()
        except OSError:
            return ""
        return lines[7].strip() if len(lines) > 7 else ""

    def _major_version(self) -> int:
        try:
            return int((self._data / "PG_VERSION").read_text(encoding="utf-8").split(".")[0])
        except (OSError, ValueError) as err:
            raise SandboxError("the PostgreSQL server is not running") from err

    def _psql(self, *statements: str) -> None:
        argv = [
            self._tool("psql"),
            "-X",  # no ~/.psqlrc
            "-q",
            "-w",  # never prompt for a password
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
        ]
        for statement in statements:
            argv += ["-c", statement]
        env = _client_env() | {"PGPASSWORD": self._password, "PGCONNECT_TIMEOUT": "10"}
        done = subprocess.run(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise SandboxError(
                f"psql failed (exit {done.returncode}): {mask(done.stderr.strip(), self._password)}"
            )


def _cluster_owner() -> tuple[int | None, int | None]:
    """The uid and gid to run the cluster as: None for "as we are", postgres's for root."""
    if os.geteuid() != 0:
        return None, None
    try:
        entry = pwd.getpwnam(_SUPERUSER)
    except KeyError as err:
        raise SandboxError(
            "running as root, the cluster must run as the `postgres` user, which does not "
            f"exist; `{INSTALL_HINT}` creates it"
        ) from err
    return entry.pw_uid, entry.pw_gid
