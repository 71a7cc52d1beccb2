"""Email, live: the SMTP relay and SendGrid's API as the app uses them, and a test email.

Importing this module registers the checks ``email.smtp-login`` (email_smtp.py),
``email.sendgrid-key``, ``email.sender-verified`` and ``email.delivery-rates``
(email_sendgrid.py), and here the action ``email.send-test``.

The action sends one email to the address in TOOLBOX_TEST_EMAIL_TO through the relay the env
file names, exactly as the app would send (STARTTLS, AUTH with SENDGRID_API_KEY), so that a
person sees it arrive. An action takes no typed input (the TUI's and ``fix``'s actions run a
plan built from the settings and the env file alone), so the recipient is a setting.
"""

from __future__ import annotations

import asyncio
import importlib
from datetime import datetime
from typing import TYPE_CHECKING

from checks.context import CheckContext
from checks.core import ActionFailed, Plan, action, plan, refused_plan
from checks.environment.mail import address_problem
from checks.findings import Findings, require
from checks.integrations import PANE
from checks.integrations.email_smtp import PASSWORD, SMTP_TIMEOUT, Relay, relay, send, thread_log
from checks.net import phase_timeout, run_tls_context

if TYPE_CHECKING:
    from email.message import EmailMessage

# Registration order is the order the pane lists them: the relay, then the API.
for _module in ("email_smtp", "email_sendgrid"):
    importlib.import_module(f"checks.integrations.{_module}")

SEND_TEST = "email.send-test"
RECIPIENT_SETTING = "TOOLBOX_TEST_EMAIL_TO"
SUBJECT = "toolbox-tui test email"


async def _plan_test_email(ctx: CheckContext) -> Plan:
    recipient = (ctx.config.test_email_to or "").strip()
    if not recipient:
        return refused_plan(
            f"Refused: no recipient. Set {RECIPIENT_SETTING} to the address the test email "
            "should go to, and run it again."
        )
    if problem := address_problem(recipient):
        return refused_plan(f"Refused: {RECIPIENT_SETTING} {recipient!r} {problem}.")
    findings = Findings()
    target = relay(ctx, findings)
    sender = require(ctx.env, "FROM_EMAIL", findings)
    require(ctx.env, PASSWORD, findings)  # only that it is there: run reads it
    if sender is not None and (problem := address_problem(sender.strip())):
        findings.fail(f"FROM_EMAIL {sender.strip()!r} {problem}")
    if findings.failures or target is None or sender is None:
        return refused_plan(f"Refused: {'; '.join(findings.failures)}.")
    sender = sender.strip()
    return plan(
        f"Send one email to {recipient}, from {sender}, subject {SUBJECT!r}.",
        f"Through {target.endpoint} ({ctx.env.path.name}'s SMTP_HOST and SMTP_PORT) with "
        f"{target.security}, the certificate verified, logged in as {target.user} with "
        f"{PASSWORD} as the password.",
        "Nothing else is sent. Look for it in that inbox (and its spam folder).",
        relay=target,
        sender=sender,
        recipient=recipient,
    )


@action(
    id=SEND_TEST,
    title="Send a test email",
    pane=PANE,
    key="t",
    plan=_plan_test_email,
    description=f"Send one email to {RECIPIENT_SETTING} through the app's SMTP relay, as the "
    "app sends (STARTTLS, AUTH), to see that mail arrives.",
)
async def send_test_email(ctx: CheckContext, planned: Plan) -> str:
    target: Relay = planned.payload["relay"]
    sender: str = planned.payload["sender"]
    recipient: str = planned.payload["recipient"]
    password = ctx.env.get(PASSWORD)
    if not password:
        raise ActionFailed(f"{PASSWORD} is no longer set; nothing was sent.")
    message = _message(ctx, sender, recipient, target)
    timeout = phase_timeout(ctx.config, SMTP_TIMEOUT)
    log = thread_log(ctx)
    context = await run_tls_context(ctx)
    answer = await asyncio.to_thread(
        send, target, password, context, timeout, (sender, recipient), message, log
    )
    ctx.changed(f"sent a test email to {recipient} through {target.endpoint}")
    return f"Sent a test email to {recipient} from {sender} through {target.endpoint} ({answer})."


def _message(ctx: CheckContext, sender: str, recipient: str, target: Relay) -> EmailMessage:
    import email.utils
    from email.headerregistry import Address
    from email.message import EmailMessage

    now: datetime = ctx.clock()
    message = EmailMessage()
    name = (ctx.env.get("FROM_NAME") or "").strip()
    user, _, domain = sender.rpartition("@")
    message["From"] = Address(display_name=name, username=user, domain=domain)
    message["To"] = recipient
    message["Subject"] = SUBJECT
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid("toolbox-tui", domain=domain or None)
    message.set_content(
        f"This is a test email, sent by toolbox-tui's action {SEND_TEST} at "
        f"{now.isoformat(timespec='seconds')} through {target.endpoint}.\n\n"
        "If you can read it, the app's SMTP settings deliver mail. No reply is needed.\n"
    )
    return message
