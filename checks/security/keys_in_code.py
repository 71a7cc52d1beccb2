"""Security pane, "API keys in environment, not in code": live keys in the app's tracked files.

Provides check ``sec.keys-in-code``. It lists the files git tracks in TOOLBOX_CODE_DIR (default
APP_DIR) and looks in each for the shapes of live keys (Stripe ``sk_live_``/``rk_live_``/
``whsec_``, SendGrid ``SG.``, Fernet keys assigned in code, Vault tokens, AWS access key ids,
PEM private keys) and for the env file's own secret values, whatever their shape. A tracked env
file (``.env``, ``.env.production``: not the ``.env.example`` kind) is a failure by itself.

Only tracked files are "the code": a checkout on a server also holds the env file, its backups,
logs and caches, which legitimately hold keys. So the scan needs git; without a repository, or
with nothing in it to read (an empty repository, a folder git does not track), it warns, and
says to point TOOLBOX_CODE_DIR at the app's clone. File names need not be UTF-8: each is read
under its own name, and shown with its undecodable bytes replaced.

Nothing found is ever shown: a finding names the file, the line, the kind of key and at most
its public prefix (``sk_live_…``). Placeholders (``sk_live_<your_live_key>``) and test keys
(``sk_test_``) are not findings. Binary files and files over 1 MiB are skipped and counted.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import os
import re
import stat
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from checks import subprocesses
from checks.checklist import SECURITY
from checks.context import CheckContext
from checks.core import Outcome, Status, check, passed, warned
from checks.findings import is_placeholder
from checks.literals import LiteralSet
from checks.security import PANE
from checks.settings import DeploymentEnv, is_secret_name, url_password

SETTING = "TOOLBOX_CODE_DIR"
MAX_FILE_BYTES = 1024 * 1024
SHOWN_FINDINGS = 5  # in the message; the evidence lists every one
CHECK_TIMEOUT = 60.0  # a large repository is a few thousand files read once
BINARY_SNIFF_BYTES = 8192  # git's own test: a NUL byte near the start means binary
MIN_KNOWN_SECRET = 12  # shorter env values are words and numbers, found everywhere
# Files that document the variables with sample values: code, scanned like code.
EXAMPLE_ENV_FILES = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})
# Secret enough to mask, but made to ship in browser code: Supabase's anon key.
PUBLIC_IN_CODE = frozenset({"SUPABASE_KEY"})
# Sample values that is_placeholder does not know, e.g. AWS's documented AKIAIOSFODNN7EXAMPLE.
_SAMPLE_WORDS = re.compile(r"example|dummy|fake|sample|redacted|your", re.IGNORECASE)
# Where a key's surrounding token ends: quotes, spaces and punctuation of code, and the = or :
# of an assignment (a sample is told by the value, not by the name it is given).
_TOKEN_END = frozenset(" \t\r\n\"'`,;:=()[]{}")

_B64 = r"A-Za-z0-9_\-"  # url-safe base64, ready for a [character class]


def _mixed(token: str) -> bool:
    """A random token, not a word: lower and upper case letters and a digit."""
    return (
        any(c.islower() for c in token)
        and any(c.isupper() for c in token)
        and any(c.isdigit() for c in token)
    )


def _fernet_sized(token: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(token)) == 32
    except ValueError:
        return False


@dataclass(frozen=True)
class KeyShape:
    """A kind of live key: how it looks, and what of it may be shown (its public prefix)."""

    kind: str
    pattern: re.Pattern[str]
    shown: Callable[[re.Match[str]], str]
    accept: Callable[[str], bool] = lambda key: True
    """A second look at the key itself (group ``key``) for shapes that words can take."""


def _prefix(text: str) -> Callable[[re.Match[str]], str]:
    return lambda match: f"{text}…"


SHAPES: tuple[KeyShape, ...] = (
    KeyShape(
        "Stripe secret key",
        re.compile(r"(?<![A-Za-z0-9_])(?P<key>sk_live_[A-Za-z0-9]{20,})"),
        _prefix("sk_live_"),
    ),
    KeyShape(
        "Stripe restricted key",
        re.compile(r"(?<![A-Za-z0-9_])(?P<key>rk_live_[A-Za-z0-9]{20,})"),
        _prefix("rk_live_"),
    ),
    KeyShape(
        "Stripe webhook secret",
        re.compile(r"(?<![A-Za-z0-9_])(?P<key>whsec_[A-Za-z0-9+/=]{20,})"),
        _prefix("whsec_"),
    ),
    KeyShape(
        "SendGrid API key",
        re.compile(rf"(?<![{_B64}.])(?P<key>SG\.[{_B64}]{{22}}\.[{_B64}]{{43}})(?![{_B64}])"),
        _prefix("SG."),
    ),
    KeyShape(
        "Vault token",
        re.compile(rf"(?<![{_B64}.])(?P<key>hv[sb]\.[{_B64}]{{24,}})"),
        lambda match: f"{match.group('key')[:4]}…",
    ),
    KeyShape(
        "Vault token (legacy)",
        re.compile(r"(?<![A-Za-z0-9_.$])(?P<key>s\.[A-Za-z0-9]{24})(?![A-Za-z0-9_])"),
        _prefix("s."),
        accept=lambda key: _mixed(key[2:]),
    ),
    KeyShape(
        "AWS access key id",
        re.compile(r"(?<![A-Z0-9])(?P<key>AKIA[0-9A-Z]{16})(?![A-Z0-9])"),
        _prefix("AKIA"),
    ),
    KeyShape(
        "private key (PEM)",
        # The header alone is a constant that key-handling code may well hold; with key
        # material after it (a newline, or a written-out \n in a string), it is a key.
        re.compile(
            r"-----BEGIN (?P<key>(?:[A-Z]+ )?PRIVATE KEY(?: BLOCK)?)-----"
            r"(?:\s|\\[rn])+[A-Za-z0-9+/]{16}"
        ),
        lambda match: f"BEGIN {match.group('key')}",
    ),
    KeyShape(
        "Fernet key",
        # Assigned (= or :) or passed (Fernet(b"...")): a 44-character url-safe base64 value.
        re.compile(rf"(?:[=:(,]|=>)\s*[bBrRuU]{{0,2}}[\"'`]?(?P<key>[{_B64}]{{43}}=)(?![{_B64}=])"),
        lambda match: "44 characters",
        accept=_fernet_sized,
    ),
)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    shown: str = ""

    @property
    def place(self) -> str:
        path = shown_path(self.path)
        return f"{path}:{self.line}" if self.line else path

    @property
    def what(self) -> str:
        return f"{self.kind} ({self.shown})" if self.shown else self.kind

    def describe(self) -> str:
        return f"{self.place} {self.what}"


@dataclass
class Scan:
    """What the scan found, and how much it could not read."""

    findings: list[Finding] = field(default_factory=list)
    scanned: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def skipped_text(self) -> str:
        return ", ".join(f"{count} {why}" for why, count in sorted(self.skipped.items()))


def is_env_file(path: str) -> bool:
    """``.env`` and ``.env.<anything>`` but the example kinds: files of real values."""
    name = PurePosixPath(path).name
    return name == ".env" or (name.startswith(".env.") and name not in EXAMPLE_ENV_FILES)


def known_secrets(env: DeploymentEnv) -> dict[str, str]:
    """The env file's secret values worth looking for in code, each with what to call it."""
    known: dict[str, str] = {}
    for name, value in env.values.items():
        if name in PUBLIC_IN_CODE:
            continue
        candidates = []
        if is_secret_name(name):
            candidates.append((value.strip(), f"the value of {name}"))
        password = url_password(value)
        if password:
            candidates.append((password, f"the password in {name}"))
        for secret, label in candidates:
            if len(secret) >= MIN_KNOWN_SECRET and not is_placeholder(secret):
                known.setdefault(secret, label)
    return known


