"""A crash of the dashboard prints a report without the secrets that its local variables hold.

Textual's own crash report prints every local variable of every frame; the dashboard replaces
it. This runs a real dashboard in a separate process, makes it crash in a key handler whose
locals hold a planted secret, and reads everything the process wrote to the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLANTED = "sk_live_Pl4ntedS3cretThatMustNeverShow0123"

SCRIPT = f"""
from pathlib import Path

from checks.context import CheckContext
from checks.core import Registry
from checks.settings import ToolboxConfig
from toolbox_tui.app import ToolboxApp


class CrashingApp(ToolboxApp):
    BINDINGS = [("x", "crash", "Crash")]

    def action_crash(self) -> None:
        stripe_key = self.ctx.env.get("STRIPE_SECRET_KEY")
        raise RuntimeError("the handler broke while holding " + str(len(stripe_key)) + " chars")


async def press(pilot) -> None:
    await pilot.pause()
    await pilot.press("x")  # the key reaches the handler through Textual's own loop


env_file = Path(".env")
env_file.write_text("STRIPE_SECRET_KEY={PLANTED}\\n")
ctx = CheckContext.create(ToolboxConfig(env_file=env_file, app_dir=Path(".")))
app = CrashingApp(ctx, Registry(), autorun=False)
app.run(headless=True, auto_pilot=press)
"""


def test_a_crash_report_names_the_error_and_not_the_secrets(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    printed = done.stdout + done.stderr
    assert "toolbox-tui crashed" in printed, printed
    assert "the handler broke while holding" in printed
    assert PLANTED not in printed
    assert PLANTED[-12:] not in printed  # not even wrapped across two lines
