"""Textual messages that carry engine events to the widgets ("attributes down, messages up")."""

from __future__ import annotations

from textual.message import Message

from checks.core import CheckResult


class CheckStarted(Message):
    def __init__(self, check_id: str) -> None:
        super().__init__()
        self.check_id = check_id


class CheckLogged(Message):
    def __init__(self, source: str, line: str) -> None:
        super().__init__()
        self.source = source
        self.line = line


class CheckFinished(Message):
    def __init__(self, result: CheckResult) -> None:
        super().__init__()
        self.result = result


class ActionCompleted(Message):
    """An action ended (ok, failed, refused); ``check_id`` is where it was started from."""

    def __init__(self, action_id: str, outcome: str, message: str, check_id: str | None) -> None:
        super().__init__()
        self.action_id = action_id
        self.outcome = outcome
        self.message = message
        self.check_id = check_id


class RunStopped(Message):
    """A run ended before these checks finished (replaced by a new run, or quit)."""

    def __init__(self, check_ids: frozenset[str]) -> None:
        super().__init__()
        self.check_ids = check_ids