def _token_around(text: str, start: int, end: int) -> str:
    while start > 0 and text[start - 1] not in _TOKEN_END:
        start -= 1
    while end < len(text) and text[end] not in _TOKEN_END:
        end += 1
    return text[start:end]


def _is_sample(token: str) -> bool:
    return is_placeholder(token) or _SAMPLE_WORDS.search(token) is not None


def find_keys(
    text: str, known: Mapping[str, str], literals: LiteralSet | None
) -> list[tuple[int, str, str]]:
    """(offset, kind, shown) of every key in ``text``, in order of offset."""
    found: dict[int, tuple[str, str]] = {}
    for shape in SHAPES:
        for match in shape.pattern.finditer(text):
            key = match.group("key")
            if not shape.accept(key):
                continue
            if _is_sample(_token_around(text, match.start("key"), match.end("key"))):
                continue
            found.setdefault(match.start("key"), (shape.kind, shape.shown(match)))
    if literals is not None:

        def note(match: re.Match[str]) -> str:
            label = known[match.group(0)]
            shaped = found.get(match.start())
            # A live key of a known shape that is also this deployment's: say both.
            found[match.start()] = (f"{shaped[0]}, {label}", shaped[1]) if shaped else (label, "")
            return ""

        literals.sub(note, text)
    return [(offset, *found[offset]) for offset in sorted(found)]


