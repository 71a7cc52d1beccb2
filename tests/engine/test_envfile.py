"""Env files: tolerant, non-blocking, bounded reading; atomic, backed-up, mode-keeping rewrites
that change one value byte for byte; refusals; and the temporaries a killed write leaves."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from checks.envfile import (
    DEFAULT_MAX_ENV_BYTES,
    EnvFileBusy,
    EnvFileChanged,
    EnvFileError,
    EnvFileReadOnly,
    EnvFileTooLarge,
    EnvFileUneditable,
    EnvFileUnsafe,
    atomic_write,
    digest_of,
    parse_env_text,
    read_env_bytes,
    remove_stale_temp_files,
    set_values,
    stale_temp_files,
)
from checks.settings import DeploymentEnv, ToolboxConfig

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = """\
# production settings
APP_ENV=production
 this line is broken
export DEBUG=false
QUOTED="two words"  # trailing comment

LOG_LEVEL=INFO
"""


def test_malformed_lines_are_reported_by_number() -> None:
    parsed = parse_env_text(SAMPLE)
    assert parsed.malformed_lines == (3,)
    assert parsed.values["QUOTED"] == "two words"
    assert parsed.values["DEBUG"] == "false"


def test_set_values_keeps_everything_else_byte_for_byte(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(SAMPLE, encoding="utf-8")
    env.chmod(0o640)
    backup = set_values(env, {"LOG_LEVEL": "WARNING", "DEBUG": "true", "NEW_ONE": "a b"})
    text = env.read_text(encoding="utf-8")
    assert text.splitlines()[:3] == SAMPLE.splitlines()[:3]
    assert "export DEBUG=true" in text
    assert "LOG_LEVEL=WARNING" in text
    assert 'QUOTED="two words"  # trailing comment' in text
    assert parse_env_text(text).values["NEW_ONE"] == "a b"
    assert os.stat(env).st_mode & 0o777 == 0o640
    assert backup is not None and backup.read_text(encoding="utf-8") == SAMPLE
    assert os.stat(backup).st_mode & 0o777 == 0o600  # old secrets: private, whatever the file


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write(target, "one\n")
    atomic_write(target, "two\n")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert target.read_text() == "two\n"
    assert len(names) == 2 and names[0] == "out.txt" and names[1].endswith(".bak")


def test_new_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "fresh.env"
    assert atomic_write(target, "A=1\n") is None
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_loading_problems_become_messages_not_exceptions(tmp_path: Path) -> None:
    assert "does not exist" in (DeploymentEnv.load(tmp_path / "missing").load_error or "")
    assert "directory" in (DeploymentEnv.load(tmp_path).load_error or "")
    binary = tmp_path / "binary.env"
    binary.write_bytes(b"\xff\xfe\x00A=1")
    assert "UTF-8" in (DeploymentEnv.load(binary).load_error or "")


def test_duplicated_name_is_rewritten_everywhere(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("KEY=old\nOTHER=1\nKEY=older\n", encoding="utf-8")
    set_values(env, {"KEY": "new"})
    assert env.read_text(encoding="utf-8") == "KEY=new\nOTHER=1\nKEY=new\n"


def test_symlinked_env_file_updates_its_target(tmp_path: Path) -> None:
    real = tmp_path / "shared.env"
    real.write_text("KEY=old\n", encoding="utf-8")
    link = tmp_path / ".env"
    link.symlink_to(real)
    set_values(link, {"KEY": "new"})
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == "KEY=new\n"


def test_values_with_both_quotes_round_trip(tmp_path: Path) -> None:
    value = """it's "quoted" \\ here"""
    env = tmp_path / ".env"
    env.write_text("", encoding="utf-8")
    set_values(env, {"KEY": value})
    assert parse_env_text(env.read_text(encoding="utf-8")).values["KEY"] == value


# --- reading: never block, never read without bound -------------------------------------------


