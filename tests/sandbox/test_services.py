"""The sandbox's real PostgreSQL and Redis servers: they start, guard their passwords,
leave nothing behind when they stop, and a halted server resumes where it was."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest

from tests.sandbox.procs import descendants, using
from toolbox_tui.sandbox import postgres as postgres_module
from toolbox_tui.sandbox import watchdog
from toolbox_tui.sandbox.errors import SandboxError
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.postgres import PostgresServer, find_bin_dir
from toolbox_tui.sandbox.redis import RedisServer, resp_command

# -- the tests' own tools ---------------------------------------------------------------------


def _descendants(root: int) -> set[int]:
    """The processes below ``root``, except this process's watchdog (it outlives servers)."""
    return descendants(root) - {watchdog.shared().pid}


def _assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _redis_exchange(port: int, *commands: tuple[str, ...]) -> list[bytes]:
    """One reply line per command, sent over a raw socket in Redis's wire format."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"".join(resp_command(*command) for command in commands))
        reply = b""
        while reply.count(b"\r\n") < len(commands):
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection"
            reply += chunk
    return reply.split(b"\r\n")[: len(commands)]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory the postgres user can enter (pytest's tmp_path sits under a private one)."""
    path = Path(tempfile.mkdtemp(prefix="toolbox-test-"))
    path.chmod(0o755)
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)


# -- ports ------------------------------------------------------------------------------------


def test_free_port_can_be_bound_on_loopback() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# -- PostgreSQL -------------------------------------------------------------------------------


async def test_postgres_accepts_its_password_and_rejects_a_wrong_one(
    postgres_server: PostgresServer,
) -> None:
    conn = await asyncpg.connect(postgres_server.url())
    try:
        assert await conn.fetchval("SELECT current_user") == "postgres"
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=postgres_server.user,
            password="not-" + postgres_server.password,
            database="postgres",
        )


def test_postgres_url_names_the_superuser_and_quotes_the_password(
    postgres_server: PostgresServer,
) -> None:
    password = quote(postgres_server.password, safe="")
    assert postgres_server.url() == (
        f"postgresql://postgres:{password}@127.0.0.1:{postgres_server.port}/postgres"
    )
    assert postgres_server.url("app").endswith(f":{postgres_server.port}/app")


async def test_database_fixture_is_a_fresh_empty_database(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        assert (await conn.fetchval("SELECT current_database()")).startswith("test_")
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == 0
    finally:
        await conn.close()


async def test_drop_database_ends_open_sessions(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("to be dropped")
    leftover = await asyncpg.connect(url)
    postgres_server.drop_database("to be dropped")
    conn = await asyncpg.connect(postgres_server.url())
    try:
        names = [row[0] for row in await conn.fetch("SELECT datname FROM pg_database")]
    finally:
        await conn.close()
    assert "to be dropped" not in names
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        await leftover.fetchval("SELECT 1")
    await leftover.close()


def test_postgres_stop_ends_every_process_and_removes_its_directory() -> None:
    before = _descendants(os.getpid())
    server = PostgresServer().start()
    pid, directory = server.pid, server.directory
    started = _descendants(os.getpid()) - before
    assert pid in started
    assert len(started) > 1  # the postmaster and its background workers

    server.stop()

    for process in started:
        _assert_gone(process)
    assert directory is not None
    assert not directory.exists()
    with pytest.raises(SandboxError, match="not running"):
        _ = server.pid
    server.stop()  # a second stop is a no-op


async def test_postgres_in_a_with_block_stops_when_an_exception_escapes() -> None:
    password = "p@ss:/w rd%?#"  # every character that needs quoting in a URL
    with pytest.raises(RuntimeError, match="boom"), PostgresServer(password=password) as pg:
        pid, directory = pg.pid, pg.directory
        conn = await asyncpg.connect(pg.url())
        await conn.close()
        raise RuntimeError("boom")
    _assert_gone(pid)
    assert directory is not None
    assert not directory.exists()


def test_postgres_without_binaries_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SandboxError, match="apt-get install -y postgresql"):
        PostgresServer(bin_dir=tmp_path).start()
    monkeypatch.setenv("TOOLBOX_PG_BIN", str(tmp_path))
    with pytest.raises(SandboxError, match="apt-get install -y postgresql"):
        PostgresServer().start()
    monkeypatch.delenv("TOOLBOX_PG_BIN")
    monkeypatch.setattr(postgres_module, "DEBIAN_ROOT", tmp_path)
    with pytest.raises(SandboxError, match="apt-get install -y postgresql"):
        PostgresServer().start()


def test_postgres_binaries_come_from_the_highest_complete_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOOLBOX_PG_BIN", raising=False)
    monkeypatch.setattr(postgres_module, "DEBIAN_ROOT", tmp_path)
    for version, tools in [
        ("9.6", ["initdb", "postgres", "pg_ctl", "psql"]),
        ("15", ["initdb", "postgres", "pg_ctl", "psql"]),
        ("16", ["initdb"]),  # half-installed
    ]:
        (tmp_path / version / "bin").mkdir(parents=True)
        for tool in tools:
            _script(tmp_path / version / "bin" / tool, "exit 0\n")
    assert find_bin_dir() == tmp_path / "15" / "bin"


def test_postgres_failing_start_shows_the_log_without_the_password(shared_tmp: Path) -> None:
    password = "s3cret-pa55word"
    _script(
        shared_tmp / "initdb",
        'while [ $# -gt 0 ]; do [ "$1" = -D ] && mkdir -p "$2"; shift; done\n',
    )
    _script(shared_tmp / "postgres", f'echo "FATAL:  bad password {password}" >&2\nexit 1\n')
    _script(shared_tmp / "pg_ctl", "exit 1\n")
    _script(shared_tmp / "psql", "exit 1\n")
    server = PostgresServer(password=password, bin_dir=shared_tmp)

    with pytest.raises(SandboxError, match="exited during start") as failure:
        server.start()

    assert "FATAL:  bad password ***" in str(failure.value)
    assert password not in str(failure.value)
    assert server.directory is not None
    assert not server.directory.exists()


# -- Redis ------------------------------------------------------------------------------------


def test_redis_requires_its_password(redis_server: RedisServer) -> None:
    port, password = redis_server.port, redis_server.password
    assert _redis_exchange(port, ("PING",))[0].startswith(b"-NOAUTH")
    assert _redis_exchange(port, ("AUTH", "not-" + password))[0].startswith(b"-WRONGPASS")
    assert _redis_exchange(
        port, ("AUTH", password), ("SET", "greeting", "hello"), ("GET", "greeting")
    ) == [b"+OK", b"+OK", b"$5"]
    assert redis_server.ping()


def test_redis_url_carries_the_quoted_password(redis_server: RedisServer) -> None:
    password = quote(redis_server.password, safe="")
    assert redis_server.url() == f"redis://:{password}@127.0.0.1:{redis_server.port}/0"
    assert redis_server.url(db=3).endswith("/3")


def test_redis_stop_ends_the_process_and_removes_its_directory() -> None:
    before = _descendants(os.getpid())
    server = RedisServer().start()
    pid, directory = server.pid, server.directory
    started = _descendants(os.getpid()) - before
    assert started == {pid}

    server.stop()

    _assert_gone(pid)
    assert directory is not None
    assert not directory.exists()
    with pytest.raises(SandboxError, match="not running"):
        _ = server.pid
    server.stop()


def test_redis_in_a_with_block_stops_when_an_exception_escapes() -> None:
    password = 'p@ss "quoted" \\ back:/slash'  # survives the config file and the URL
    with pytest.raises(RuntimeError, match="boom"), RedisServer(password=password) as redis:
        pid, directory = redis.pid, redis.directory
        assert redis.ping()
        raise RuntimeError("boom")
    _assert_gone(pid)
    assert directory is not None
    assert not directory.exists()


def test_redis_without_the_binary_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SandboxError, match="apt-get install -y redis-server"):
        RedisServer(binary=tmp_path / "redis-server").start()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match="apt-get install -y redis-server"):
        RedisServer().start()