def _read_text(path: Path, scan: Scan) -> str | None:
    """The file's text, or None after counting why it was skipped. Never follows a link and
    never blocks on a FIFO: git tracks links as links, and the target may be anything."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        scan.skipped["missing from the checkout"] += 1
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            scan.skipped["symbolic links"] += 1
        else:
            scan.skipped["unreadable"] += 1
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            scan.skipped["not regular files"] += 1
            return None
        if info.st_size > MAX_FILE_BYTES:
            scan.skipped["over 1 MiB"] += 1
            return None
        chunks = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        scan.skipped["unreadable"] += 1
        return None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_FILE_BYTES:
        scan.skipped["over 1 MiB"] += 1  # it grew since fstat
        return None
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        scan.skipped["binary"] += 1
        return None
    return data.decode("utf-8", errors="replace")


def scan_files(
    root: Path, paths: Iterable[str], known: Mapping[str, str], stop: threading.Event
) -> Scan:
    """Read each tracked file under ``root`` once (in a thread: this is blocking work)."""
    scan = Scan()
    literals = LiteralSet(list(known)) if known else None
    for path in paths:
        if stop.is_set():
            break  # the check was cancelled or timed out: nobody waits for the rest
        if is_env_file(path):
            scan.findings.append(Finding(path, 0, "an env file tracked by git"))
            continue
        text = _read_text(root / path, scan)
        if text is None:
            continue
        scan.scanned += 1
        for offset, kind, shown in find_keys(text, known, literals):
            scan.findings.append(Finding(path, text.count("\n", 0, offset) + 1, kind, shown))
    return scan


class NoRepository(Exception):
    """The code directory cannot be listed by git; the message says why, for a person."""


LIST_TIMEOUT = 30.0  # git ls-files of a few hundred thousand files takes a second or two


async def tracked_files(root: Path, log: Callable[[str], None]) -> list[str]:
    """The paths git tracks under ``root``, relative to it, as the file system names them.

    ``git ls-files -z``: a name need not be UTF-8, so each is decoded as Python decodes
    file names (undecodable bytes kept as surrogate escapes), and opening it reaches the
    very file; :func:`shown_path` is how it is shown.
    """
    if not root.is_dir():
        raise NoRepository(f"{root} is not a directory")
    argv = [
        "git",
        # A repository's own config could name a program to run (core.fsmonitor): not ours.
        "-c",
        "core.fsmonitor=false",
        "ls-files",
        "-z",
    ]
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        listed = await _listing(argv, env, root, log)
    except FileNotFoundError:
        raise NoRepository("git is not installed on this host") from None
    except TimeoutError:
        raise NoRepository(f"git ls-files did not finish within {LIST_TIMEOUT:g} s") from None
    if not listed.ok:
        said = " ".join(" ".join(listed.stderr_lines).split())
        said = said or f"exit status {listed.returncode}"
        if "not a git repository" in said:
            raise NoRepository(f"{root} is not a git repository")
        raise NoRepository(f"git could not list the files of {root}: {said}")
    return [name for name in listed.stdout.split("\0") if name]


async def _listing(
    argv: list[str], env: Mapping[str, str], cwd: Path, log: Callable[[str], None] | None = None
) -> subprocesses.Completed:
    """Run ``argv`` (git ls-files) to its end, its stdout decoded as file names are.

    Killed with its process group when we are cancelled or it overruns
    :data:`LIST_TIMEOUT`, at once: git ls-files only reads, so nothing is left half-done.
    """
    async with asyncio.timeout(LIST_TIMEOUT):
        return await subprocesses.run(
            argv,
            env=env,
            cwd=cwd,
            log=log,
            capture_stdout=True,
            interrupt_grace=0,
            decode_errors="surrogateescape",
        )


def shown_path(path: str) -> str:
    """``path`` as it can be shown: bytes of a name that are not UTF-8 as \ufffd."""
    return os.fsencode(path).decode("utf-8", "replace")


def _tracked_env_file(ctx: CheckContext, root: Path, paths: Sequence[str]) -> str | None:
    """The configured env file's path in the repository when git tracks it (any name)."""
    try:
        relative = ctx.config.env_file.resolve().relative_to(root.resolve()).as_posix()
    except (OSError, ValueError):
        return None
    return relative if relative in set(paths) and not is_env_file(relative) else None


