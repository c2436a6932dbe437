"""Errors raised while reading rig files (FLAME, ICT-FaceKit) or resolving rig specs."""

from __future__ import annotations

from avatar.runtime.errors import InputError

FLAME_SOURCE = ("FLAME is available (free registration) from https://flame.is.tue.mpg.de; "
                "its licence forbids redistribution, so this project never ships it")


class RigFileError(InputError):
    """A rig file or directory is missing, unreadable, unsafe or not the expected model."""


class RigFileNotFoundError(RigFileError, FileNotFoundError):
    """The rig file or directory does not exist (also catchable as FileNotFoundError)."""
