"""Real-time Gaussian-splatting head avatars.

Sub-packages, in data-path order: ``rig`` (parametric heads + LBS), ``data`` (captures,
expression files, video), ``gaussians`` (the avatar model and blending), ``render``
(cameras and splatting backends), ``train`` (fitting and metrics). ``avatar.*`` never imports
``viewer`` or ``capture``.
"""

__version__ = "0.1.0"