def _load_within(path: Path, seconds: float = 10.0, **kwargs: int) -> DeploymentEnv:
    """DeploymentEnv.load in a thread; fails (and unblocks a FIFO) if it does not return."""
    result: list[DeploymentEnv] = []
    worker = threading.Thread(target=lambda: result.append(DeploymentEnv.load(path, **kwargs)))
    worker.daemon = True
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        if stat.S_ISFIFO(os.stat(path).st_mode):
            # A writer end lets the blocked open() return, so the thread can finish.
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        raise AssertionError(f"loading {path} blocked for {seconds} s")
    return result[0]


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)
    env = _load_within(fifo)
    assert env.load_error == f"{fifo} is a FIFO, not an env file"
    assert env.values == {} and env.digest == ""


def test_a_symlink_to_a_fifo_is_refused_too(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    link = tmp_path / ".env"
    link.symlink_to(tmp_path / "pipe")
    assert "is a FIFO, not an env file" in (_load_within(link).load_error or "")


def test_an_endless_device_is_refused_before_it_is_read() -> None:
    # In a child with 1 GiB of address space, so that reading /dev/zero runs out of memory
    # quickly instead of taking the machine with it.
    code = (
        "import resource; from pathlib import Path; "
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
        "from checks.settings import DeploymentEnv; "
        "print(DeploymentEnv.load(Path('/dev/zero')).load_error)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.stdout.strip() == "/dev/zero is a character device, not an env file", out.stderr


def test_a_file_over_the_limit_is_refused_naming_the_setting(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"A=1\n" * 25)  # 100 bytes
    assert DeploymentEnv.load(env_file, max_bytes=100).values == {"A": "1"}
    env_file.write_bytes(b"A=1\n" * 25 + b"B")
    error = DeploymentEnv.load(env_file, max_bytes=100).load_error or ""
    assert "larger than 100 bytes" in error and "TOOLBOX_MAX_ENV_BYTES" in error
    with pytest.raises(EnvFileTooLarge):
        read_env_bytes(env_file, 100)


def test_the_default_limit_is_the_settings_default() -> None:
    assert ToolboxConfig.model_fields["max_env_bytes"].default == DEFAULT_MAX_ENV_BYTES


def test_digest_is_the_sha256_of_the_bytes_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    data = "\ufeffA=1\r\nB='x'\r\n".encode()
    env_file.write_bytes(data)
    env = DeploymentEnv.load(env_file)
    assert env.digest == hashlib.sha256(data).hexdigest() == digest_of(data)
    assert env.values == {"A": "1", "B": "x"}
    assert DeploymentEnv.load(tmp_path / "missing").digest == ""


# --- writing: only the value changes, byte for byte --------------------------------------------


def _rewrite(tmp_path: Path, data: bytes, updates: dict[str, str]) -> bytes:
    env_file = tmp_path / ".env"
    env_file.write_bytes(data)
    set_values(env_file, updates)
    return env_file.read_bytes()


def test_crlf_file_keeps_every_cr(tmp_path: Path) -> None:
    data = b"# top\r\nA=1\r\nKEY=old # why\r\n\r\nB='two words'\r\n"
    assert _rewrite(tmp_path, data, {"KEY": "new", "N": "v"}) == (
        b"# top\r\nA=1\r\nKEY=new # why\r\n\r\nB='two words'\r\nN=v\r\n"
    )


def test_cr_only_file_stays_cr_only(tmp_path: Path) -> None:
    data = b"A=1\rKEY=old\rB=2\r"
    assert _rewrite(tmp_path, data, {"KEY": "new", "N": "v"}) == b"A=1\rKEY=new\rB=2\rN=v\r"


def test_mixed_line_endings_are_each_kept(tmp_path: Path) -> None:
    data = b"A=1\r\nKEY=old\rB=2\nC=3\r\n"
    assert _rewrite(tmp_path, data, {"KEY": "new"}) == b"A=1\r\nKEY=new\rB=2\nC=3\r\n"


def test_quotes_export_spacing_and_comments_are_kept(tmp_path: Path) -> None:
    data = b"export KEY = \"old value\"   # set by ops\nOTHER='x'\n"
    assert _rewrite(tmp_path, data, {"KEY": "new value"}) == (
        b"export KEY = \"new value\"   # set by ops\nOTHER='x'\n"
    )


def test_every_duplicate_and_a_multi_line_value_change(tmp_path: Path) -> None:
    data = b'KEY="line one\nline two"\nA=1\nKEY=older # again\n'
    assert _rewrite(tmp_path, data, {"KEY": "v"}) == b'KEY="v"\nA=1\nKEY=v # again\n'


def test_last_line_without_a_newline(tmp_path: Path) -> None:
    assert _rewrite(tmp_path, b"A=1\nKEY=old", {"KEY": "new"}) == b"A=1\nKEY=new"
    assert _rewrite(tmp_path, b"A=1\r\nB=2", {"N": "v"}) == b"A=1\r\nB=2\r\nN=v\r\n"


def test_a_bom_and_non_ascii_text_are_kept(tmp_path: Path) -> None:
    data = "\ufeffNAME=Zoë\nKEY=old\n".encode()
    assert _rewrite(tmp_path, data, {"KEY": "new"}) == "\ufeffNAME=Zoë\nKEY=new\n".encode()


def test_a_write_that_would_change_other_lines_is_refused(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    data = b'A=1\nB="never closed\n'
    env_file.write_bytes(data)
    # Appended after the open quote, this value's own quote would close it.
    with pytest.raises(EnvFileUneditable) as refused:
        set_values(env_file, {"C": 'say "hi"'})
    with pytest.raises(EnvFileUneditable):
        set_values(env_file, {"NOT A NAME": "x"})
    assert env_file.read_bytes() == data
    assert "say" not in str(refused.value) and "never" not in str(refused.value)


def test_a_read_only_env_file_is_not_rewritten(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KEY=old\n", encoding="utf-8")
    env_file.chmod(0o400)
    with pytest.raises(EnvFileReadOnly) as refused:
        set_values(env_file, {"KEY": "new"})
    assert str(refused.value) == (
        ".env is read-only (mode 0400): someone made it so on purpose; make it writable, or "
        "set TOOLBOX_ALLOW_READ_ONLY_ENV=true."
    )
    assert env_file.read_text(encoding="utf-8") == "KEY=old\n"
    set_values(env_file, {"KEY": "new"}, allow_read_only=True)
    assert env_file.read_text(encoding="utf-8") == "KEY=new\n"
    assert os.stat(env_file).st_mode & 0o777 == 0o400


def test_a_file_changed_since_the_preview_is_not_rewritten(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KEY=old\n", encoding="utf-8")
    preview = DeploymentEnv.load(env_file)
    env_file.write_text("KEY=old\nA=edited meanwhile\n", encoding="utf-8")
    with pytest.raises(EnvFileChanged) as refused:
        set_values(env_file, {"KEY": "new"}, expected_digest=preview.digest)
    assert str(refused.value) == ".env changed since the preview; nothing was written."
    assert env_file.read_text(encoding="utf-8") == "KEY=old\nA=edited meanwhile\n"
    current = DeploymentEnv.load(env_file)
    set_values(env_file, {"KEY": "new"}, expected_digest=current.digest)
    assert DeploymentEnv.load(env_file).values["KEY"] == "new"


def test_every_refusal_is_an_env_file_error() -> None:
    for refusal in (
        EnvFileUnsafe,
        EnvFileTooLarge,
        EnvFileReadOnly,
        EnvFileChanged,
        EnvFileBusy,
        EnvFileUneditable,
    ):
        assert issubclass(refusal, EnvFileError)
        assert not issubclass(refusal, OSError)  # callers tell them from I/O errors


def test_atomic_write_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "out.env"
    os.mkfifo(fifo)
    outcome: list[BaseException | Path | None] = []

    def write() -> None:
        try:
            outcome.append(atomic_write(fifo, b"A=1\n"))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=write, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        raise AssertionError("atomic_write blocked on a FIFO")
    assert isinstance(outcome[0], EnvFileUnsafe)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # left as it was


def test_atomic_write_writes_bytes_as_they_are(tmp_path: Path) -> None:
    target = tmp_path / "out.env"
    atomic_write(target, b"A=1\r\nB=\xc3\xa9\r")
    assert target.read_bytes() == b"A=1\r\nB=\xc3\xa9\r"
    atomic_write(target, "C=3\r\n")
    assert target.read_bytes() == b"C=3\r\n"


# --- temporaries left by a killed write --------------------------------------------------------


def test_a_write_killed_mid_fsync_leaves_a_temporary_that_is_then_removed(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=old-secret-value\n", encoding="utf-8")
    # The child dies (SIGKILL) in its first fsync: the backup's temporary copy is written
    # and never renamed.
    code = (
        "import os, signal, sys; from pathlib import Path; from checks import envfile; "
        "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL); "
        "envfile.set_values(Path(sys.argv[1]), {'SECRET_KEY': 'new-secret-value'})"
    )
    child = subprocess.run([sys.executable, "-c", code, str(env_file)], cwd=ROOT, timeout=60)
    assert child.returncode == -signal.SIGKILL
    left = stale_temp_files(env_file)
    assert len(left) == 1 and left[0].name.startswith("..env.") and left[0].suffix == ".tmp"
    assert b"old-secret-value" in left[0].read_bytes()
    assert remove_stale_temp_files(env_file) == left
    assert not left[0].exists()
    assert stale_temp_files(env_file) == []
    assert env_file.read_text(encoding="utf-8") == "SECRET_KEY=old-secret-value\n"


def test_only_our_own_regular_temporaries_are_removed(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("A=1\n", encoding="utf-8")
    # mkstemp names them ".<name>.XXXXXXXX.tmp", so "..env.…" for .env.
    ours = tmp_path / "..env.k3j_9xq2.tmp"
    ours_backup = tmp_path / "..env.20261128T120000123456Z.bak.abcdefgh.tmp"
    for path in (ours, ours_backup):
        path.write_text("A=1\n", encoding="utf-8")
    precious = tmp_path / "precious"
    precious.write_text("keep\n", encoding="utf-8")
    (tmp_path / "..env.zzzzzzzz.tmp").symlink_to(precious)  # a link: never followed
    (tmp_path / "..env.dddddddd.tmp").mkdir()  # not a regular file
    (tmp_path / "..env.notmkstemp.tmp").write_text("x", encoding="utf-8")  # not our name
    (tmp_path / ".other.abcdefgh.tmp").write_text("x", encoding="utf-8")  # another file's
    assert stale_temp_files(env_file) == sorted([ours, ours_backup])
    assert remove_stale_temp_files(env_file) == sorted([ours, ours_backup])
    assert precious.read_text(encoding="utf-8") == "keep\n"
    assert (tmp_path / "..env.zzzzzzzz.tmp").is_symlink()
    assert (tmp_path / "..env.dddddddd.tmp").is_dir()
    assert (tmp_path / "..env.notmkstemp.tmp").exists()


def test_temporaries_of_a_symlinked_env_file_are_found_beside_its_target(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "prod.env").write_text("A=1\n", encoding="utf-8")
    link = tmp_path / ".env"
    link.symlink_to(shared / "prod.env")
    stale = shared / ".prod.env.abcd1234.tmp"
    stale.write_text("A=1\n", encoding="utf-8")
    assert remove_stale_temp_files(link) == [stale]


def test_another_users_temporary_is_left_alone(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can make a file owned by another user")
    env_file = tmp_path / ".env"
    env_file.write_text("A=1\n", encoding="utf-8")
    theirs = tmp_path / "..env.abcdefgh.tmp"
    theirs.write_text("A=1\n", encoding="utf-8")
    os.chown(theirs, 65534, 65534)
    assert remove_stale_temp_files(env_file) == []
    assert theirs.exists()
