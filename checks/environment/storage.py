"""File storage: Supabase's URL and keys in the right places, and upload virus scanning.

Provides checks ``env.supabase`` and ``env.virus-scanning``.
"""

from __future__ import annotations

import base64
import json
import re

from checks.checklist import ENVIRONMENT, SECURITY
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, require, require_bool, require_https_url
from checks.urls import ParsedURL

ANON = "anon"
SERVICE = "service_role"
# New-style Supabase API keys say their role in their prefix.
_PREFIX_ROLES = {"sb_publishable_": ANON, "sb_secret_": SERVICE}
SUPABASE_DOMAIN = ".supabase.co"
_VIRUSTOTAL_KEY = re.compile(r"[0-9a-fA-F]{64}")

KEYS_HINT = "Copy both from Supabase > Project Settings > API: anon/publishable in SUPABASE_KEY, "
KEYS_HINT += "service_role/secret in SUPABASE_SERVICE_KEY."


def supabase_claims(key: str) -> dict[str, object]:
    """What a key says about itself: ``role`` (and ``ref``, the project, for legacy JWTs).

    Legacy keys are JWTs: the payload is read without verifying the signature, which only
    the Supabase project can do. An unrecognised key yields an empty dict.
    """
    key = key.strip()
    for prefix, role in _PREFIX_ROLES.items():
        if key.startswith(prefix):
            return {"role": role}
    return unverified_jwt_claims(key)


def unverified_jwt_claims(token: str) -> dict[str, object]:
    """The claims of a JWT, read as PyJWT reads them with ``verify_signature=False`` (a test
    proves they agree): three base64url parts, a JSON object as header and as payload.

    Written out because PyJWT, with the cryptography it loads, costs ~30 ms of every run,
    and no signature is checked here anyway.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        header, claims = (json.loads(_unbase64url(part)) for part in parts[:2])
        _unbase64url(parts[2])
    except (ValueError, UnicodeDecodeError):  # binascii.Error and JSONDecodeError included
        return {}
    return claims if isinstance(header, dict) and isinstance(claims, dict) else {}


def _unbase64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part.encode("ascii") + b"=" * (-len(part) % 4))


@check(
    id="env.supabase",
    pane=PANE,
    title="Supabase URL and keys in the right places",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "File storage"),
)
async def supabase(ctx: CheckContext) -> Outcome:
    env, findings = ctx.env, Findings()
    url = require_https_url(env, "SUPABASE_URL", findings)
    anon_key = require(env, "SUPABASE_KEY", findings)
    service_key = require(env, "SUPABASE_SERVICE_KEY", findings)
    if anon_key is not None and service_key is not None:
        _check_keys(findings, anon_key.strip(), service_key.strip(), _project_ref(url))
    return findings.outcome(
        "SUPABASE_URL is https and the anon and service keys are in their places.",
        host=url.host if url else None,
    )


def _project_ref(url: ParsedURL | None) -> str | None:
    """``abcd`` for https://abcd.supabase.co; None for a custom domain (nothing to compare)."""
    # Lower-cased: host names are case-blind, and a key's ref is written in lower case.
    host = url.host.lower() if url and url.host else None
    if host and host.endswith(SUPABASE_DOMAIN):
        return host.removesuffix(SUPABASE_DOMAIN)
    return None


def _check_keys(findings: Findings, anon_key: str, service_key: str, project: str | None) -> None:
    if anon_key == service_key:
        findings.fail("SUPABASE_KEY and SUPABASE_SERVICE_KEY are the same key", KEYS_HINT)
        return
    anon, service = supabase_claims(anon_key), supabase_claims(service_key)
    if anon.get("role") == SERVICE and service.get("role") == ANON:
        findings.fail(
            "SUPABASE_KEY and SUPABASE_SERVICE_KEY are swapped: the service key would reach "
            "browsers",
            "Swap the two values back. " + KEYS_HINT,
        )
    else:
        _expect_role(findings, "SUPABASE_KEY", anon.get("role"), ANON)
        _expect_role(findings, "SUPABASE_SERVICE_KEY", service.get("role"), SERVICE)
    for name, claims in (("SUPABASE_KEY", anon), ("SUPABASE_SERVICE_KEY", service)):
        ref = claims.get("ref")
        if project and ref and ref != project:
            findings.fail(
                f"{name} belongs to another Supabase project than SUPABASE_URL",
                "Take the URL and both keys from the same project (staging keys in production?).",
            )


def _expect_role(findings: Findings, name: str, role: object, expected: str) -> None:
    if role == expected:
        return
    if role == SERVICE:
        findings.fail(f"{name} is a service-role key: it would reach browsers", KEYS_HINT)
    elif role == ANON:
        findings.fail(
            f"{name} is an anon key: server-side uploads would be refused by row-level security",
            KEYS_HINT,
        )
    else:
        findings.fail(
            f"{name} is not a Supabase key (neither a Supabase JWT nor an sb_ key)", KEYS_HINT
        )


@check(
    id="env.virus-scanning",
    pane=PANE,
    title="Uploads are scanned for viruses",
    needs=(ENV_FILE_CHECK,),
    checklist=(SECURITY, "Upload virus scanning enabled"),
)
async def virus_scanning(ctx: CheckContext) -> Outcome:
    env, findings = ctx.env, Findings()
    enabled = require_bool(env, "ENABLE_VIRUS_SCANNING", findings)
    if enabled is False:
        findings.warn(
            "ENABLE_VIRUS_SCANNING is false: uploads reach storage unscanned",
            "The security checklist wants uploads scanned: set ENABLE_VIRUS_SCANNING=true and "
            "VIRUSTOTAL_API_KEY.",
        )
    elif enabled:
        key = require(env, "VIRUSTOTAL_API_KEY", findings)
        if key is not None and not _VIRUSTOTAL_KEY.fullmatch(key.strip()):
            findings.fail(
                "VIRUSTOTAL_API_KEY is not shaped like a VirusTotal key (64 hex characters)",
                "Copy the API key from your VirusTotal profile > API key.",
            )
    return findings.outcome("Uploads are scanned with VirusTotal.")
