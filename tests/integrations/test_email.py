"""The email checks and the test-email action against real local peers: aiosmtpd with
STARTTLS and AUTH, and a SendGrid stand-in that speaks the v3 API's wire format (proved with
the real SendGrid SDK below). Each check passes against a healthy peer, and fails against a
broken one for the reason its message names."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

import checks.environment
import checks.integrations.email
from checks.context import CheckContext
from checks.core import CheckFailed, CheckResult, Outcome, Status, registry
from checks.events import ActionDone
from checks.redact import Redactor
from tests.web_servers import silent_port, unanswered_port
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.sendgrid_api import MAIL_SEND, STATS_READ, DayStats, Sender, SendGridApi
from toolbox_tui.sandbox.smtp import Login, SmtpServer
from toolbox_tui.sandbox.tls import CertificateAuthority

from .conftest import FROM_EMAIL, KEY, OTHER_KEY, TODAY, YESTERDAY, EmailContext

# Relative: the very module pytest loaded for the fixtures (this directory is a package).
from .running import assert_fails, check, fix, run

assert checks.environment and checks.integrations.email  # registered: env.* and email.*

SMTP_LOGIN = "email.smtp-login"
KEY_CHECK = "email.sendgrid-key"
SENDER = "email.sender-verified"
RATES = "email.delivery-rates"
API_CHECKS = (KEY_CHECK, SENDER, RATES)
EMAIL_CHECKS = (SMTP_LOGIN, *API_CHECKS)
SEND_TEST = "email.send-test"
RECIPIENT = "ops@example.com"


# --- email.smtp-login ---------------------------------------------------------------------


async def act(ctx: CheckContext) -> tuple[list[str], ActionDone]:
    return await fix(ctx, SEND_TEST)


async def test_smtp_login_passes_and_sends_nothing(
    email_context: EmailContext, smtp: SmtpServer
) -> None:
    ran = (await run(email_context(), SMTP_LOGIN))[SMTP_LOGIN]
    result = ran.result
    assert result.status is Status.PASS, (result.message, result.hint)
    endpoint = f"127.0.0.1:{smtp.port}"
    assert result.message.startswith(f"Logged in to {endpoint} as apikey over STARTTLS (TLSv1.")
    assert "no mail was sent" in result.message
    assert smtp.logins == [Login("apikey", "PLAIN", True)]
    assert smtp.messages == []
    assert "STARTTLS" in ran.logs and any(line.startswith("AUTH as apikey") for line in ran.logs)
    assert ran.logs[-1].startswith("221")  # QUIT, answered


async def test_smtp_login_fails_with_a_wrong_key(
    email_context: EmailContext, smtp: SmtpServer
) -> None:
    smtp.password = OTHER_KEY  # the relay knows another key than the env file's
    result = await check(email_context(), SMTP_LOGIN)
    assert_fails(
        result,
        "refused the login of SMTP_USER 'apikey' with SENDGRID_API_KEY as the password",
        "535 5.7.8 Authentication credentials invalid",
        "SendGrid > Settings > API Keys",
    )
    assert smtp.logins and not any(login.accepted for login in smtp.logins)


async def test_smtp_login_fails_when_nothing_listens(email_context: EmailContext) -> None:
    port = free_port()
    result = await check(email_context(env={"SMTP_PORT": str(port)}), SMTP_LOGIN)
    assert_fails(result, f"127.0.0.1:{port} refused the connection", "SMTP_HOST and SMTP_PORT")


async def test_smtp_login_fails_in_time_when_the_server_never_answers(
    email_context: EmailContext,
) -> None:
    with silent_port() as port:
        ctx = email_context(env={"SMTP_PORT": str(port)}, check_timeout=2)
        result = await check(ctx, SMTP_LOGIN)
    assert_fails(result, f"127.0.0.1:{port} accepted the connection but sent no SMTP greeting")
    assert "within 1 s" in result.message


async def test_smtp_login_fails_in_time_when_nothing_answers_the_connection(
    email_context: EmailContext,
) -> None:
    with unanswered_port() as port:
        ctx = email_context(env={"SMTP_PORT": str(port)}, check_timeout=2)
        result = await check(ctx, SMTP_LOGIN)
    assert_fails(result, f"No connection to 127.0.0.1:{port} within 1 s", "nc -vz")


async def test_smtp_login_fails_when_the_relay_offers_no_starttls(
    email_context: EmailContext, sandbox_ca: CertificateAuthority
) -> None:
    with SmtpServer(sandbox_ca, KEY, starttls=False) as plain:
        result = await check(email_context(env={"SMTP_PORT": str(plain.port)}), SMTP_LOGIN)
        assert plain.logins == []
    assert_fails(result, "does not offer STARTTLS", "would cross the network in clear")


async def test_smtp_login_fails_on_a_certificate_from_an_unknown_ca(
    email_context: EmailContext, smtp: SmtpServer
) -> None:
    result = await check(email_context(ca_bundle=None), SMTP_LOGIN)
    assert_fails(result, f"certificate of 127.0.0.1:{smtp.port} is not trusted", "CA_BUNDLE")
    assert smtp.logins == []  # the key was never sent


async def test_smtp_login_fails_on_a_certificate_for_another_name(
    email_context: EmailContext, sandbox_ca: CertificateAuthority
) -> None:
    with SmtpServer(sandbox_ca, KEY, cert_names=("smtp.example.com",)) as other:
        result = await check(email_context(env={"SMTP_PORT": str(other.port)}), SMTP_LOGIN)
        assert other.logins == []
    assert_fails(result, "is for another host name", "SMTP_HOST")


async def test_smtp_login_is_never_tried_without_tls(
    email_context: EmailContext, smtp: SmtpServer
) -> None:
    ctx = email_context(env={"SMTP_USE_TLS": "false", "APP_ENV": "development"})
    result = await check(ctx, SMTP_LOGIN)
    assert_fails(result, "SMTP_USE_TLS is false: no login is tried without TLS")
    assert smtp.logins == []


# --- email.sendgrid-key -------------------------------------------------------------------


async def test_sendgrid_key_passes_and_names_toolbox_tui(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    result = await check(email_context(), KEY_CHECK)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == (
        "SendGrid accepts SENDGRID_API_KEY, and the key has the mail.send scope."
    )
    [request] = sendgrid.requests
    assert (request.method, request.path, request.authorized) == ("GET", "/v3/scopes", True)
    assert request.user_agent.startswith("toolbox-tui")


async def test_sendgrid_key_fails_with_a_wrong_key(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.api_key = OTHER_KEY
    result = await check(email_context(), KEY_CHECK)
    assert_fails(
        result,
        f"SendGrid refused SENDGRID_API_KEY: {sendgrid.url}/v3/scopes answered 401 "
        "(authorization required)",
        "revoked",
    )


async def test_sendgrid_key_fails_without_the_mail_send_scope(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.scopes = [STATS_READ]
    result = await check(email_context(), KEY_CHECK)
    assert_fails(result, "lacks the mail.send scope", "Mail Send")
    assert result.evidence["scopes"] == "1"


async def test_the_api_url_must_not_carry_the_key_in_clear(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    result = await check(email_context(sendgrid_api_url="http://api.example.com"), KEY_CHECK)
    assert_fails(result, "TOOLBOX_SENDGRID_API_URL is http:// to api.example.com", "https://")
    assert sendgrid.requests == []


async def test_sendgrid_key_fails_in_time_when_the_api_never_answers(
    email_context: EmailContext,
) -> None:
    with silent_port() as port:
        url = f"http://127.0.0.1:{port}"
        result = await check(email_context(sendgrid_api_url=url, check_timeout=2), KEY_CHECK)
    assert_fails(result, f"{url}/v3/scopes accepted the connection but sent no answer within 1 s")


async def test_the_api_over_https_needs_the_ca_bundle(
    email_context: EmailContext, sandbox_ca: CertificateAuthority, tmp_path: Path
) -> None:
    tls = sandbox_ca.issue("127.0.0.1").server_context(tmp_path)
    with SendGridApi(KEY, tls=tls) as secure:
        trusted = await check(email_context(sendgrid_api_url=secure.url), KEY_CHECK)
        untrusted = await check(
            email_context(sendgrid_api_url=secure.url, ca_bundle=None), KEY_CHECK
        )
    assert trusted.status is Status.PASS, trusted.message
    assert_fails(untrusted, "is not trusted", "TOOLBOX_CA_BUNDLE")


# --- email.sender-verified ----------------------------------------------------------------


async def test_sender_verified_passes(email_context: EmailContext) -> None:
    result = await check(email_context(), SENDER)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message == f"FROM_EMAIL {FROM_EMAIL} is a verified sender in SendGrid."
    assert result.evidence == {"senders": "2", "verified": "2"}


async def test_sender_verified_fails_for_a_sender_still_pending(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.senders = []
    sendgrid.add_sender(Sender(FROM_EMAIL.upper(), verified=False))
    result = await check(email_context(), SENDER)
    assert_fails(result, f"FROM_EMAIL {FROM_EMAIL} is a sender in SendGrid, but not verified")


async def test_sender_verified_fails_for_an_unknown_sender(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    result = await check(email_context(env={"FROM_EMAIL": "hello@toolboxai.com"}), SENDER)
    assert_fails(
        result,
        "FROM_EMAIL hello@toolboxai.com is not among the 2 senders in SendGrid",
        "Single Sender Verification",
    )


async def test_sender_verified_reads_every_page(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.senders = []
    for n in range(150):
        sendgrid.add_sender(Sender(f"sender{n}@toolboxai.com"))
    sendgrid.add_sender(Sender(FROM_EMAIL))
    result = await check(email_context(), SENDER)
    assert result.status is Status.PASS, result.message
    pages = [r.query for r in sendgrid.requests if r.path == "/v3/verified_senders"]
    assert pages == [{"limit": "100"}, {"limit": "100", "lastSeenID": "100"}]


async def test_sender_verified_warns_when_the_key_may_not_list_senders(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.scopes = [MAIL_SEND, STATS_READ]
    result = await check(email_context(), SENDER)
    assert result.status is Status.WARN, result.message
    assert "may not list the verified senders" in result.message
    assert f"FROM_EMAIL {FROM_EMAIL} was not checked" in result.message


# --- email.delivery-rates -----------------------------------------------------------------


async def test_delivery_rates_pass_on_healthy_stats(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    result = await check(email_context(), RATES)
    assert result.status is Status.PASS, (result.message, result.hint)
    assert result.message.startswith("98.5% of 1,000 requests delivered and 0.5% bounced")
    [stats] = [r for r in sendgrid.requests if r.path == "/v3/stats"]
    assert stats.query == {
        "start_date": YESTERDAY.isoformat(),
        "end_date": TODAY.isoformat(),
        "aggregated_by": "day",
    }


async def test_delivery_rates_fail_on_a_bad_bounce_rate(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.stats = {
        YESTERDAY: DayStats(requests=600, delivered=590, bounces=4),
        TODAY: DayStats(requests=400, delivered=390, bounces=21),
    }
    result = await check(email_context(), RATES)
    assert_fails(
        result,
        f"Of 1,000 requests since {YESTERDAY} UTC, 2.5% bounced (target: less than 2%).",
        "SendGrid > Activity",
    )
    assert result.evidence["bounces"] == "25"


async def test_delivery_rates_fail_on_a_low_delivery_rate(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.stats = {TODAY: DayStats(requests=200, delivered=190, bounces=0)}
    result = await check(email_context(), RATES)
    assert_fails(
        result,
        "Of 200 requests since 2026-11-27 UTC, only 95.0% were delivered (target: more than 95%).",
        "more than 95%",
    )


async def test_delivery_rates_skip_when_no_mail_was_sent(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.stats = {}
    result = await check(email_context(), RATES)
    assert result.status is Status.SKIP, result.message
    assert result.message.startswith(f"No mail was requested since {YESTERDAY.isoformat()}")


async def test_delivery_rates_warn_when_the_key_may_not_read_stats(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.scopes = [MAIL_SEND]
    result = await check(email_context(), RATES)
    assert result.status is Status.WARN, result.message
    assert "lacks the stats.read scope" in result.message
    assert not [r for r in sendgrid.requests if r.path == "/v3/stats"]


async def test_the_key_s_scopes_are_asked_once_per_run(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    ran = await run(email_context(), *API_CHECKS)
    assert {i: ran[i].result.status for i in API_CHECKS} == dict.fromkeys(API_CHECKS, Status.PASS)
    assert [r.path for r in sendgrid.requests].count("/v3/scopes") == 1


async def test_api_checks_wait_for_a_working_key(
    email_context: EmailContext, sendgrid: SendGridApi
) -> None:
    sendgrid.api_key = OTHER_KEY
    ran = await run(email_context(), SENDER, RATES)
    assert ran[KEY_CHECK].result.status is Status.FAIL
    for check_id in (SENDER, RATES):
        assert ran[check_id].result.status is Status.SKIP
        assert "needs email.sendgrid-key (fail)" in ran[check_id].result.message


# --- email.send-test ----------------------------------------------------------------------


async def test_send_test_email_arrives_at_the_relay(
    email_context: EmailContext, smtp: SmtpServer
) -> None:
    lines, done = await act(email_context(test_email_to=RECIPIENT))
    assert done.outcome == "ok", done.message
    endpoint = f"127.0.0.1:{smtp.port}"
    # The plan, shown first, names the recipient, the sender and the server.
    assert lines[0] == (
        f"Send one email to {RECIPIENT}, from {FROM_EMAIL}, subject 'toolbox-tui test email'."
    )
    assert lines[1].startswith(f"Through {endpoint} (.env's SMTP_HOST and SMTP_PORT) with STARTTLS")
    [message] = smtp.messages
    assert (message.mail_from, message.rcpt_tos) == (FROM_EMAIL, (RECIPIENT,))
    assert message.subject == "toolbox-tui test email"
    assert message.user == "apikey"
    assert b"From: ToolBoxAI <noreply@toolboxai.com>\r\n" in message.data
    for step in ("STARTTLS", f"MAIL FROM:<{FROM_EMAIL}>", f"RCPT TO:<{RECIPIENT}>"):
        assert step in lines, step
    assert done.message.startswith(f"Sent a test email to {RECIPIENT} from {FROM_EMAIL}")
    assert done.changes == (f"sent a test email to {RECIPIENT} through {endpoint}",)


async def test_send_test_email_needs_a_recipient(
    email_context: EmailContext, smtp: SmtpServer
) -> None:
    _, done = await act(email_context())
    assert done.outcome == "refused"
    assert "Set TOOLBOX_TEST_EMAIL_TO" in done.message
    assert smtp.logins == [] and smtp.messages == []


async def test_send_test_email_refuses_a_recipient_that_is_no_address(
    email_context: EmailContext, smtp: SmtpServer
) -> None:
    _, done = await act(email_context(test_email_to="ops at example"))
    assert done.outcome == "refused"
    assert "TOOLBOX_TEST_EMAIL_TO 'ops at example' is not an email address" in done.message
    assert smtp.logins == []


async def test_send_test_email_fails_with_a_wrong_key_and_sends_nothing(
    email_context: EmailContext, smtp: SmtpServer
) -> None:
    smtp.password = OTHER_KEY
    _, done = await act(email_context(test_email_to=RECIPIENT))
    assert done.outcome == "failed"
    assert "535 5.7.8 Authentication credentials invalid" in done.message
    assert smtp.messages == [] and done.changes == ()


# --- secrets ------------------------------------------------------------------------------


def _texts(outcome: Outcome | CheckResult) -> list[str]:
    return [outcome.message, outcome.hint, *outcome.evidence.keys(), *outcome.evidence.values()]


async def _direct(ctx: CheckContext, check_id: str) -> list[str]:
    """What a check itself writes (result and log), with no redactor to hide a slip."""
    lines: list[str] = []
    bare = replace(ctx, redactor=Redactor()).bound(lines.append)
    try:
        outcome = await registry.checks[check_id].func(bare)
    except CheckFailed as exc:
        return [str(exc), exc.hint, *lines]
    return [*_texts(outcome), *lines]


@pytest.mark.parametrize("broken", ["nothing", "relay key", "api key", "scopes"])
async def test_the_key_shows_nowhere(
    email_context: EmailContext, smtp: SmtpServer, sendgrid: SendGridApi, broken: str
) -> None:
    if broken == "relay key":
        smtp.password = OTHER_KEY
    elif broken == "api key":
        sendgrid.api_key = OTHER_KEY
    elif broken == "scopes":
        sendgrid.scopes = []
    ctx = email_context(test_email_to=RECIPIENT)
    said: list[str] = []
    for ran in (await run(ctx, *EMAIL_CHECKS)).values():
        said += [*_texts(ran.result), *ran.logs]
    for check_id in EMAIL_CHECKS:
        said += await _direct(ctx, check_id)
    lines, done = await act(ctx)
    said += [*lines, done.message, *done.changes]
    bare_lines: list[str] = []
    action = registry.actions[SEND_TEST]
    bare = replace(ctx, redactor=Redactor())
    planned = await action.plan(bare)
    said += list(planned.lines)
    with contextlib.suppress(CheckFailed):
        said.append(await action.run(bare.bound(bare_lines.append), planned))
    said += bare_lines
    assert len(said) > 40
    for text in said:
        assert KEY not in text and KEY[3:-3] not in text, text
        assert OTHER_KEY not in text, text


# --- the peers themselves -----------------------------------------------------------------


def test_the_stand_in_speaks_sendgrid_s_wire_format_to_the_real_sdk(
    sendgrid: SendGridApi,
) -> None:
    from python_http_client.exceptions import ForbiddenError, UnauthorizedError
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Mail

    client = SendGridAPIClient(api_key=KEY, host=sendgrid.url)
    assert client.client.scopes.get().to_dict == {"scopes": sendgrid.scopes}
    senders = client.client.verified_senders.get(query_params={"limit": 1}).to_dict
    assert [s["from_email"] for s in senders["results"]] == ["support@toolboxai.com"]
    stats = client.client.stats.get(query_params={"start_date": YESTERDAY.isoformat()}).to_dict
    assert stats[0]["stats"][0]["metrics"]["delivered"] == 985
    mail = Mail(FROM_EMAIL, RECIPIENT, "hello", plain_text_content="hi")
    response = client.send(mail)
    assert (response.status_code, response.body) == (202, b"")
    assert sendgrid.sent[0]["subject"] == "hello"

    sendgrid.scopes = [STATS_READ]
    with pytest.raises(ForbiddenError) as forbidden:
        client.send(mail)
    assert b"access forbidden" in forbidden.value.body
    sendgrid.api_key = OTHER_KEY
    with pytest.raises(UnauthorizedError) as unauthorized:
        client.client.scopes.get()
    assert b'"message": "authorization required"' in unauthorized.value.body
    assert not sendgrid.requests[-1].authorized


def test_the_peers_stop_cleanly(sandbox_ca: CertificateAuthority) -> None:
    before = set(threading.enumerate())
    with SmtpServer(sandbox_ca, KEY) as smtp, SendGridApi(KEY) as api:
        ports = (smtp.port, api.port)
        started = set(threading.enumerate()) - before
        assert started
    assert not any(thread.is_alive() for thread in started)
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_registering_the_email_checks_imports_no_sdk() -> None:
    code = (
        "import sys, checks.environment, checks.integrations.email\n"
        "sdks = ('httpx', 'sendgrid', 'python_http_client', 'smtplib', 'aiosmtpd')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sdks)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
