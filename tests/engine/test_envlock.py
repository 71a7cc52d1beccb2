"""One fix of an env file at a time, across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.envfile import EnvFileBusy, lock_env_file, set_values
from checks.settings import DeploymentEnv

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys
from pathlib import Path
from checks.envfile import lock_env_file
with lock_env_file(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()  # until the test says so
print("released", flush=True)
"""

# Reports its first failed attempt, so the test knows it is waiting before releasing.
WAITER = """
import fcntl, sys
from pathlib import Path
from checks.envfile import lock_env_file
real_flock, reported = fcntl.flock, []
def flock(fd, op):
    try:
        real_flock(fd, op)
    except BlockingIOError:
        if not reported:
            reported.append(True)
            print("busy", flush=True)
        raise
fcntl.flock = flock
with lock_env_file(Path(sys.argv[1]), wait=60):
    print("acquired", flush=True)
"""

INCREMENTER = """
import sys
from pathlib import Path
from checks.envfile import lock_env_file, set_values
from checks.settings import DeploymentEnv
path, key, times = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for _ in range(times):
    with lock_env_file(path, wait=120):
        env = DeploymentEnv.load(path)
        set_values(path, {key: str(int(env.values.get(key, "0")) + 1)},
                   expected_digest=env.digest)
"""


def _python(code: str, *args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdin=stdin,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text("A=1\n", encoding="utf-8")
    return path


@pytest.fixture
def holder(env_file: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the env file's lock until its stdin gets a line."""
    process = _python(HOLDER, str(env_file), stdin=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    yield process
    process.kill()
    process.wait()


def _release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def test_a_second_fix_waits_for_the_first_and_then_runs(
    env_file: Path, holder: subprocess.Popen[str]
) -> None:
    waiter = _python(WAITER, str(env_file))
    assert waiter.stdout is not None
    assert waiter.stdout.readline() == "busy\n"  # it tried, found the lock held, and waits
    _release(holder)
    assert waiter.stdout.readline() == "acquired\n"
    assert waiter.wait(timeout=60) == 0


def test_a_fix_that_waits_too_long_is_told_who_holds_the_lock(
    env_file: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(EnvFileBusy) as busy, lock_env_file(env_file, wait=0.2):
        pass
    message = str(busy.value)
    assert message.startswith(f".env is being changed by pid {holder.pid} (")
    assert sys.executable in message and "try again" in message


def test_the_lock_is_shared_by_a_symlink_and_its_target(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "prod.env"
    target.write_text("A=1\n", encoding="utf-8")
    (tmp_path / ".env").symlink_to(target)
    holder = _python(HOLDER, str(target), stdin=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(EnvFileBusy), lock_env_file(tmp_path / ".env", wait=0):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_releases_the_lock(env_file: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with lock_env_file(env_file, wait=5):
        pass


def test_concurrent_fixes_of_a_large_file_lose_no_update(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    # Big enough that each read-modify-write takes a while: without the lock, every run
    # of this loses updates.
    filler = "".join(f"FILLER_{i}=value-{i}\n" for i in range(10_000))
    env_file.write_text(filler, encoding="utf-8")
    writers, times = 4, 3
    processes = [
        _python(INCREMENTER, str(env_file), f"COUNTER_{n}", str(times)) for n in range(writers)
    ]
    assert [p.wait(timeout=300) for p in processes] == [0] * writers
    values = DeploymentEnv.load(env_file).values
    assert [values.get(f"COUNTER_{n}") for n in range(writers)] == [str(times)] * writers
    assert len(values) == 10_000 + writers


def test_the_lock_is_not_reentrant_even_in_one_process(env_file: Path) -> None:
    with (
        lock_env_file(env_file),
        pytest.raises(EnvFileBusy) as busy,
        lock_env_file(env_file, wait=0),
    ):
        pass
    assert f"another fix in this toolbox-tui (pid {os.getpid()})" in str(busy.value)


def test_a_set_values_under_the_lock_leaves_no_lock_behind(env_file: Path) -> None:
    with lock_env_file(env_file):
        set_values(env_file, {"A": "2"})
    with lock_env_file(env_file, wait=0):
        assert DeploymentEnv.load(env_file).values == {"A": "2"}
