"""Security pane, the items no program can judge: a person reviews them and signs off.

Provides the manual checks ``sec.sql-injection``, ``sec.xss``, ``sec.csrf`` (the checklist's
"Before Going Live" reviews, each counting for TOOLBOX_SIGNOFF_DAYS) and ``sec.access-logs``,
``sec.pentest`` (its "Regular Security Tasks", counting for their monthly and yearly cadence).
Each says what to review, concretely; a sign-off (``toolbox-tui signoff ID --note ...``, or
``s`` in the dashboard) turns it green until it expires (see :mod:`checks.signoffs`).
"""

from __future__ import annotations

from checks.checklist import SECURITY
from checks.security import PANE
from checks.signoffs import Review, manual_check

# Read-only searches to run in the app's checkout: SQL pasted together from strings.
RAW_SQL_GREPS = (
    "git grep -nE 'execute\\(f|text\\(f|\\.format\\(' -- '*.py'",
    "git grep -niE \"(select|insert|update|delete) .*[\\\"'] *(%|\\+)\" -- '*.py'",
)

manual_check(
    id="sec.sql-injection",
    pane=PANE,
    title="SQL injection prevention reviewed",
    checklist=(SECURITY, "SQL injection prevention"),
    review=Review(
        "no SQL is built from request data: every query of apps/backend goes through "
        "SQLAlchemy expressions or bound parameters (:name), never an f-string, % or +.",
        (
            f"Find SQL built from strings: {RAW_SQL_GREPS[0]} and {RAW_SQL_GREPS[1]}; each "
            "hit must bind its values instead (text('... WHERE id = :id'), {'id': value}).",
            "Look at every sqlalchemy.text( and raw asyncpg/psycopg call for values pasted "
            "into the statement, and at ORDER BY / column names taken from a query string "
            "(they cannot be bound: they must come from an allow-list).",
            "Against staging, never production: sqlmap -u "
            "'https://staging.example/api/v1/roblox/environment/list' "
            "--headers='Authorization: Bearer <test token>' --batch --level=2 --risk=1; "
            "and the same for the create endpoint's JSON body (--data, -p name).",
        ),
    ),
)

manual_check(
    id="sec.xss",
    pane=PANE,
    title="XSS protection reviewed",
    checklist=(SECURITY, "XSS protection"),
    review=Review(
        "what users write (environment names and descriptions, upload file names, profile "
        "fields) is shown as text everywhere: the dashboard, the emails and the API's HTML.",
        (
            "In the dashboard's source: git grep -nE "
            "'dangerouslySetInnerHTML|innerHTML|outerHTML|v-html|insertAdjacentHTML|eval\\(' "
            "-- '*.ts' '*.tsx' '*.js' '*.jsx' '*.vue'; each hit must render trusted or "
            "sanitised (DOMPurify) HTML only.",
            "In the Jinja2 email templates and views: autoescape must be on; git grep -nE "
            "'\\|safe|Markup\\(|autoescape *(=|false)' -- '*.py' '*.html' '*.j2'.",
            "On staging, create a Roblox environment named "
            "<img src=x onerror=alert(1)> and open it in the dashboard and in its "
            "notification email: it must show as text, and no dialog may appear.",
            "The Content-Security-Policy header must forbid inline scripts (no "
            "'unsafe-inline' in script-src); OWASP ZAP's baseline scan (zap-baseline.py -t "
            "https://staging.example) against staging reports no XSS alert.",
        ),
    ),
)

manual_check(
    id="sec.csrf",
    pane=PANE,
    title="CSRF protection reviewed",
    checklist=(SECURITY, "CSRF tokens"),
    review=Review(
        "no state-changing request (POST, PUT, PATCH, DELETE) is accepted on the strength "
        "of the session cookie alone: each needs a Bearer token or a CSRF token.",
        (
            "List the state-changing routes: git grep -nE "
            "'@(router|app)\\.(post|put|patch|delete)' -- '*.py'; for each, confirm it "
            "depends on the Bearer token (Authorization header) or checks a CSRF token "
            "(X-CSRF-Token header against a cookie), not on the session cookie only.",
            "The session cookie must be Secure, HttpOnly and SameSite=Lax or Strict (curl -sI "
            "https://staging.example/ | grep -i set-cookie).",
            "The login and Stripe's webhook take neither: the login must not act on an "
            "existing session, and the webhook must verify Stripe-Signature instead.",
            "From another origin (a local HTML page with a form posting to staging's "
            "/api/v1/roblox/environment/create), a logged-in browser's request must be "
            "refused (401/403) and create nothing.",
        ),
    ),
)

manual_check(
    id="sec.access-logs",
    pane=PANE,
    title="Access logs reviewed this month",
    checklist=(SECURITY, "Monthly access log review"),
    review=Review(
        "the last month of access logs was read for abuse: bursts of 401/403/429 from one "
        "address, probes of paths the app does not serve, 5xx spikes, logins at odd hours.",
        (
            "Status counts of the app's access log (TOOLBOX_APP_LOG): awk '$3 == "
            '"toolboxai.access" {print $6}\' app.log | sort | uniq -c | sort -rn.',
            'Refused requests by path: awk \'$3 == "toolboxai.access" && $6 ~ '
            "/^(401|403|404|429)$/ {print $5}' app.log | sort | uniq -c | sort -rn | head -30 "
            "(/.env, /wp-admin, /.git are scanners; a burst on /api/v1/auth/login is password "
            "guessing).",
            "The reverse proxy's logs for the addresses behind those bursts (nginx: awk "
            "'$9 ~ /^(401|403|429)$/ {print $1}' access.log | sort | uniq -c | sort -rn | head).",
            "Who logged in to the hosts and to Vault: last -a | head -50; journalctl -u ssh "
            "--since '-31 days' | grep -E 'Accepted|Failed'; Vault's audit device log.",
        ),
        lasts_days=31,
    ),
)

manual_check(
    id="sec.pentest",
    pane=PANE,
    title="Penetration test this year",
    checklist=(SECURITY, "Annual penetration test"),
    review=Review(
        "an independent penetration test of the production surface was done in the last "
        "year, and each high or critical finding is fixed or accepted in writing.",
        (
            "Scope: the API below TOOLBOX_TARGET_URL (auth, token revocation, uploads, Roblox "
            "environments), the dashboard, the Stripe webhook, and the hosts' open ports "
            "(nmap -sV against production's addresses, with permission).",
            "Tools the tester should use at least: OWASP ZAP full scan or Burp Suite "
            "Professional against staging, sqlmap on the endpoints with parameters, and a "
            "review of authentication and tenant isolation by hand.",
            "Note in the sign-off the report's reference and date, and where its findings "
            "are tracked.",
        ),
        lasts_days=365,
    ),
)
