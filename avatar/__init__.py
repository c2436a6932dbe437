"""Real-time Gaussian-splatting head avatars.

Sub-packages, lowest layer first (each imports only its own layer and those below; see
docs/architecture.md and tests/test_imports.py): ``runtime`` (backend registries, the run's
device, CPU threads, the kernel self-check's comparison), ``cli`` parts (the parsers' look, the
bad-input exceptions), ``rig`` (parametric heads + LBS), ``render`` (cameras, world-space
Gaussians, splatting backends), ``data`` (captures, expression files, video, atomic writes),
``gaussians`` (the avatar's Gaussians and offsets, blending, .avatar files), ``renderer`` (the
one render path: pose, blend, splat, cut), ``model`` (``Avatar``: a trained avatar that owns what
renders it; ``load_avatar``), ``training`` (fitting, evaluation, metrics), ``bench``, ``api``
(the front door: ``avatar.load``, ``avatar.train``, ``avatar.evaluate``) and the ``cli`` command.
``avatar.*`` never imports ``viewer`` or ``capture``.
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
