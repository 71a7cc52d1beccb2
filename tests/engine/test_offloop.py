"""checks.offloop: a check's SDK is imported on the import thread, never on the event loop's."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.offloop import import_off_loop

MODULE = "toolbox_offloop_probe"


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A module that notes the thread that imported it."""
    source = tmp_path / f"{MODULE}.py"
    source.write_text(
        "import threading\nIMPORTED_ON = threading.current_thread().name\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop(MODULE, None)


@pytest.mark.usefixtures("probe")
async def test_a_module_is_imported_on_the_import_thread() -> None:
    await import_off_loop(MODULE)
    imported_on = sys.modules[MODULE].IMPORTED_ON
    assert imported_on.startswith("toolbox-import")
    assert imported_on != threading.current_thread().name


async def test_a_module_that_cannot_be_imported_raises_as_import_does() -> None:
    with pytest.raises(ModuleNotFoundError):
        await import_off_loop("toolbox_no_such_module_anywhere")
