"""Reading and safely rewriting the app's env file.

Reading never blocks and never reads without bound: anything but a regular file (a FIFO,
a device) is refused before a byte is read, and so is a file over the size limit.
Rewriting changes only the values being set (see :mod:`checks.envsyntax`), writes
atomically (temporary file, fsync, rename), keeps the file's permission bits and owner,
leaves a private timestamped backup first, and refuses a file that is read-only or that
changed since the caller last read it. :func:`lock_env_file` makes a read-modify-write
exclusive across processes; :func:`remove_stale_temp_files` clears what a killed write left.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from checks.enverrors import (
    EnvFileBusy,
    EnvFileChanged,
    EnvFileError,
    EnvFileNotText,
    EnvFileReadOnly,
    EnvFileTooLarge,
    EnvFileUneditable,
    EnvFileUnsafe,
)
from checks.envlock import lock_env_file
from checks.envsyntax import ParsedEnv, format_assignment, parse_env_text, updated_text

__all__ = [
    "DEFAULT_MAX_ENV_BYTES",
    "EnvFileBusy",
    "EnvFileChanged",
    "EnvFileError",
    "EnvFileNotText",
    "EnvFileReadOnly",
    "EnvFileTooLarge",
    "EnvFileUneditable",
    "EnvFileUnsafe",
    "ParsedEnv",
    "atomic_write",
    "backup_path_for",
    "decode_env",
    "digest_of",
    "format_assignment",
    "lock_env_file",
    "parse_env_text",
    "read_env_bytes",
    "remove_stale_temp_files",
    "require_writable",
    "set_values",
    "stale_temp_files",
    "updated_text",
]

DEFAULT_MAX_ENV_BYTES = 16 * 1024 * 1024
"""The largest env file read unless TOOLBOX_MAX_ENV_BYTES says otherwise."""

_CHUNK = 1024 * 1024
TEMP_SUFFIX = ".tmp"  # atomic_write's temporary copies: ".<name>.XXXXXXXX.tmp"


def read_env_bytes(path: Path, max_bytes: int = DEFAULT_MAX_ENV_BYTES) -> bytes:
    """The bytes of the env file at ``path`` (symlinks followed).

    Refuses (:class:`EnvFileUnsafe`) anything but a regular file without blocking, and
    (:class:`EnvFileTooLarge`) a file over ``max_bytes``. Other failures are ``OSError``s.
    """
    return _read_regular(path, max_bytes)[0]


def _read_regular(path: Path, max_bytes: int | None) -> tuple[bytes, os.stat_result]:
    # stat first, so a device is never even opened (opening some has effects: a watchdog
    # starts counting, a tape rewinds). Then check again on the descriptor, in case the
    # path was swapped in between; O_NONBLOCK keeps that open from hanging on a FIFO.
    _refuse_irregular(path, os.stat(path).st_mode, "an env file")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        _refuse_irregular(path, st.st_mode, "an env file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise _too_large(path, max_bytes, st.st_size)
        # Read to the end (it may have grown since fstat), never more than one byte past
        # the limit: enough to know it is too big.
        chunks: list[bytes] = []
        size = 0
        while True:
            want = _CHUNK if max_bytes is None else min(_CHUNK, max_bytes + 1 - size)
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise _too_large(path, max_bytes, None)
        return b"".join(chunks), st
    finally:
        os.close(fd)


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_irregular(path: Path, mode: int, wanted: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "something else")
    raise EnvFileUnsafe(f"{path} is {kind}, not {wanted}.")


def _too_large(path: Path, limit: int, size: int | None) -> EnvFileTooLarge:
    found = f"{size:,} bytes" if size is not None else "more than that"
    return EnvFileTooLarge(
        f"{path} is larger than {limit:,} bytes ({found}), the most read as an env file; "
        "if it really is that big, raise TOOLBOX_MAX_ENV_BYTES."
    )


def digest_of(data: bytes) -> str:
    """The sha256 (hex) of the env file's bytes: what a preview saw, checked before a write."""
    return hashlib.sha256(data).hexdigest()


