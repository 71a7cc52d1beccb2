"""Reading the deployment's values: booleans, numbers, URLs and placeholders, and ``Findings``.

Every environment check collects what it finds in a :class:`Findings` and turns it into one
outcome at the end, so a file with three mistakes reports all three at once. Messages name
variables, never their values: most values here are secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from checks.core import Outcome, failed, passed, warned
from checks.settings import DeploymentEnv

PANE = "environment"
ENV_FILE_CHECK = "env.file"

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_INT = re.compile(r"[+-]?\d+")

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
    """A whole number written in plain digits (no ``1_000``, no ``3.0``); None otherwise."""
    if raw is None or not _INT.fullmatch(raw.strip()):
        return None
    return int(raw.strip())


def is_placeholder(value: str) -> bool:
    """True for the deployment checklist's sample values, which must never ship."""
    patterns = (_ANGLE_PLACEHOLDER, _PLACEHOLDER_WORDS, _PLACEHOLDER_TODO, _PLACEHOLDER_XS)
    return any(p.search(value) for p in patterns) or _is_sample_url(value)


def _is_sample_url(value: str) -> bool:
    # The checklist's DATABASE_URL and REDIS_URL: ``user:password@host``.
    if "://" not in value:
        return False
    try:
        parts = urlsplit(value)
        return parts.hostname == "host" or parts.password == "password"
    except ValueError:
        return False


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
    if value is None:
        findings.fail(f"{name} is not a whole number", f"Write {name} in plain digits.")
    return value


def require_url(env: DeploymentEnv, name: str, findings: Findings) -> SplitResult | None:
    """``name`` split into a URL whose port (if any) is a number; None after recording why not."""
    raw = require(env, name, findings)
    if raw is None:
        return None
    try:
        parts = urlsplit(raw.strip())
        parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        findings.fail(
            f"{name} cannot be parsed as a URL (is the port a number?)",
            f"Check {name}: scheme://user:password@host:port/path, with special characters "
            "in the password percent-encoded.",
        )
        return None
    if not parts.hostname:
        findings.fail(f"{name} has no host", f"Put the server's host name in {name}.")
        return None
    return parts


def require_https_url(env: DeploymentEnv, name: str, findings: Findings) -> SplitResult | None:
    """Like :func:`require_url`, and the scheme must be https."""
    parts = require_url(env, name, findings)
    if parts is not None and parts.scheme.lower() != "https":
        findings.fail(
            f"{name} uses {parts.scheme or 'no scheme'}, not https",
            f"Use the https:// address for {name}; credentials must not cross the network "
            "in clear text.",
        )
        return None
    return parts
