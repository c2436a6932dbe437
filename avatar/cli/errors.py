"""How the `avatar` command reports a failure: bad input on one line, a bug with its traceback.

Bad input (exit status 2, the message on one line, no traceback, also with -v):
- `InputError` (`avatar.runtime.errors`, a ValueError): every reader's domain error (DataFileError
  and its CaptureError, VideoError, ExpressionFileError, OutputError ...; RigFileError,
  AvatarFileError, DeviceUnavailable, BackendDeviceError, the viewer's SourceError ...) and the
  commands' own checks of their arguments;
- `BackendUnavailable`: a backend this machine cannot run (not built, no GPU, a missing package);
- a missing file or folder (FileNotFoundError, NotADirectoryError), and any OSError that names the
  file it failed on (permission denied, disk full, a path that cannot be created): the message
  names the file and what failed.

Anything else is a bug, a plain ValueError included: the command prints the traceback (always,
with or without -v) and a line asking to report it, and exits 1.
"""

from __future__ import annotations

from avatar.runtime.backends import BackendUnavailable
from avatar.runtime.errors import InputError

__all__ = ["InputError", "USER_ERRORS", "error_message", "is_user_error"]

USER_ERRORS = (InputError, FileNotFoundError, NotADirectoryError, BackendUnavailable)


def is_user_error(error: BaseException) -> bool:
    """Whether `error` means bad input (or a file the machine refused), not a bug."""
    return isinstance(error, USER_ERRORS) or (isinstance(error, OSError) and error.filename is not None)


def error_message(error: BaseException) -> str:
    """The one line the command prints for a user error: an OSError as 'FILE: what failed'
    (Python's own text is '[Errno 13] Permission denied: 'FILE''), anything else its message."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        names = f"{error.filename} -> {error.filename2}" if error.filename2 is not None else f"{error.filename}"
        return f"{names}: {error.strerror}"
    return str(error) or type(error).__name__

