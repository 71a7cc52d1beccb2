"""What a check or action receives: the deployment's env, the tool's config, and a log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from checks.redact import Redactor
from checks.settings import DeploymentEnv

if TYPE_CHECKING:
    # Only for annotations: registering a check must not load pydantic-settings.
    from checks.config import ToolboxConfig
    from checks.memo import RunMemo

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def discard(line: str) -> None:
    """A log that keeps nothing: the default, and for work whose lines are logged after."""
    del line


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may look at. The runner hands each check its own bound copy."""

    env: DeploymentEnv
    config: ToolboxConfig
    redactor: Redactor = field(default_factory=Redactor)
    clock: Callable[[], datetime] = _utc_now
    _log: Callable[[str], None] = discard
    _changed: Callable[[str], None] = discard
    memo: RunMemo | None = None
    """Work shared by the checks of one run (the runner gives each run its own)."""
    params: Mapping[str, str] = field(default_factory=dict)
    """What an action is asked to do beyond its defaults (``tag="v1.5.0"`` for
    ``code.checkout``): a runbook step sets them, and ``fix ID --param tag=v1.5.0``. An action's
    plan reads them, so the preview shows the very target that runs."""

    @classmethod
    def create(cls, config: ToolboxConfig, **kwargs: object) -> CheckContext:
        """Read the env file named by ``config`` and learn its secrets."""
        env = DeploymentEnv.load(config.env_file, max_bytes=config.max_env_bytes)
        # The operator's API token (TOOLBOX_API_TOKEN) is masked like the env file's secrets.
        redactor = Redactor([*env.secret_values(), *config.secret_values()])
        return cls(env=env, config=config, redactor=redactor, **kwargs)  # type: ignore[arg-type]

    def log(self, line: str) -> None:
        """One line into this check's live log (redacted before anyone sees it)."""
        self._log(line)

    async def shared(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """``compute()``'s result, done once per run of checks and shared by every check that
        asks for ``key``; outside a run (an action), done afresh each time."""
        if self.memo is None:
            return await compute()
        return await self.memo.get(key, compute)

    def changed(self, what: str) -> None:
        """An action says what it has just changed ("wrote DATA_ENCRYPTION_KEY to .env").

        The line goes to the live log, and into the audit record; when the action is
        interrupted, its record says what had already been changed by then.
        """
        self._log(what)
        self._changed(what)

    def bound(
        self, log: Callable[[str], None], changed: Callable[[str], None] = discard
    ) -> CheckContext:
        return replace(self, _log=log, _changed=changed)

    def with_params(self, **params: str) -> CheckContext:
        """This context with ``params`` added (an action's target, a runbook's release)."""
        return replace(self, params={**self.params, **params})

    def reloaded(self) -> CheckContext:
        """After an action changed the env file: new values, and the old secrets still masked."""
        env = DeploymentEnv.load(self.config.env_file, max_bytes=self.config.max_env_bytes)
        self.redactor.add(*env.secret_values())
        return replace(self, env=env)
