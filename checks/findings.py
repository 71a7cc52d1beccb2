"""Reading the deployment's values: booleans, numbers, URLs and placeholders, and ``Findings``;
for the checks of every pane.

Every check that reads the env file collects what it finds in a :class:`Findings` and turns it
into one outcome at the end, so a file with three mistakes reports all three at once. Messages
name variables, never their values: most values here are secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from checks.core import Outcome, failed, passed, warned
from checks.settings import DeploymentEnv
from checks.urls import ParsedURL, URLError, parse_url

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
# ASCII digits only: int() also takes Arabic-Indic or full-width digits, which no one
# means in an env file.
_INT = re.compile(r"[+-]?[0-9]+")
# A quintillion is past any lifetime, port or count; more digits is a typo or an attack
# (int() refuses beyond 4300 digits with an exception, and huge values overflow timedelta).
MAX_DIGITS = 18

# The checklist's samples: ``<generate_with_openssl_rand_hex_32>``, ``sk_live_<your_live_key>``,
# ``https://your-project.supabase.co`` and friends.
# Angle brackets around words only, so "Name <user@example.com>" is not taken for one.
_ANGLE_PLACEHOLDER = re.compile(r"<[\w -]+>")
_PLACEHOLDER_WORDS = re.compile(r"your_|your-|changeme|change-me|placeholder", re.IGNORECASE)
# "todo" only as a word and "xxxx" only in one case: random keys contain such letters by chance.
_PLACEHOLDER_TODO = re.compile(r"(?<![a-z0-9])todo(?![a-z0-9])", re.IGNORECASE)
_PLACEHOLDER_XS = re.compile(r"xxxx|XXXX")


def parse_bool(raw: str | None) -> bool | None:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` in any case; None for anything else."""
    if raw is None:
        return None
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None


def parse_int(raw: str | None) -> int | None:
    """A whole number written in plain digits (no ``1_000``, no ``3.0``), of at most
    :data:`MAX_DIGITS` digits; None otherwise (see :func:`is_oversized_int` for why)."""
    if raw is None or not _INT.fullmatch(raw.strip()) or is_oversized_int(raw):
        return None
    return int(raw.strip())


def is_oversized_int(raw: str) -> bool:
    """Digits enough to be a number, but more of them than any sensible setting has."""
    text = raw.strip()
    return bool(_INT.fullmatch(text)) and len(text.lstrip("+-")) > MAX_DIGITS


def is_placeholder(value: str) -> bool:
    """True for the deployment checklist's sample values, which must never ship."""
    patterns = (_ANGLE_PLACEHOLDER, _PLACEHOLDER_WORDS, _PLACEHOLDER_TODO, _PLACEHOLDER_XS)
    return any(p.search(value) for p in patterns) or _is_sample_url(value)


def _is_sample_url(value: str) -> bool:
    # The checklist's DATABASE_URL and REDIS_URL: ``user:password@host``.
    if "://" not in value:
        return False
    try:
        parts = parse_url(value.strip())
    except URLError:
        return False
    return (parts.host or "").lower() == "host" or parts.password == "password"


def is_production(env: DeploymentEnv) -> bool:
    return (env.get("APP_ENV") or "").strip().lower() == "production"