def outcome(root: Path, scan: Scan, files: int) -> Outcome:
    """PASS, or FAIL listing the first findings (the evidence holds every one)."""
    read = f"{scan.scanned} tracked {'file' if scan.scanned == 1 else 'files'} read"
    evidence: dict[str, str] = {"repository": str(root), "tracked files": str(files)}
    evidence["read"] = str(scan.scanned)
    if scan.skipped:
        read += f", {sum(scan.skipped.values())} skipped: {scan.skipped_text()}"
        evidence["skipped"] = scan.skipped_text()
    if not scan.findings and not scan.scanned:
        # Nothing read is no proof of no keys: an empty repository, a folder git does not
        # track (inside another clone), or files that could not be read.
        why = (
            f"git tracks no file in {root}"
            if not files
            else f"none of the {files} file(s) git tracks in {root} could be read "
            f"({scan.skipped_text()})"
        )
        return warned(
            f"Nothing was scanned for keys: {why}.",
            f"Set {SETTING} to the app's git clone, with its code committed or added (it "
            "defaults to APP_DIR).",
            **evidence,
        )
    if not scan.findings:
        return passed(f"No live keys in {root} ({read}).", **evidence)
    findings = sorted(scan.findings, key=lambda f: (f.path, f.line))
    for finding in findings:
        key = finding.place
        evidence[key] = f"{evidence[key]}; {finding.what}" if key in evidence else finding.what
    shown = "; ".join(f.describe() for f in findings[:SHOWN_FINDINGS])
    more = len(findings) - SHOWN_FINDINGS
    if more > 0:
        shown += f"; and {more} more (the evidence lists every one)"
    hints = []
    if any(f.line for f in findings):
        hints.append(
            "Move each key to the env file (or Vault) and read it from the environment; it "
            "is in git's history now, so also rotate it at its provider."
        )
    if any(not f.line for f in findings):
        hints.append(
            "Untrack each env file (git rm --cached <file>), add it to .gitignore, and "
            "rotate every secret it holds."
        )
    noun = "finding" if len(findings) == 1 else "findings"
    return Outcome(
        Status.FAIL,
        f"{len(findings)} {noun} in {root} ({read}): {shown}.",
        " ".join(hints),
        evidence,
    )


@check(
    id="sec.keys-in-code",
    pane=PANE,
    title="No API keys in the code",
    timeout=CHECK_TIMEOUT,
    checklist=(SECURITY, "API keys in environment, not in code"),
)
async def keys_in_code(ctx: CheckContext) -> Outcome:
    root = ctx.config.code_path
    try:
        paths = await tracked_files(root, ctx.log)
    except NoRepository as exc:
        return warned(
            f"Not scanned for keys: {exc}. The scan reads the files git tracks (the code), "
            "not a checkout's env files, logs and backups.",
            f"Set {SETTING} to the app's git clone (it defaults to APP_DIR).",
        )
    ctx.log(f"git tracks {len(paths)} files in {root}.")
    stop = threading.Event()
    try:
        scan = await asyncio.to_thread(scan_files, root, paths, known_secrets(ctx.env), stop)
    finally:
        stop.set()  # cancelled (a timeout, a quit): the thread stops at the next file
    env_file = _tracked_env_file(ctx, root, paths)
    if env_file is not None:
        scan.findings.append(Finding(env_file, 0, "the env file (TOOLBOX_ENV_FILE) tracked by git"))
    return outcome(root, scan, len(paths))
