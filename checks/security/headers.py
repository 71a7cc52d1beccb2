"""Security pane, the headers the running app sends: ``sec.hsts`` and ``sec.headers``.

``sec.hsts`` reads Strict-Transport-Security on ``/`` and ``/api/health`` below
TOOLBOX_TARGET_URL; ``sec.headers`` reads the headers that guard the dashboard page ``/`` in
the browser: Content-Security-Policy, X-Content-Type-Options, framing protection and
Referrer-Policy. HSTS is judged by ``sec.hsts`` alone, so an app without it fails that one
check, and over https only (it skips a plain-http loopback target). Both skip without
TOOLBOX_TARGET_URL. Every problem names the header and the value to send instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checks.checklist import SECURITY
from checks.context import CheckContext
from checks.core import Outcome, Status, check
from checks.findings import Findings
from checks.security import PANE
from checks.security.asking import SEQUENCE_TIMEOUT, SINGLE_TIMEOUT, page
from checks.security.verdicts import said_once, server_error
from checks.web import Answer, no_target, target

HSTS = "Strict-Transport-Security"
HSTS_PATHS = ("/", "/api/health")
HSTS_MIN_AGE = 15_552_000  # 180 days: the shortest max-age commonly called sane
HSTS_VALUE = "max-age=31536000; includeSubDomains"
_DAY = 86_400
_DIGITS = re.compile(r"[0-9]{1,18}")  # more digits is no number anyone meant

CSP = "Content-Security-Policy"
CSP_VALUE = "default-src 'self'; frame-ancestors 'none'"
# 'unsafe-inline' is ignored by browsers when a nonce, a hash or 'strict-dynamic' is there.
_INLINE_OVERRIDES = ("'nonce-", "'sha256-", "'sha384-", "'sha512-", "'strict-dynamic'")
_ANY_SOURCE = frozenset({"*", "https:", "http:"})
_SAFE_REFERRER = frozenset(
    {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
)
# Known to browsers, but each sends more than the origin to other sites (or over http).
_WEAK_REFERRER = frozenset(
    {"unsafe-url", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin"}
)
REFERRER_VALUE = "strict-origin-when-cross-origin"


# --- Strict-Transport-Security ------------------------------------------------------------


@dataclass(frozen=True)
class Hsts:
    """One Strict-Transport-Security value, as a browser reads it (RFC 6797)."""

    max_age: int | None
    """None when the directive is missing or not a number: the browser ignores the header."""
    include_subdomains: bool

    @classmethod
    def parse(cls, value: str) -> Hsts:
        directives: dict[str, str] = {}
        for part in value.split(";"):
            name, _, argument = part.partition("=")
            directives.setdefault(name.strip().lower(), argument.strip().strip('"'))
        age = directives.get("max-age", "")
        return cls(
            int(age) if _DIGITS.fullmatch(age) else None,
            "includesubdomains" in directives,
        )


def _duration(seconds: int) -> str:
    """``90 days``, ``1 day``, ``2 h``, ``100 s``: how long a browser keeps to HTTPS."""
    for unit, size in (("day", _DAY), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = seconds // size
            plural = "s" if unit == "day" and count != 1 else ""
            return f"{count} {unit}{plural}"
    return f"{seconds} s"


def _hsts_problems(answer: Answer) -> list[tuple[bool, str]]:
    """``(fatal, problem)`` for one answer; ``{where}`` in a problem stands for the endpoint,
    so the same problem on several endpoints is said once."""
    values = answer.header_values(HSTS)
    if not values:
        return [(True, f"{HSTS} is missing on {{where}}")]
    hsts = Hsts.parse(values[0])  # a browser reads only the first (RFC 6797 8.1)
    sent = answer.shown(values[0])
    if hsts.max_age is None:
        return [(True, f"{HSTS} on {{where}} has no valid max-age ({sent}): browsers ignore it")]
    if hsts.max_age == 0:
        return [(True, f"{HSTS} on {{where}} has max-age=0, which tells browsers to drop HSTS")]
    problems = []
    if hsts.max_age < HSTS_MIN_AGE:
        problems.append(
            (
                False,
                f"{HSTS} on {{where}} has max-age={hsts.max_age} ({_duration(hsts.max_age)}), "
                "under the 180 days it should last",
            )
        )
    if not hsts.include_subdomains:
        # A warning, not a failure: a subdomain still on http can set cookies for the whole
        # site, but some sites keep such subdomains on purpose, which we cannot see from here.
        problems.append(
            (
                False,
                f"{HSTS} on {{where}} lacks includeSubDomains: a subdomain reached over "
                "http:// can still plant cookies for the site",
            )
        )
    return problems


@check(
    id="sec.hsts",
    pane=PANE,
    title="HSTS (Strict-Transport-Security)",
    timeout=SEQUENCE_TIMEOUT,  # two pages, one after the other
    checklist=(SECURITY, "Security headers"),
    partial="the other security headers (CSP, nosniff, framing, Referrer-Policy): sec.headers",
)
async def hsts(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    if where.base.lower().startswith("http://"):
        # Only a loopback address is allowed in clear (checks.web.target), for local testing:
        # skipped, as the tls.* checks skip it.
        return Outcome(
            Status.SKIP,
            "TOOLBOX_TARGET_URL is http:// (a loopback address): HSTS is judged over https "
            f"only (browsers ignore {HSTS} sent over plain http), so it was not asked.",
            hint="Set TOOLBOX_TARGET_URL to the app's https:// address to judge it.",
        )
    answers = [await page(ctx, where, path) for path in HSTS_PATHS]
    for answer in answers:
        if (broken := server_error(answer, "GET")) is not None:
            return broken
    findings = Findings()
    hint = (
        f"Send '{HSTS}: {HSTS_VALUE}' on every HTTPS answer, from the app or its proxy "
        f'(nginx: add_header {HSTS} "{HSTS_VALUE}" always;).'
    )
    said_once(
        (
            (a.endpoint, fatal, problem, hint)
            for a in answers
            for fatal, problem in _hsts_problems(a)
        ),
        findings,
    )
    first = answers[0].header_values(HSTS)
    sent = answers[0].shown(first[0]) if first else "(not sent)"
    return findings.outcome(
        f"HSTS is sent ({HSTS}: {sent}) by {' and '.join(a.endpoint for a in answers)}.",
        hsts=sent,
        **answers[0].evidence(),
    )


# --- the headers that guard the page ------------------------------------------------------


def csp_policies(answer: Answer) -> list[dict[str, list[str]]]:
    """Every policy the answer enforces (each header, each comma-separated policy in it), as
    directive -> sources, names and keywords in lower case; a repeated directive counts once,
    as browsers read it."""
    policies = []
    for value in answer.header_values(CSP):
        for text in value.split(","):
            policy: dict[str, list[str]] = {}
            for directive in text.split(";"):
                words = directive.split()
                if words:  # "default-src 'self';" ends with an empty one
                    policy.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
            if policy:
                policies.append(policy)
    return policies


def _judge_csp(answer: Answer, policies: list[dict[str, list[str]]], findings: Findings) -> None:
    hint = f"Send '{CSP}: {CSP_VALUE}', then allow only what the dashboard loads."
    if not policies:
        report_only = answer.header_values(CSP + "-Report-Only")
        why = f" (only {CSP}-Report-Only, which enforces nothing)" if report_only else ""
        findings.fail(f"{CSP} is missing{why}: an injected script would run", hint)
        return
    # A script must pass every policy; a policy without script-src falls back to default-src.
    scripts = [
        ("script-src", p["script-src"]) if "script-src" in p else ("default-src", p["default-src"])
        for p in policies
        if "script-src" in p or "default-src" in p
    ]
    if not scripts:
        findings.warn(
            f"{CSP} sets neither script-src nor default-src: scripts may come from anywhere", hint
        )
        return
    directive = scripts[0][0]
    inline = all(
        "'unsafe-inline'" in sources and not any(s.startswith(_INLINE_OVERRIDES) for s in sources)
        for _, sources in scripts
    )
    if inline:
        findings.warn(
            f"{CSP} allows 'unsafe-inline' in {directive}: an injected <script> would run",
            f"Remove 'unsafe-inline' from {directive} (move inline scripts to files, or use "
            "nonces or hashes).",
        )
    if all("'unsafe-eval'" in sources for _, sources in scripts):
        findings.warn(
            f"{CSP} allows 'unsafe-eval' in {directive}: injected text can run as code",
            f"Remove 'unsafe-eval' from {directive}.",
        )


def _judge_nosniff(answer: Answer, findings: Findings) -> str:
    values = answer.header_values("X-Content-Type-Options")
    hint = "Send 'X-Content-Type-Options: nosniff'."
    if not values:
        findings.fail(
            "X-Content-Type-Options is missing: browsers may run an upload as a script", hint
        )
        return "(not sent)"
    if values[0].strip().lower() != "nosniff":
        findings.fail(
            f"X-Content-Type-Options is {answer.shown(values[0])}, not nosniff (the only value "
            "browsers know)",
            hint,
        )
    return answer.shown(values[0])


def _judge_framing(answer: Answer, policies: list[dict[str, list[str]]], findings: Findings) -> str:
    hint = f"Add frame-ancestors 'none' to {CSP}, or send 'X-Frame-Options: DENY'."
    ancestors = [p["frame-ancestors"] for p in policies if "frame-ancestors" in p]
    if ancestors:
        # frame-ancestors wins over X-Frame-Options in every current browser.
        shown = "frame-ancestors " + " ".join(ancestors[0])
        if all(_ANY_SOURCE & set(sources) for sources in ancestors):
            findings.warn(
                f"{CSP} has {shown}: any site may frame the dashboard (clickjacking)", hint
            )
        return shown
    values = answer.header_values("X-Frame-Options")
    if not values:
        findings.fail(
            f"framing protection is missing (neither frame-ancestors in {CSP} nor "
            "X-Frame-Options): any site may frame the dashboard (clickjacking)",
            hint,
        )
        return "(none)"
    value = values[0].strip().upper()
    if value not in ("DENY", "SAMEORIGIN"):
        why = (
            "is ignored by current browsers"
            if value.startswith("ALLOW-FROM")
            else "is not DENY or SAMEORIGIN"
        )
        findings.fail(
            f"X-Frame-Options {answer.shown(values[0])} {why}: no framing protection", hint
        )
    return "X-Frame-Options " + answer.shown(values[0])


def _judge_referrer(answer: Answer, findings: Findings) -> str:
    hint = f"Send 'Referrer-Policy: {REFERRER_VALUE}'."
    tokens = [
        token.strip().lower()
        for value in answer.header_values("Referrer-Policy")
        for token in value.split(",")
    ]
    # Browsers use the last value they know (the others are fallbacks for older ones).
    known = [t for t in tokens if t in _SAFE_REFERRER or t in _WEAK_REFERRER]
    if not known:
        said = " (no value browsers know)" if tokens else ""
        # A warning: current browsers default to strict-origin-when-cross-origin; older ones
        # send full addresses, with any token in their query, to other sites.
        findings.warn(
            f"Referrer-Policy is missing{said}: older browsers send full URLs to other sites", hint
        )
        return "(not sent)"
    policy = known[-1]
    if policy in _WEAK_REFERRER:
        findings.warn(
            f"Referrer-Policy is {policy}: it sends more than the origin to other sites", hint
        )
    return policy


@check(
    id="sec.headers",
    pane=PANE,
    title="Security headers (CSP, nosniff, framing, referrer)",
    timeout=SINGLE_TIMEOUT,
    checklist=(SECURITY, "Security headers"),
)
async def security_headers(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    answer = await page(ctx, where, "/")
    if (broken := server_error(answer, "GET")) is not None:
        return broken
    findings = Findings()
    policies = csp_policies(answer)
    _judge_csp(answer, policies, findings)
    facts = {
        "content_security_policy": answer.shown(", ".join(answer.header_values(CSP)))
        or "(not sent)",
        "x_content_type_options": _judge_nosniff(answer, findings),
        "framing": _judge_framing(answer, policies, findings),
        "referrer_policy": _judge_referrer(answer, findings),
    }
    return findings.outcome(
        f"All four are sent: {CSP}, X-Content-Type-Options: nosniff, framing protection "
        f"({facts['framing']}) and Referrer-Policy: {facts['referrer_policy']}, by "
        f"{answer.endpoint}.",
        **facts,
        **answer.evidence(),
    )
