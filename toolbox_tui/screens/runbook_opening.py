"""Opening a runbook from the dashboard (``D``: the release, after asking its tag; ``B``: the
rollback), resumed when the audit log holds an unfinished one.

One runbook at a time: the runbook lock is taken before anything else and handed to the
view, which holds it until it closes; another dashboard or a ``toolbox-tui release`` is
told "Another runbook is running (pid …)" meanwhile. Whatever goes wrong while opening is
said in a notification; the dashboard stays.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import TYPE_CHECKING

from checks.core import CheckFailed
from checks.runbooks.model import Runbook, RunbookError
from toolbox_tui.screens.runbook import RunbookScreen

if TYPE_CHECKING:
    from toolbox_tui.app import ToolboxApp

OPEN_GROUP = "runbook-open"


def open_runbook(
    app: ToolboxApp, kind: str, screen_type: Callable[[Runbook], RunbookScreen] = RunbookScreen
) -> None:
    """Open the ``kind`` runbook ("release" or "rollback") over the dashboard."""
    app.run_worker(
        partial(_open, app, kind, screen_type),  # type: ignore[arg-type]
        group=OPEN_GROUP,
        exclusive=True,
        exit_on_error=False,
    )


async def _open(
    app: ToolboxApp, kind: str, screen_type: Callable[[Runbook], RunbookScreen]
) -> None:
    from checks.runbooks.lock import runbook_lock

    with ExitStack() as lock:
        try:
            lock.enter_context(runbook_lock(app.ctx.config.audit_path))
            runbook = await _runbook(app, kind)
        except CheckFailed as exc:
            _say(app, kind, f"{exc} {exc.hint}")
            return
        except RunbookError as exc:
            _say(app, kind, str(exc))
            return
        except Exception as exc:  # a bug must not take the dashboard down with it
            _say(app, kind, f"Cannot open the runbook: {type(exc).__name__}: {exc}")
            return
        if runbook is None:
            return
        screen = screen_type(runbook)
        screen.held.push(lock.pop_all())  # the view lets go of the lock when it closes
    await app.push_screen(screen)


async def _runbook(app: ToolboxApp, kind: str) -> Runbook | None:
    """The runbook of ``kind``; None when the tag prompt was cancelled."""
    from checks.runbooks.model import open_release, open_rollback

    ctx = app.ctx
    if kind != "release":
        return await open_rollback(ctx)
    from toolbox_tui.screens.ask_tag import AskTagScreen, release_choice

    tag = await app.push_screen_wait(AskTagScreen(await release_choice(ctx)))
    return None if tag is None else await open_release(ctx, tag)


def _say(app: ToolboxApp, kind: str, message: str) -> None:
    app.notify(app.ctx.redactor.text(message.strip()), title=kind, severity="error", markup=False)
