"""Security pane, the checklist's pre-deployment encryption test: a value encrypted with the env
file's keys decrypts again, as the app does it.

Provides check ``sec.encryption-round-trip``. The app builds a ``MultiFernet`` from
DATA_ENCRYPTION_KEY (first: it encrypts) and the _OLD_ keys (they only decrypt); so does this
check. A probe value must come back from the current key, and for each old key a value
encrypted with that key must still decrypt, and ``rotate()`` must re-encrypt it under the
current key: what a rotation promises old data. The keys' names and how they are read come from
the Environment pane's ``env.fernet-key``, which this check needs: a key that check finds
missing or malformed is reported there once, and this one is skipped.
"""

from __future__ import annotations

import secrets

from checks.checklist import PRE_DEPLOY
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.encryption import CURRENT, OLD_SLOTS, ROTATE
from checks.findings import Findings, require
from checks.offloop import import_off_loop
from checks.security import PANE

FERNET_CHECK = "env.fernet-key"
_MALFORMED = "is not a valid Fernet key (32 url-safe base64 bytes)"


@check(
    id="sec.encryption-round-trip",
    pane=PANE,
    title="Encryption round trip",
    needs=(FERNET_CHECK,),
    checklist=(PRE_DEPLOY, "Encryption round trip"),
    partial="the app's own encryption_manager (the env file's keys are tried here, not the "
    "app's code)",
)
async def encryption_round_trip(ctx: CheckContext) -> Outcome:
    # Here, not at the top: cryptography costs tens of ms that registering checks must not.
    await import_off_loop("cryptography.fernet")
    from cryptography.fernet import Fernet, InvalidToken, MultiFernet

    findings = Findings()
    keys: dict[str, Fernet] = {}
    # Without env.fernet-key in the run (a direct call), the same verdicts as it gives.
    if require(ctx.env, CURRENT, findings, ROTATE) is None:
        return findings.outcome("")
    for slot in (CURRENT, *OLD_SLOTS):
        value = ctx.env.get(slot)
        if value is None:
            continue  # the old keys are optional
        try:
            keys[slot] = Fernet(value)  # the value as the app reads it
        except (ValueError, TypeError):  # binascii.Error is a ValueError
            findings.fail(f"{slot} {_MALFORMED}", f"Restore {slot} from your key vault.")
    if CURRENT not in keys:
        return findings.outcome("")

    probe = f"toolbox-tui round trip {secrets.token_hex(8)}".encode()
    current = keys[CURRENT]
    olds = {slot: key for slot, key in keys.items() if slot != CURRENT}
    app_keys = MultiFernet([current, *olds.values()])  # the current key first, as the app has it
    try:
        token = app_keys.encrypt(probe)
        ok = app_keys.decrypt(token) == probe and current.decrypt(token) == probe
    except InvalidToken:
        ok = False
    if not ok:
        findings.fail(f"a value encrypted with {CURRENT} does not decrypt with it again")
    else:
        ctx.log(f"A probe value encrypted with {CURRENT} decrypted again.")
    for slot, old in olds.items():
        try:
            if app_keys.decrypt(old.encrypt(probe)) != probe:
                raise InvalidToken
        except InvalidToken:
            findings.fail(
                f"data encrypted with {slot} no longer decrypts with the app's keys",
                f"Restore {slot} from your key vault: without it, that data is unreadable.",
            )
            continue
        try:
            ok = current.decrypt(app_keys.rotate(old.encrypt(probe))) == probe
        except InvalidToken:
            ok = False
        if ok:
            ctx.log(f"Data under {slot} decrypts, and rotate() moves it to {CURRENT}.")
        else:
            findings.fail(
                f"MultiFernet.rotate() does not re-encrypt data under {slot} with {CURRENT}"
            )
    kept = ", ".join(olds) or "none"
    return findings.outcome(
        f"A value encrypted with {CURRENT} decrypts again"
        + (
            f"; data under {' and '.join(olds)} still decrypts and rotates to {CURRENT}."
            if olds
            else " (no old keys kept)."
        ),
        keys_tried=", ".join(keys),
        old_keys=kept,
    )
