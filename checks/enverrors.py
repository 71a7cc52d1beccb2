"""Why an env file was not read or not changed: one exception family for every refusal.

Each message is a sentence for a person (what is wrong, what to do) and names the file, its
mode or its size, never a value from it: a value may be a secret, and these messages reach
screens, reports and the audit log.
"""

from __future__ import annotations


class EnvFileError(Exception):
    """The env file was not read or not written; ``str()`` says why, without any value."""


class EnvFileUnsafe(EnvFileError):
    """The path is not a regular file (a FIFO, a device, a directory, a socket)."""


class EnvFileTooLarge(EnvFileError):
    """The file is bigger than TOOLBOX_MAX_ENV_BYTES allows."""


class EnvFileNotText(EnvFileError):
    """The file is not UTF-8 text."""


class EnvFileReadOnly(EnvFileError):
    """The file's owner has no write permission: someone made it read-only on purpose."""


class EnvFileChanged(EnvFileError):
    """The file is not the one a preview was built from."""


class EnvFileBusy(EnvFileError):
    """Another fix holds the env file's lock."""


class EnvFileUneditable(EnvFileError):
    """The update cannot be written without changing how other lines read."""
