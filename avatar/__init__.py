"""Real-time Gaussian-splatting head avatars.

Sub-packages, in data-path order: ``rig`` (parametric heads + LBS), ``data`` (captures,
expression files, video), ``gaussians`` (the avatar model and blending), ``render``
(cameras and splatting backends), ``renderer`` (the one render path of a trained avatar, as
every command shows it: pose, blend, splat, its cut below the head), ``training`` (fitting and
metrics; its entry point is ``avatar.train``). ``avatar.*`` never imports ``viewer`` or ``capture``.
"""

__version__ = "0.1.0"

_API = ("Avatar", "load", "train", "evaluate")


def __getattr__(name: str):
    """`avatar.load`, `avatar.train`, ... (avatar.api), imported on first use so that `import
    avatar` and `avatar --help` do not load torch."""
    if name in _API:
        from avatar import api

        return getattr(api, name)
    raise AttributeError(f"module 'avatar' has no attribute {name!r}")
