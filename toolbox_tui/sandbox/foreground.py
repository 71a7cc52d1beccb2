"""Waiting in the foreground until someone stops us (Ctrl-C, ``kill``, a closed terminal),
then cleaning up without being cut short (:func:`toolbox_tui.console.say` then says so,
even if the terminal is gone).

``with StopSignals() as stop: received = stop.wait(); ...clean up...`` holds SIGINT, SIGTERM
and SIGHUP for the whole block: the first one ends the wait, and any that follow while we
clean up are held back instead of interrupting the clean-up half-way. A signal this process
inherited as ignored (``nohup`` ignores SIGHUP) stays ignored.

Start child processes before the block, not inside it: a child inherits held signals.
"""

from __future__ import annotations

import signal
from types import TracebackType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    def __init__(self) -> None:
        self._signals: set[signal.Signals] = set()
        self._previous: set[int] = set()

    def __enter__(self) -> StopSignals:
        self._signals = {s for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}
        self._previous = signal.pthread_sigmask(signal.SIG_BLOCK, self._signals)
        return self

    def wait(self) -> signal.Signals:
        """Block until one of the stop signals arrives; which one."""
        # sigwait, not a handler and pause(): a signal arriving just before pause() would
        # be handled, and pause() would then wait for another one.
        return signal.Signals(signal.sigwait(self._signals))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Signals held back during the clean-up asked for what has now been done.
        while self._signals and signal.sigtimedwait(self._signals, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)
