"""The production deployment checklist's items, section by section.

Checks name the item they automate (``@check(checklist=(section, item))``); ``coverage``
folds the registry over this list so ``toolbox-tui list`` and the README show what is
automated, what stays a person's sign-off, and what is not covered yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from checks.core import ChecklistRef, CheckSpec

ENVIRONMENT = "Environment variables"
MIGRATIONS = "Database migrations"
DEPENDENCIES = "Dependencies"
PRE_DEPLOY = "Pre-deployment testing"
DEPLOY = "Deployment steps"
VERIFY = "Post-deployment verification"
MONITORING = "Monitoring & alerts"
SECURITY = "Security checklist"
ROLLBACK = "Rollback plan"

CHECKLIST: dict[str, tuple[str, ...]] = {
    ENVIRONMENT: (
        "Env file readable and well-formed",
        "Core application",
        "Database",
        "JWT authentication",
        "Email service",
        "Stripe payment",
        "Data encryption",
        "File storage",
        "Real-time (Pusher)",
        "Vault automation",
    ),
    MIGRATIONS: (
        "New tables added",
        "Review the generated migration",
        "alembic upgrade head",
        "Verify tables created",
    ),
    DEPENDENCIES: ("Python dependencies at their minimum versions",),
    PRE_DEPLOY: (
        "Documentation workflow",
        "Email service",
        "Stripe webhooks",
        "Encryption round trip",
        "File upload",
        "Roblox environment",
    ),
    DEPLOY: (
        "Code deployment",
        "Configure Stripe webhooks",
        "Configure SendGrid",
        "Generate encryption key",
        "Configure file storage",
        "Restart services",
    ),
    VERIFY: (
        "Backend API health",
        "Dashboard reachable",
        "Database connection",
        "Feature verification",
    ),
    MONITORING: (
        "Email delivery",
        "Payment processing",
        "File storage",
        "Database",
        "API response time",
        "Error rates in logs",
        "Disk usage",
        "Services running",
    ),
    SECURITY: (
        "API keys in environment, not in code",
        "HTTPS on all endpoints",
        "CORS configured",
        "Rate limiting enabled",
        "Encryption keys backed up",
        "Database credentials rotated",
        "Stripe webhook signature verification",
        "Upload virus scanning enabled",
        "SQL injection prevention",
        "XSS protection",
        "CSRF tokens",
        "Security headers",
        "Monthly encryption key rotation",
        # The checklist's "Regular Security Tasks" that a person signs off (checks.security.manual).
        "Monthly access log review",
        "Annual penetration test",
    ),
    ROLLBACK: (
        "Database rollback",
        "Code rollback",
        "Environment variables backup",
    ),
}


# What no check can see of "Vault automation": the env vars, the server, the login, the
# secrets and the workflow file are each verified by a check, but GitHub's switch that
# enables the workflow is not visible from a host. Every check of the item names this one
# gap, so the coverage map lists it once instead of each check's share.
VAULT_AUTOMATION_GAP = "whether GitHub has the vault-rotation workflow enabled (not visible here)"


def all_refs() -> list[ChecklistRef]:
    return [ChecklistRef(section, item) for section, items in CHECKLIST.items() for item in items]


@dataclass(frozen=True)
class Coverage:
    ref: ChecklistRef
    state: str  # "automated", "partial", "manual" or "not covered"
    check_ids: tuple[str, ...]
    missing: str = ""
    """For a partial item: what no check verifies yet."""


def coverage(specs: Iterable[CheckSpec]) -> list[Coverage]:
    """Each checklist item with the checks that cover it.

    ``automated`` only when some check verifies the whole item; ``partial`` when the checks
    that name it each leave something out (said in ``missing``); ``manual`` when only a
    person's sign-off covers it; ``not covered`` otherwise.
    """
    by_ref: dict[ChecklistRef, list[CheckSpec]] = {}
    for spec in specs:
        if spec.checklist is not None:
            by_ref.setdefault(spec.checklist, []).append(spec)
    rows = []
    for ref in all_refs():
        covering = by_ref.get(ref, [])
        ids = tuple(spec.id for spec in covering)
        automated = [spec for spec in covering if not spec.manual]
        missing = ""
        if not covering:
            state = "not covered"
        elif not automated:
            state = "manual"
        elif any(not spec.partial for spec in automated):
            state = "automated"
        else:
            state = "partial"
            missing = "; ".join(dict.fromkeys(spec.partial for spec in automated))
        rows.append(Coverage(ref, state, ids, missing))
    return rows
