"""Writing ``check --output PATH`` the careful way: as root, on a path others may prepare.

Provides :func:`check_destination` (called before the checks run, so a bad path costs
nothing), :func:`write_report` and :class:`ReportFileError`. ``-`` means standard output.

The tool runs as root on production hosts, often with the report in a shared directory
such as /tmp, so the path is walked one component at a time, relative to already opened
directories, and:

* a symlink is followed only if it belongs to us (or to root, i.e. the system): another
  user's link in a sticky directory would make root overwrite a file of its choosing;
* what is at the end must be a regular file: never a device (``/dev/null`` as root would
  replace the system's), a FIFO (opening it blocks), a socket or a directory;
* a new file is created with ``O_CREAT|O_EXCL`` and mode 0644 before the umask (reports
  are redacted); an existing one is truncated and rewritten in place through a descriptor
  opened with ``O_NOFOLLOW`` and checked with ``fstat`` to be the very file inspected. Its
  mode and owner are kept: never chmod a file you did not create.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STDOUT = "-"
NEW_FILE_MODE = 0o644
# The kernel gives up after 40 links (ELOOP); so do we.
MAX_SYMLINKS = 40

_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
_DIR_FLAGS = _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the checks fails at once (ENXIO) instead of hanging;
# O_NOCTTY: a terminal swapped in does not become ours.
_OPEN_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


class ReportFileError(Exception):
    """The report cannot be written where asked; ``str()`` says why, for a person."""


@dataclass(frozen=True)
class _Spot:
    """The last component of a resolved path: its directory (open) and what is there."""

    dir_fd: int
    name: str
    shown: str  # the resolved path, for messages
    existing: os.stat_result | None


def is_stdout(path: Path | str | None) -> bool:
    return path is None or str(path) == STDOUT


def check_destination(path: Path) -> None:
    """Raise :class:`ReportFileError` unless a report could be written to ``path`` now."""
    if is_stdout(path):
        return
    with _located(path) as spot:
        if spot.existing is None:
            if not os.access(".", os.W_OK, dir_fd=spot.dir_fd):
                raise ReportFileError(f"{path}: its directory is not writable")
        else:
            _require_regular(path, spot)
            if not os.access(spot.name, os.W_OK, dir_fd=spot.dir_fd, follow_symlinks=False):
                raise ReportFileError(f"{path} is not writable")


def write_report(path: Path | None, text: str, *, mode: int = NEW_FILE_MODE) -> None:
    """Write ``text`` to ``path`` (standard output for None or ``-``) as described above;
    ``mode``: a new file's permissions (0600 for a report that quotes the audit log)."""
    if path is None or is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    data = text.encode("utf-8")
    with _located(path) as spot:
        fd = _open(path, spot, mode)
        try:
            _write_all(fd, data)
        except OSError as exc:
            raise ReportFileError(f"{path}: writing failed: {exc.strerror}") from None
        finally:
            os.close(fd)


def _open(path: Path, spot: _Spot, mode: int) -> int:
    """A descriptor on the report file: created new, or the inspected file, truncated."""
    if spot.existing is None:
        try:
            return os.open(spot.name, _CREATE_FLAGS, mode, dir_fd=spot.dir_fd)
        except FileExistsError:
            raise ReportFileError(
                f"{path} appeared while the checks ran; look at what it is, then run again"
            ) from None
        except OSError as exc:
            raise ReportFileError(f"{path} cannot be created: {exc.strerror}") from None
    _require_regular(path, spot)
    try:
        fd = os.open(spot.name, _OPEN_FLAGS, dir_fd=spot.dir_fd)
    except OSError as exc:
        # ELOOP: it became a symlink; ENXIO: a FIFO with no reader. Either way, not ours.
        raise ReportFileError(f"{path} cannot be opened: {exc.strerror}") from None
    try:
        now = os.fstat(fd)
        before = spot.existing
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (
            before.st_dev,
            before.st_ino,
        ):
            raise ReportFileError(
                f"{path} was replaced while the checks ran; look at what it is, then run again"
            )
        os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _require_regular(path: Path, spot: _Spot) -> None:
    existing = spot.existing
    if existing is None or stat.S_ISREG(existing.st_mode):
        if existing is not None and existing.st_nlink > 1:
            raise ReportFileError(
                f"{path} has {existing.st_nlink} hard links: rewriting it would change the "
                "other names too; name a new file"
            )
        return
    kind = next((k for test, k in _KINDS if test(existing.st_mode)), "not a regular file")
    where = "" if spot.shown == os.path.normpath(path) else f" (through symlinks: {spot.shown})"
    raise ReportFileError(f"{path} is {kind}{where}; name a new or existing regular file")


@contextlib.contextmanager
def _located(path: Path) -> Iterator[_Spot]:
    """Resolve ``path`` component by component; yield its last component, directory open."""
    text = os.fspath(path)
    absolute = text.startswith("/")
    dir_fd = _open_dir("/" if absolute else ".", None, path)
    shown = "/" if absolute else "."
    pending = [c for c in text.split("/") if c]
    links = 0
    try:
        while True:
            name = pending.pop(0) if pending else "."
            last = not pending
            if name in (".", ".."):
                if last:
                    raise ReportFileError(f"{path} is a directory; name a file")
                dir_fd = _swap(dir_fd, _open_dir(name, dir_fd, path))
                shown = os.path.normpath(os.path.join(shown, name))
                continue
            here = os.path.normpath(os.path.join(shown, name))
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    yield _Spot(dir_fd, name, here, None)
                    return
                raise ReportFileError(f"{path}: the directory {here} does not exist") from None
            except OSError as exc:
                raise ReportFileError(f"{path}: {here}: {exc.strerror}") from None
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    raise ReportFileError(f"{path}: too many symlinks")
                _trust_link(path, here, st)
                target = os.readlink(name, dir_fd=dir_fd)
                if target.startswith("/"):
                    dir_fd, shown = _swap(dir_fd, _open_dir("/", None, path)), "/"
                # A trailing slash makes the target a directory: "." keeps that meaning.
                tail = ["."] if target.endswith("/") and last else []
                pending = [c for c in target.split("/") if c] + tail + pending
                continue
            if last:
                yield _Spot(dir_fd, name, here, st)
                return
            if not stat.S_ISDIR(st.st_mode):
                raise ReportFileError(f"{path}: {here} is not a directory")
            opened = _open_dir(name, dir_fd, path)
            now = os.fstat(opened)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                os.close(opened)
                raise ReportFileError(f"{path}: {here} changed while being checked; run again")
            dir_fd, shown = _swap(dir_fd, opened), here
    finally:
        os.close(dir_fd)


def _open_dir(name: str, dir_fd: int | None, path: Path) -> int:
    try:
        # O_NOFOLLOW: a symlink here was not inspected; it must fail, not be followed.
        return os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot open directory {name}: {exc.strerror}") from None


def _swap(old: int, new: int) -> int:
    os.close(old)
    return new


def _trust_link(path: Path, here: str, st: os.stat_result) -> None:
    """Follow only our own links and root's (the system's): another user's link, e.g. in
    a sticky /tmp, would make us write wherever that user chose."""
    if st.st_uid in (os.geteuid(), 0):
        return
    which = str(path) if here == os.path.normpath(path) else f"{path}: {here}"
    raise ReportFileError(
        f"{which} is a symlink owned by {_owner(st.st_uid)}, not by you; refusing to "
        "follow it (remove it, or write the report elsewhere)"
    )


def _owner(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
