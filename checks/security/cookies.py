"""Security pane, the cookies the running app sets: ``sec.cookies``.

Reads every Set-Cookie of ``/`` below TOOLBOX_TARGET_URL and, when TOOLBOX_RATE_LIMIT_PROBE
allows failed logins (not in read-only mode), of the answer to the probe's first failed login
at TOOLBOX_LOGIN_PATH (the one sec.rate-limit counts as its first: no login is sent for this
check alone). Each cookie must be Secure and carry SameSite; a session-like one (its name
says session, auth, token...) must also be HttpOnly. With no cookie to judge, it skips, saying
where to look instead. Cookies are named, never shown: their values are sessions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checks.checklist import SECURITY
from checks.context import CheckContext
from checks.core import Outcome, Status, check
from checks.findings import Findings
from checks.security import PANE
from checks.security.asking import SEQUENCE_TIMEOUT, page
from checks.security.probe import first_failed_login
from checks.security.verdicts import server_error
from checks.web import Answer, no_target, target

# Cookies that carry who the user is; a CSRF token is read by the page's own script on purpose.
_SESSION_LIKE = re.compile(r"sess|sid|auth|token|jwt|login|remember|identity", re.IGNORECASE)
_READ_BY_SCRIPT = re.compile(r"csrf|xsrf", re.IGNORECASE)
_SAME_SITE = ("strict", "lax", "none")
_EXAMPLE = "Secure; HttpOnly; SameSite=Lax; Path=/"
NAMELESS = "(a cookie without a name)"


@dataclass(frozen=True)
class Cookie:
    """One Set-Cookie, without its value."""

    name: str
    attributes: dict[str, str]
    """Attribute names in lower case -> their values ("" for a flag)."""

    @classmethod
    def parse(cls, header: str) -> Cookie:
        pair, *parts = header.split(";")
        attributes: dict[str, str] = {}
        for part in parts:
            key, _, value = part.partition("=")
            attributes.setdefault(key.strip().lower(), value.strip())
        # Without "=", browsers take the whole pair as the value of a nameless cookie: a
        # value (maybe a session), never to be shown as a name.
        name = pair.split("=", 1)[0].strip() if "=" in pair else ""
        return cls(name, attributes)

    @property
    def session_like(self) -> bool:
        return bool(_SESSION_LIKE.search(self.name)) and not _READ_BY_SCRIPT.search(self.name)

    @property
    def deletes(self) -> bool:
        """A Set-Cookie that removes the cookie (Max-Age=0): nothing is stored to protect."""
        age = self.attributes.get("max-age", "")
        return age.startswith("-") or (age.isdigit() and int(age) == 0)


def shown_name(cookie: Cookie, answer: Answer) -> str:
    return answer.shown(cookie.name) if cookie.name else NAMELESS


def _judge(cookie: Cookie, source: str, answer: Answer, findings: Findings) -> None:
    named = f"cookie {answer.shown(cookie.name)}" if cookie.name else "cookie without a name"
    named += f" (from {source})"
    same_site = cookie.attributes.get("samesite")
    same_site_none = same_site is not None and same_site.lower() == "none"
    lacks: list[tuple[str, str]] = []
    if "secure" not in cookie.attributes:
        # SameSite=None without Secure is said here, once.
        why = "browsers refuse its SameSite=None without it" if same_site_none else ""
        lacks.append(("Secure", why or "it can be sent over plain http"))
    if cookie.session_like and "httponly" not in cookie.attributes:
        lacks.append(("HttpOnly", "any script on the page can read it"))
    hint = f"Set the app's cookies with '{_EXAMPLE}'."
    if lacks:
        flags, whys = zip(*lacks, strict=True)
        findings.fail(f"the {named} lacks {' and '.join(flags)}: {' and '.join(whys)}", hint)
    if same_site is None:
        # A warning: current browsers treat it as Lax, but not all of them.
        findings.warn(f"the {named} has no SameSite attribute", hint)
    elif same_site.lower() not in _SAME_SITE:
        findings.warn(
            f"the {named} has SameSite={answer.shown(same_site)}, not Strict, Lax or None", hint
        )


@check(
    id="sec.cookies",
    pane=PANE,
    title="Cookies are Secure, HttpOnly, SameSite",
    timeout=SEQUENCE_TIMEOUT,
    checklist=(SECURITY, "Security headers"),
    partial="Set-Cookie's attributes only (sec.headers judges the other headers)",
)
async def cookies(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    answers = [("/", await page(ctx, where, "/"))]
    # Only with the probe's consent, and never in read-only mode (sec.rate-limit is held back
    # there too): a failed login may count against this address.
    probing = ctx.config.rate_limit_probe and not ctx.config.read_only
    if probing:
        # The probe's own first login, not one more: the burst must stay within its most.
        answers.append((ctx.config.login_path, await first_failed_login(ctx, where)))
    findings = Findings()
    names: list[str] = []
    session_like = False
    for source, answer in answers:
        if (broken := server_error(answer, "GET" if source == "/" else "a login")) is not None:
            return broken
        for header in answer.header_values("Set-Cookie"):
            cookie = Cookie.parse(header)
            if not cookie.deletes:
                names.append(shown_name(cookie, answer))
                session_like = session_like or cookie.session_like
                _judge(cookie, source, answer, findings)
    asked = " and ".join(a.endpoint for _, a in answers)
    login = (
        ""
        if probing
        else " (the login answer was not asked: that takes a failed login, which "
        + (
            "read-only mode does not send)"
            if ctx.config.read_only
            else "TOOLBOX_RATE_LIMIT_PROBE=true allows)"
        )
    )
    if not names:
        answered = " and ".join(f"{a.endpoint} ({a.status_text})" for _, a in answers)
        return Outcome(
            Status.SKIP,
            f"No cookie was set by {answered}, so none could be judged{login}.",
            hint="The session cookie is set after a successful login: check it in a browser "
            f"(developer tools, Application > Cookies): it should say {_EXAMPLE}.",
        )
    httponly = (
        "; the session cookies are HttpOnly"
        if session_like
        else "; none looks like a session cookie (that one is set after a successful login: "
        "check it in a browser)"
    )
    return findings.outcome(
        f"Every cookie is Secure and has SameSite ({', '.join(names)}, from {asked})"
        f"{httponly}{login}.",
        cookies=", ".join(names),
    )
