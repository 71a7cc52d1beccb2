"""One check per group of the checklist's environment section: required variables are real.

Provides ``env.required-<group>`` for every group in :data:`checks.settings.ENV_GROUPS`.
"""

from __future__ import annotations

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, is_placeholder
from checks.settings import ENV_GROUPS, EnvGroup, vars_in_group

# The checklist item each group of variables fills in.
CHECKLIST_ITEMS = {
    "core": "Core application",
    "database": "Database",
    "jwt": "JWT authentication",
    "email": "Email service",
    "stripe": "Stripe payment",
    "encryption": "Data encryption",
    "storage": "File storage",
    "realtime": "Real-time (Pusher)",
    "vault": "Vault automation",
}


def _register(group: EnvGroup) -> None:
    names = [var.name for var in vars_in_group(group.id) if var.required]

    @check(
        id=f"env.required-{group.id}",
        pane=PANE,
        title=f"{group.title}: required variables set",
        needs=(ENV_FILE_CHECK,),
        checklist=(ENVIRONMENT, CHECKLIST_ITEMS[group.id]),
    )
    async def required_variables(ctx: CheckContext) -> Outcome:
        env_name = ctx.env.path.name
        missing = [name for name in names if ctx.env.get(name) is None]
        samples = [
            name for name in names if name not in missing and is_placeholder(ctx.env.values[name])
        ]
        findings = Findings()
        if missing:
            findings.fail(
                f"not set in {env_name}: {', '.join(missing)}",
                "Add them with their production values (the checklist lists each one).",
            )
        if samples:
            findings.fail(
                f"still the checklist's placeholder: {', '.join(samples)}",
                "Replace the sample values (<...>, your_..., user:password@host) with real ones.",
            )
        return findings.outcome(
            f"All {len(names)} required {group.title} variables are set.",
            variables=", ".join(names),
        )


for _group in ENV_GROUPS:
    _register(_group)
