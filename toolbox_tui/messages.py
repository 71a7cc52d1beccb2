"""Textual messages that carry engine events to the widgets ("attributes down, messages up")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from checks.core import CheckResult
    from checks.events import ActionDone


class CheckStarted(Message):
    def __init__(self, check_id: str, generation: int = 0) -> None:
        super().__init__()
        self.check_id = check_id
        self.generation = generation


class CheckLogged(Message):
    def __init__(self, source: str, line: str) -> None:
        super().__init__()
        self.source = source
        self.line = line


class CheckFinished(Message):
    def __init__(self, result: CheckResult, generation: int = 0) -> None:
        super().__init__()
        self.result = result
        self.generation = generation


class ActionCompleted(Message):
    """An action ended (ok, failed, refused, cancelled); ``check_id`` is where it was started
    from."""

    def __init__(self, done: ActionDone, check_id: str | None) -> None:
        super().__init__()
        self.done = done
        self.check_id = check_id

    @property
    def action_id(self) -> str:
        return self.done.action_id

    @property
    def outcome(self) -> str:
        return self.done.outcome

    @property
    def message(self) -> str:
        return self.done.message


class RunStopped(Message):
    """Run ``generation`` ended before these checks finished (replaced by a new run, or quit)."""

    def __init__(self, check_ids: frozenset[str], generation: int = 0) -> None:
        super().__init__()
        self.check_ids = check_ids
        self.generation = generation
