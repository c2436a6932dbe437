"""One-Euro filter (Casiez et al. 2012) on a vector: low lag when moving, steady when still.

The cutoff frequency grows with the filtered speed: fc = min_cutoff + beta |dx/dt|, so slow
jitter is smoothed hard while fast motion passes with little lag.
"""

from __future__ import annotations

import math

import numpy as np

MIN_CUTOFF_HZ = (30.0, 0.3)  # cutoff at smoothing strength 0 and 1 (log-interpolated)
BETA = 0.3
DERIVATIVE_CUTOFF_HZ = 1.0


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters vectors sampled at irregular times. strength in [0, 1]: 0 passes values through."""

    def __init__(self, strength: float = 0.3):
        self.strength = strength
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filtered copy of x at time t (seconds, increasing)."""
        x = np.asarray(x, dtype=np.float64)
        if self.strength <= 0 or self._x is None or t <= self._t or x.shape != self._x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        lo, hi = (math.log(v) for v in MIN_CUTOFF_HZ)
        min_cutoff = math.exp(lo + (hi - lo) * min(self.strength, 1.0))
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(DERIVATIVE_CUTOFF_HZ, dt) * (dx - self._dx)
        cutoff = min_cutoff + BETA * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()
