"""Time to first frame: the dashboard against a bare Textual app, in fresh processes.

Each sample starts a new interpreter (imports included) that builds the app and runs it
headless until Textual hands over to the pilot, which it does once the first screen is
mounted and drawn; we report the median of a few samples and the ratio.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

SAMPLES = 5

_BARE = """
import time; t0 = time.perf_counter()
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("hello")
app = Bare()
async def first_frame(pilot):
    print(time.perf_counter() - t0); app.exit()
app.run(headless=True, size=(80, 24), auto_pilot=first_frame)
"""

_DASHBOARD = """
import time; t0 = time.perf_counter()
import tempfile
from pathlib import Path
from checks import catalog
from checks.context import CheckContext
from checks.settings import ToolboxConfig
from toolbox_tui.app import make_app
from toolbox_tui.sandbox.demo import write_demo
setup = time.perf_counter()
demo = write_demo(Path(tempfile.mkdtemp()) / "app")
config = ToolboxConfig(**demo.config_overrides())
t0 += time.perf_counter() - setup  # writing the demo's files is set-up, not start-up
app = make_app(CheckContext.create(config), catalog.load())
async def first_frame(pilot):
    print(time.perf_counter() - t0); app.exit()
app.run(headless=True, size=(80, 24), auto_pilot=first_frame)
"""


def _sample(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    bare = statistics.median(_sample(_BARE) for _ in range(SAMPLES))
    dash = statistics.median(_sample(_DASHBOARD) for _ in range(SAMPLES))
    print(f"first frame (median of {SAMPLES}, 80x24, headless):")
    print(
        f"  bare Textual app {bare * 1000:.0f} ms | dashboard {dash * 1000:.0f} ms "
        f"| ratio x{dash / bare:.2f}"
    )


if __name__ == "__main__":
    main()