def decode_env(data: bytes, path: Path) -> str:
    """The file's text: UTF-8 exactly as written (a BOM stays, no newline is translated)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvFileNotText(f"{path} is not UTF-8 text.") from None


def backup_path_for(path: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return path.with_name(f"{path.name}.{stamp}.bak")


def atomic_write(path: Path, data: bytes | str, *, backup: bool = True) -> Path | None:
    """Replace ``path`` with ``data`` atomically; returns the backup's path when one was made.

    ``str`` is written as UTF-8, as is. The new file gets the old file's mode and owner
    (0600 for a new file, since env files hold secrets). The backup is written the same
    careful way, but private (at most 0600): it holds the old secrets long after anyone
    looks at it. A symlink is followed, so the file it points to is the one updated, and
    the link stays a link. Anything there but a regular file is refused (EnvFileUnsafe).
    """
    target = path.resolve()
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None:
        # Replacing a FIFO or a device with a file would break whatever uses it.
        _refuse_irregular(target, st.st_mode, "a regular file; nothing was written")
    old = _read_regular(target, None)[0] if backup and st is not None else None
    return _replace(target, data.encode("utf-8") if isinstance(data, str) else data, st, old)


def _replace(
    target: Path, data: bytes, st: os.stat_result | None, old: bytes | None
) -> Path | None:
    """Write ``data`` over the resolved ``target`` (whose stat is ``st``, None when new),
    after backing up ``old`` when given."""
    mode = (st.st_mode & 0o777) if st else 0o600
    saved: Path | None = None
    if old is not None and st is not None:
        saved = backup_path_for(target)
        _write_replace(saved, old, mode & 0o600, st)
    _write_replace(target, data, mode, st)
    return saved


def _write_replace(path: Path, data: bytes, mode: int, owner: os.stat_result | None) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            if owner is not None and os.geteuid() == 0:
                os.fchown(handle.fileno(), owner.st_uid, owner.st_gid)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def set_values(
    path: Path,
    updates: Mapping[str, str],
    *,
    expected_digest: str | None = None,
    allow_read_only: bool = False,
    max_bytes: int = DEFAULT_MAX_ENV_BYTES,
) -> Path | None:
    """Set variables in the env file at ``path``; returns the backup's path.

    Only the values of the variables in ``updates`` change, byte for byte (see
    :func:`updated_text`); the write is atomic, after a private timestamped backup. Call
    it holding :func:`lock_env_file`, so that no other fix changes the file in between.

    Refused, with nothing written: :class:`EnvFileChanged` when ``expected_digest`` is given
    and the file's bytes no longer have it; :class:`EnvFileReadOnly` when its owner may not
    write it (unless ``allow_read_only``); :class:`EnvFileUneditable` when the result would
    not read back as exactly the old values plus ``updates`` (a broken quote near the end,
    a name that is not a variable name); and whatever :func:`read_env_bytes` refuses.
    """
    target = path.resolve()
    old, st = _read_regular(target, max_bytes)
    if expected_digest is not None and digest_of(old) != expected_digest:
        raise EnvFileChanged(f"{path.name} changed since the preview; nothing was written.")
    require_writable(path, st.st_mode, allow_read_only)
    text = decode_env(old, path)
    new_text = updated_text(text, updates)
    _check_reads_back(path, text, new_text, updates)
    return _replace(target, new_text.encode("utf-8"), st, old)


def require_writable(path: Path, mode: int, allow_read_only: bool = False) -> None:
    """EnvFileReadOnly when the file's ``mode`` says its owner may not write it (someone made
    it so on purpose), unless ``allow_read_only`` (TOOLBOX_ALLOW_READ_ONLY_ENV)."""
    if not allow_read_only and not mode & stat.S_IWUSR:
        raise EnvFileReadOnly(
            f"{path.name} is read-only (mode {mode & 0o7777:04o}): someone made it so "
            "on purpose; make it writable, or set TOOLBOX_ALLOW_READ_ONLY_ENV=true."
        )


def _check_reads_back(path: Path, text: str, new_text: str, updates: Mapping[str, str]) -> None:
    # The edit touches value spans only, but a broken line can make dotenv read across
    # lines (an unclosed quote before an appended name): prove the result before writing.
    before, after = parse_env_text(text), parse_env_text(new_text)
    if after.values != {**before.values, **updates} or len(after.malformed_lines) != len(
        before.malformed_lines
    ):
        raise EnvFileUneditable(
            f"{', '.join(updates)} cannot be written to {path.name} without changing how "
            "other lines read (an unclosed quote? a name that is not a variable name?); "
            "nothing was written. Fix the file by hand; the check env.file-syntax names the "
            "broken line."
        )


# --- temporary copies left by a killed write --------------------------------------------

# mkstemp's random part: 8 characters of this alphabet.
_RANDOM = r"[a-z0-9_]{8}"
_BACKUP_STAMP = r"\.\d{8}T\d{12}Z\.bak"


def _temp_name_pattern(name: str) -> re.Pattern[str]:
    """Names _write_replace gives the temporary copies of ``name`` and of its backups."""
    return re.compile(
        rf"\.{re.escape(name)}(?:{_BACKUP_STAMP})?\.{_RANDOM}{re.escape(TEMP_SUFFIX)}"
    )


def stale_temp_files(path: Path) -> list[Path]:
    """Temporary copies of the env file at ``path`` (and of its backups) that a write left.

    Only regular files owned by this user with exactly the names atomic_write gives them;
    a symlink is never followed. Under :func:`lock_env_file` every such file is stale.
    """
    with _directory_of(path) as (directory, fd, name):
        return [directory / temp for temp in _temp_names(fd, name)]


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Remove what :func:`stale_temp_files` lists (each holds every secret); returns them.

    Call it holding :func:`lock_env_file`: without the lock, a write in progress in another
    process may own one of them.
    """
    removed = []
    with _directory_of(path) as (directory, fd, name):
        for temp in _temp_names(fd, name):
            # Relative to the directory's descriptor: unlink never follows a symlink, and a
            # parent swapped meanwhile cannot redirect it.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=fd)
                removed.append(directory / temp)
    if removed:
        _fsync_dir(directory)
    return removed


@contextlib.contextmanager
def _directory_of(path: Path) -> Iterator[tuple[Path, int, str]]:
    """The resolved file's directory, a descriptor on it, and the file's name."""
    target = path.resolve()
    fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield target.parent, fd, target.name
    finally:
        os.close(fd)


def _temp_names(directory_fd: int, name: str) -> list[str]:
    pattern, uid = _temp_name_pattern(name), os.geteuid()
    found = []
    with os.scandir(directory_fd) as entries:
        for entry in entries:
            if not pattern.fullmatch(entry.name):
                continue
            with contextlib.suppress(FileNotFoundError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_uid == uid:
                    found.append(entry.name)
    return sorted(found)
