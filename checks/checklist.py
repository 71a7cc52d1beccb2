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
    ),
    ROLLBACK: (
        "Database rollback",
        "Code rollback",
        "Environment variables backup",
    ),
}


def all_refs() -> list[ChecklistRef]:
    return [ChecklistRef(section, item) for section, items in CHECKLIST.items() for item in items]


@dataclass(frozen=True)
class Coverage:
    ref: ChecklistRef
    state: str  # "automated", "manual" or "not covered"
    check_ids: tuple[str, ...]


def coverage(specs: Iterable[CheckSpec]) -> list[Coverage]:
    """Each checklist item with the checks that cover it."""
    specs = list(specs)
    manual = {spec.id for spec in specs if spec.manual}
    by_ref: dict[ChecklistRef, list[str]] = {}
    for spec in specs:
        if spec.checklist is not None:
            by_ref.setdefault(spec.checklist, []).append(spec.id)
    rows = []
    for ref in all_refs():
        ids = tuple(by_ref.get(ref, ()))
        if not ids:
            state = "not covered"
        elif all(i in manual for i in ids):
            state = "manual"
        else:
            state = "automated"
        rows.append(Coverage(ref, state, ids))
    return rows
