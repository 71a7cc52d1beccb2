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

import contextlib
import signal
from collections.abc import Iterator
from types import TracebackType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def threads_spared_stop_signals() -> Iterator[None]:
    """Threads started inside this block never take SIGINT, SIGTERM or SIGHUP.

    The kernel hands a signal sent to the process to any one thread that does not block it.
    :class:`StopSignals` waits for them in the main thread with their default action in
    place; had a server thread (the sandbox's SMTP relay, say) taken one instead, that default
    action would end the whole process at once, with nothing stopped or said. A thread keeps
    the mask of the thread that started it, so it is set here for the start only.

    Start no child process inside: it would inherit the blocked signals.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
