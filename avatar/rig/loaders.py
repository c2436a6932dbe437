"""Resolve a rig spec string (`builtin`, `flame:PATH`, `flame`, `ict:DIR`, `ict`) to a `HeadRig`."""

from __future__ import annotations

import os

from avatar.rig.errors import FLAME_SOURCE, RigFileError, RigFileNotFoundError
from avatar.rig.head_rig import HeadRig

FLAME_ENV = "AVATAR_FLAME_PATH"
ICT_ENV = "AVATAR_ICT_DIR"
ACCEPTED = ("accepted rig specs: 'builtin'; 'flame:PATH' (a FLAME .pkl/.npz) or 'flame' with "
            f"${FLAME_ENV} set; 'ict:DIR' (ICT-FaceKit's FaceXModel folder) or 'ict' with ${ICT_ENV} set")


def load_rig(spec: str) -> HeadRig:
    """Load the rig named by `spec`; RigFileError (listing the accepted forms) when it can't."""
    kind, sep, arg = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "builtin" and not sep:
        from avatar.rig.builtin import build_builtin_head  # lazy: written independently

        return build_builtin_head()
    if kind == "flame":
        from avatar.rig.flame import load_flame

        return load_flame(_location(spec, arg, sep, FLAME_ENV, f"a FLAME model file. {FLAME_SOURCE}"))
    if kind == "ict":
        from avatar.rig.ict import load_ict

        return load_ict(_location(spec, arg, sep, ICT_ENV, "ICT-FaceKit's FaceXModel folder"))
    raise RigFileError(f"unknown rig spec '{spec}'; {ACCEPTED}")


def _location(spec: str, arg: str, sep: str, env: str, what: str) -> str:
    """The path after the colon, or the environment variable for a bare `flame` / `ict`."""
    if sep:
        if not arg.strip():
            raise RigFileError(f"rig spec '{spec}' has an empty path; {ACCEPTED}")
        path = arg.strip()
    else:
        path = os.environ.get(env, "").strip()
        if not path:
            raise RigFileNotFoundError(f"rig spec '{spec}' needs ${env} pointing at {what}; {ACCEPTED}")
    if not os.path.exists(os.path.expanduser(path)):
        raise RigFileNotFoundError(f"rig spec '{spec}': '{path}' does not exist (expected {what}); "
                                   f"{ACCEPTED}")
    return os.path.expanduser(path)