class Findings:
    """What one check found wrong (failures) or doubtful (warnings), with hints and fixes."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.warnings: list[str] = []
        self._hints: list[str] = []
        self._actions: list[str] = []

    def fail(self, problem: str, hint: str = "", action: str | None = None) -> None:
        self.failures.append(problem)
        self._remember(hint, action)

    def warn(self, problem: str, hint: str = "", action: str | None = None) -> None:
        self.warnings.append(problem)
        self._remember(hint, action)

    def _remember(self, hint: str, action: str | None) -> None:
        if hint and hint not in self._hints:
            self._hints.append(hint)
        if action and action not in self._actions:
            self._actions.append(action)

    def outcome(self, ok_message: str, **evidence: object) -> Outcome:
        """Fail if anything failed, warn if anything is doubtful, else pass with ``ok_message``.

        Evidence that could not be determined (None) is left out.
        """
        hint = " ".join(self._hints)
        evidence = {key: value for key, value in evidence.items() if value is not None}
        if self.failures:
            message = _sentence(self.failures)
            if self.warnings:
                message += f" Also: {_sentence(self.warnings)}"
            return failed(message, hint, self._actions, **evidence)
        if self.warnings:
            return warned(_sentence(self.warnings), hint, self._actions, **evidence)
        return passed(ok_message, **evidence)


def _sentence(parts: Iterable[str]) -> str:
    text = "; ".join(parts)
    first_word = text.split(" ", 1)[0]
    # Capitalise prose, not a name: "production.env is readable", not "Production.env".
    if "." in first_word or "_" in first_word or first_word.isupper():
        return text + "."
    return text[:1].upper() + text[1:] + "."


def require(
    env: DeploymentEnv, name: str, findings: Findings, action: str | None = None
) -> str | None:
    """The value of ``name``, or None after recording that it is unset or a placeholder."""
    value = env.get(name)
    if value is None:
        findings.fail(f"{name} is not set", f"Set {name} in {env.path.name}.", action)
        return None
    if is_placeholder(value):
        findings.fail(
            f"{name} is still the checklist's placeholder",
            f"Replace the sample value of {name} with the real one.",
            action,
        )
        return None
    return value


def require_bool(env: DeploymentEnv, name: str, findings: Findings) -> bool | None:
    raw = require(env, name, findings)
    if raw is None:
        return None
    value = parse_bool(raw)
    if value is None:
        findings.fail(f"{name} is not a boolean", f"Write {name}=true or {name}=false.")
    return value


def require_int(env: DeploymentEnv, name: str, findings: Findings) -> int | None:
    raw = require(env, name, findings)
    if raw is None:
        return None
    value = parse_int(raw)
    if is_oversized_int(raw):
        findings.fail(
            f"{name} is not a sensible number (more than {MAX_DIGITS} digits)",
            f"Write the intended value of {name}; a stray paste or repeated key press?",
        )
    elif value is None:
        findings.fail(f"{name} is not a whole number", f"Write {name} in plain digits.")
    return value


def require_url(
    env: DeploymentEnv, name: str, findings: Findings, *, host_in_query: bool = False
) -> ParsedURL | None:
    """``name`` read as the app reads URLs (:mod:`checks.urls`), with a port number (if any)
    and a host; None after recording why not. ``host_in_query`` accepts a URL that names its
    server only in the query (PostgreSQL's ``?host=/var/run/postgresql``)."""
    raw = require(env, name, findings)
    if raw is None:
        return None
    try:
        parsed = parse_url(raw.strip())
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise URLError("its port is not between 1 and 65535")
    except URLError as exc:
        findings.fail(
            f"{name} cannot be parsed as a URL ({exc})",
            f"Check {name}: scheme://user:password@host:port/path, with special characters "
            "in the password percent-encoded.",
        )
        return None
    if parsed.host is not None and "@" in parsed.host:
        # No host name holds "@": the password does, unencoded, and its tail reads as host.
        findings.fail(
            f"{name} has an unencoded @ in its password",
            f"Write @ in the password of {name} as %40.",
        )
        return None
    if not parsed.host and not (host_in_query and parsed.query_values("host")):
        findings.fail(f"{name} has no host", f"Put the server's host name in {name}.")
        return None
    return parsed


def require_https_url(env: DeploymentEnv, name: str, findings: Findings) -> ParsedURL | None:
    """Like :func:`require_url`, and the scheme must be https."""
    parsed = require_url(env, name, findings)
    if parsed is not None and parsed.scheme.lower() != "https":
        findings.fail(
            f"{name} uses {parsed.scheme}, not https",
            f"Use the https:// address for {name}; credentials must not cross the network "
            "in clear text.",
        )
        return None
    return parsed