def test_redis_failing_start_shows_its_output_without_the_password(tmp_path: Path) -> None:
    password = "s3cret-pa55word"
    # A stand-in that echoes its config file, password included, and gives up.
    _script(tmp_path / "redis-server", 'cat "$1" >&2\necho "FATAL: cannot start" >&2\nexit 1\n')
    server = RedisServer(password=password, binary=tmp_path / "redis-server")

    with pytest.raises(SandboxError, match="exited during start") as failure:
        server.start()

    assert "FATAL: cannot start" in str(failure.value)
    assert 'requirepass "***"' in str(failure.value)
    assert password not in str(failure.value)
    assert server.directory is not None
    assert not server.directory.exists()


def test_servers_refuse_a_second_start_and_allow_stop_before_start(
    redis_server: RedisServer,
) -> None:
    with pytest.raises(SandboxError, match="already running"):
        redis_server.start()
    PostgresServer().stop()
    RedisServer().stop()


# -- sessions, halting and resuming -----------------------------------------------------------


def test_servers_run_in_sessions_of_their_own(
    postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    """A Ctrl-C typed at our terminal reaches only us; we stop the servers in order."""
    for server in (postgres_server, redis_server):
        assert os.getsid(server.pid) == server.pid != os.getsid(0)


def test_stop_says_what_it_stopped() -> None:
    server = RedisServer().start()
    pid, directory = server.pid, server.directory

    assert server.stop() == f"Redis (pid {pid}) stopped; {directory} removed."
    assert server.stop() is None


async def test_a_halted_postgres_resumes_on_its_port_with_its_data() -> None:
    with PostgresServer() as pg:
        url = pg.create_database("kept")
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
        await conn.close()
        port, directory, first = pg.port, pg.directory, pg.pid

        pg.halt()

        assert not pg.running
        _assert_gone(first)
        with pytest.raises(OSError):
            await asyncpg.connect(url)
        assert directory is not None
        assert directory.exists()
        assert not [p for p in using(directory) if p != os.getpid()]

        pg.start()

        assert (pg.port, pg.running) == (port, True)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT x FROM t") == 42
        finally:
            await conn.close()
        second = pg.pid
    _assert_gone(second)
    assert not directory.exists()


def test_a_halted_server_whose_port_was_taken_says_so_and_leaves_nothing() -> None:
    server = RedisServer().start()
    port, directory = server.port, server.directory
    server.halt()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()

        with pytest.raises(SandboxError, match=f"another process has taken port {port}"):
            server.start()

    assert directory is not None
    assert not directory.exists()
    assert not server.running
