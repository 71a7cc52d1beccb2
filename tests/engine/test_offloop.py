"""checks.offloop: a check's SDK is imported on the import thread, never on the event loop's."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
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


GATE = "toolbox_offloop_gate"
SLOW, QUEUED = "toolbox_offloop_slow", "toolbox_offloop_queued"
DEPENDENCY = "toolbox_offloop_dependency"  # SLOW imports it once its gate opens


@pytest.fixture
def gated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, threading.Event]]:
    """Two modules whose import each waits for its own gate (an Event) to open; the first
    then imports a third."""
    gates = {SLOW: threading.Event(), QUEUED: threading.Event()}
    gate_module = types.ModuleType(GATE)
    gate_module.GATES = gates  # type: ignore[attr-defined]
    gate_module.STARTED = {name: threading.Event() for name in gates}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, GATE, gate_module)
    for name in gates:
        (tmp_path / f"{name}.py").write_text(
            f"import {GATE}\n{GATE}.STARTED[{name!r}].set()\n{GATE}.GATES[{name!r}].wait(30)\n",
            encoding="utf-8",
        )
    with (tmp_path / f"{SLOW}.py").open("a", encoding="utf-8") as slow:
        slow.write(f"import {DEPENDENCY}\n")
    (tmp_path / f"{DEPENDENCY}.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield gates
    finally:
        for name, gate in gates.items():
            gate.set()  # never leave the shared import thread stuck
            sys.modules.pop(name, None)
        sys.modules.pop(DEPENDENCY, None)


async def importing(name: str) -> None:
    """Until the import thread has started importing ``name`` (the deadline only keeps a
    regression from hanging the suite)."""
    started = sys.modules[GATE].STARTED[name]  # type: ignore[attr-defined]
    assert await asyncio.to_thread(started.wait, 20)


async def test_a_module_being_imported_is_waited_for_not_the_queue_behind_it(
    gated: dict[str, threading.Event],
) -> None:
    first = asyncio.ensure_future(import_off_loop(SLOW))
    await importing(SLOW)
    queued = asyncio.ensure_future(import_off_loop(QUEUED))
    again = asyncio.ensure_future(import_off_loop(SLOW))  # a second check asks meanwhile
    await asyncio.sleep(0)  # a yield, not a wait: the requests above reach the queue
    gated[SLOW].set()
    # Both callers of SLOW are answered while QUEUED's import still waits on its gate; the
    # deadline only keeps a regression from hanging the suite.
    await asyncio.wait_for(asyncio.gather(first, again), 20)
    assert not queued.done()
    gated[QUEUED].set()
    await asyncio.wait_for(queued, 20)


async def test_a_module_that_came_in_as_a_dependency_is_not_waited_for_in_the_queue(
    gated: dict[str, threading.Event],
) -> None:
    first = asyncio.ensure_future(import_off_loop(SLOW))
    await importing(SLOW)
    queued = asyncio.ensure_future(import_off_loop(QUEUED))
    dependency = asyncio.ensure_future(import_off_loop(DEPENDENCY))  # queued behind QUEUED
    await asyncio.sleep(0)  # a yield, not a wait: the requests above reach the queue
    gated[SLOW].set()  # SLOW goes on, importing DEPENDENCY
    await asyncio.wait_for(asyncio.gather(first, dependency), 20)
    assert not queued.done()
    gated[QUEUED].set()
    await asyncio.wait_for(queued, 20)
