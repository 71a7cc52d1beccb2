"""The app repository's nightly Vault rotation: ``.github/workflows/vault-rotation.yml``.

Provides check ``vault.rotation-workflow``: the workflow exists, runs on a schedule, and hands
the job the four Vault secrets the checklist names. Whether GitHub has it enabled cannot be
seen from the host; the check says so.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from checks.checklist import ENVIRONMENT, VAULT_AUTOMATION_GAP
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, check, failed, passed
from checks.envfile import EnvFileTooLarge, EnvFileUnsafe, read_env_bytes
from checks.integrations import PANE
from checks.offloop import import_off_loop

WORKFLOW_NAMES = ("vault-rotation.yml", "vault-rotation.yaml")
SECRETS = ("VAULT_ADDR", "VAULT_NAMESPACE", "VAULT_ROLE_ID", "VAULT_SECRET_ID")
_MAX_BYTES = 1024 * 1024
_SECRET_USE = re.compile(r"secrets\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


def workflow_path(app_dir: Path) -> Path:
    folder = app_dir / ".github" / "workflows"
    for name in WORKFLOW_NAMES:
        if (folder / name).exists():
            return folder / name
    return folder / WORKFLOW_NAMES[0]


@check(
    id="vault.rotation-workflow",
    pane=PANE,
    title="Rotation job scheduled",
    checklist=(ENVIRONMENT, "Vault automation"),
    partial=VAULT_AUTOMATION_GAP,
)
async def rotation_workflow(ctx: CheckContext) -> Outcome:
    # PyYAML's import (~20 ms) and the reading and parsing of the file run off the loop.
    await import_off_loop("yaml")
    path = workflow_path(ctx.config.app_dir)
    document = await asyncio.to_thread(_load, path)
    triggers = _triggers(document)
    crons = [
        str(entry["cron"])
        for entry in (triggers.get("schedule") or [] if isinstance(triggers, dict) else [])
        if isinstance(entry, dict) and entry.get("cron")
    ]
    used = {match.group(1) for text in _strings(document) for match in _SECRET_USE.finditer(text)}
    missing = [name for name in SECRETS if name not in used]
    problems = []
    if not crons:
        problems.append("has no schedule: rotation runs only when someone starts it")
    if missing:
        problems.append(f"does not pass {', '.join(missing)} from the repository's secrets")
    if problems:
        return failed(
            f"{path.name} {'; it '.join(problems)}.",
            "Add `on: schedule: - cron: '0 3 * * *'` and pass the four VAULT_* secrets as "
            "`${{ secrets.NAME }}` to the rotation step.",
            schedule=", ".join(crons) or None,
        )
    return passed(
        f"{path.name} runs on a schedule and passes the four VAULT_* secrets; check on GitHub "
        "that it is enabled.",
        schedule=", ".join(crons),
    )


def _load(path: Path) -> Any:
    import yaml

    try:
        data = read_env_bytes(path, _MAX_BYTES)
    except FileNotFoundError:
        raise CheckFailed(
            f"The app repository has no {path.relative_to(path.parents[2])}: nothing rotates "
            "the Vault secrets.",
            "Add the vault-rotation workflow to the app repository (see the checklist's Vault "
            "section), or point TOOLBOX_APP_DIR at the app's checkout.",
        ) from None
    except EnvFileUnsafe:
        raise CheckFailed(f"{path} cannot be read: it is not a regular file.") from None
    except EnvFileTooLarge:
        raise CheckFailed(f"{path} cannot be read: it is over {_MAX_BYTES:,} bytes.") from None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise CheckFailed(f"{path} cannot be read: {why}.") from None
    try:
        # libyaml's safe loader where PyYAML has it: plain data only, as safe_load, ~6x faster.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(data.decode("utf-8", "replace"), Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CheckFailed(
            f"{path.name} is not valid YAML{where}: GitHub would not run it.",
            "Fix the file; `python -c 'import yaml,sys; yaml.safe_load(open(sys.argv[1]))' "
            "FILE` shows the error.",
        ) from None


def _triggers(document: Any) -> Any:
    if not isinstance(document, dict):
        return {}
    # YAML 1.1 reads a bare `on:` key as the boolean True; GitHub means "on".
    return document.get("on", document.get(True, {}))


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
