"""Fitting an avatar to a capture: trainer (trainer.py), config presets (config.py), losses and
metrics (image_metrics.py), binding-aware densification (densify.py), held-out evaluation
(evaluate.py). Named `training` so that the package does not shadow the API call `avatar.train`.
Imports `avatar.rig`, `avatar.gaussians`, `avatar.splat` and `avatar.data`.
"""
