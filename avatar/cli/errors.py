"""Exceptions that mean bad user input: the CLI prints their message, no traceback, exit 2."""

from avatar.runtime.backends import BackendUnavailable

# Every domain error subclasses ValueError (RigFileError, CaptureError, ExpressionFileError,
# AvatarFileError, VideoError) or is a missing file.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, BackendUnavailable)
