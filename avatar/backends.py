"""Named compute backends behind one call, resolved lazily (nothing compiles at import).

Each op (`splat`, `blend`) keeps a `BackendRegistry`. A backend registers a loader that returns
the implementation or raises `BackendUnavailable` with the reason. `auto` tries cuda > cpu >
torch and logs once which one it chose.
"""

from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger("avatar")

AUTO_ORDER = ("cuda", "cpu", "torch")


class BackendUnavailable(RuntimeError):
    """A backend cannot run here (not built, no GPU, missing package); the message says why."""


class BackendRegistry:
    def __init__(self, op: str):
        self.op = op
        self._loaders: dict[str, Callable[[], Callable]] = {}
        self._resolved: dict[str, Callable] = {}
        self._auto: str | None = None

    def register(self, name: str, loader: Callable[[], Callable]) -> None:
        self._loaders[name] = loader
        self._resolved.pop(name, None)
        self._auto = None

    @property
    def names(self) -> list[str]:
        return list(self._loaders)

    def get(self, name: str) -> tuple[str, Callable]:
        """(resolved name, implementation); raises BackendUnavailable with the reason."""
        if name == "auto":
            return self._pick_auto()
        if name not in self._loaders:
            raise BackendUnavailable(f"unknown {self.op} backend '{name}'; known: {', '.join(self.names)}")
        if name not in self._resolved:
            self._resolved[name] = self._loaders[name]()
        return name, self._resolved[name]

    def available(self) -> dict[str, str]:
        """Backend name -> 'ok' or the reason it is unavailable."""
        out = {}
        for name in self._loaders:
            try:
                self.get(name)
                out[name] = "ok"
            except BackendUnavailable as e:
                out[name] = str(e)
        return out

    def _pick_auto(self) -> tuple[str, Callable]:
        if self._auto is not None:
            return self._auto, self._resolved[self._auto]
        reasons = []
        for name in AUTO_ORDER:
            if name not in self._loaders:
                continue
            try:
                _, fn = self.get(name)
            except BackendUnavailable as e:
                reasons.append(f"{name}: {e}")
                continue
            self._auto = name
            log.info("%s backend: %s%s", self.op, name, f" (skipped {'; '.join(reasons)})" if reasons else "")
            return name, fn
        raise BackendUnavailable(f"no {self.op} backend available: {'; '.join(reasons)}")


def extension_loader(device: str, fn: Callable) -> Callable[[], Callable]:
    """A registry loader for a cuda_ext-backed implementation: loads (or builds) the compiled
    module for `device` on first use and turns any failure into BackendUnavailable."""

    def load() -> Callable:
        try:
            import cuda_ext
        except ImportError as e:
            raise BackendUnavailable(f"the cuda_ext package is not importable ({e}); reinstall the project") from e
        try:
            cuda_ext.load(device)
        except cuda_ext.ExtensionUnavailable as e:
            raise BackendUnavailable(str(e)) from e
        return fn

    return load
