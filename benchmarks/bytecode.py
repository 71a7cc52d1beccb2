"""Our modules compiled to bytecode before anything is timed, as an installed package's are.

pip compiles a wheel's modules when it installs them, so Textual's and every SDK's import
from ``.pyc`` files. Ours are an editable install: with ``PYTHONDONTWRITEBYTECODE`` set (as
on this project's machines) every measured process would compile them from source again,
a cost no installed toolbox-tui pays and its anchors never pay.
"""

from __future__ import annotations

import compileall
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("toolbox_tui", "checks", "benchmarks")


def compile_ours() -> None:
    """Write the ``.pyc`` of each of our modules that has none matching its source."""
    for package in PACKAGES:
        # py_compile writes whatever PYTHONDONTWRITEBYTECODE says; quiet=1 prints errors only.
        compileall.compile_dir(ROOT / package, quiet=1)


def compiled(source: Path) -> Path:
    """Where the ``.pyc`` of ``source`` is read from."""
    return Path(importlib.util.cache_from_source(str(source)))
