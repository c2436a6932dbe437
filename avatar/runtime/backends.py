"""Named compute backends behind one call, resolved lazily (nothing compiles at import).

Each op (`splat`, `blend`) keeps a `BackendRegistry`. A backend registers a loader that returns
the implementation or raises `BackendUnavailable` with the reason, and the device types whose
tensors it computes on. Backends follow the data: `auto` picks, for the device the tensors are
on, cuda > torch (CUDA) or cpu > torch (CPU), and logs once what it chose; a backend named for
tensors on another device is a `BackendDeviceError`, never a silent fallback. A backend may also
carry a trust check (a CUDA kernel's self-check, `avatar.runtime.kernel_check`): when it fails, that
process uses the torch reference on the same device instead, and the name reported is "torch".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch  # imported where a device is resolved: `avatar --help` reads RENDER_BACKENDS without torch

from avatar.runtime.errors import InputError

log = logging.getLogger("avatar")

AUTO_ORDER = {"cuda": ("cuda", "torch"), "cpu": ("cpu", "torch")}
# What `--backend` and the training setting `backend` name: auto, or one implementation of both the
# blend and the splat (gsplat: our blend with gsplat's rasterizer).
RENDER_BACKENDS = ("auto", "torch", "cpu", "cuda", "gsplat")


class BackendUnavailable(RuntimeError):
    """A backend cannot run here (not built, no GPU, missing package); the message says why."""


class BackendDeviceError(InputError):
    """A backend asked for on tensors of a device it does not compute on."""


class BackendRegistry:
    def __init__(self, op: str):
        self.op = op
        self._loaders: dict[str, Callable[[], Callable]] = {}
        self._devices: dict[str, tuple[str, ...]] = {}
        self._trust: dict[str, Callable[[], str | None]] = {}
        self._resolved: dict[str, Callable] = {}
        self._distrusted: set[str] = set()
        self._auto: dict[str, str] = {}

    def register(self, name: str, loader: Callable[[], Callable], devices: tuple[str, ...] = ("cpu", "cuda"),
                 trust: Callable[[], str | None] | None = None) -> None:
        """loader() -> implementation; devices: the device types it computes on; trust() -> None
        when the loaded implementation may be used, else why not (checked once per process)."""
        self._loaders[name] = loader
        self._devices[name] = devices
        if trust is not None:
            self._trust[name] = trust
        self._resolved.pop(name, None)
        self._distrusted.discard(name)
        self._auto.clear()

    @property
    def names(self) -> list[str]:
        return list(self._loaders)

    def get(self, name: str, device: str | torch.device = "cpu") -> tuple[str, Callable]:
        """(name of what runs, implementation) for tensors on `device`; BackendUnavailable with
        the reason, or BackendDeviceError for a backend that does not compute on that device."""
        import torch

        kind = torch.device(device).type
        if name == "auto":
            return self._pick_auto(kind)
        if name not in self._loaders:
            raise BackendUnavailable(f"unknown {self.op} backend '{name}'; known: {', '.join(self.names)}")
        if kind not in self._devices[name]:
            serves = " or ".join(self._devices[name])
            raise BackendDeviceError(f"the '{name}' {self.op} backend computes on {serves} tensors and the run's "
                                     f"device is {kind}: choose --device {self._devices[name][0]}, or a backend "
                                     f"for {kind} ({', '.join(AUTO_ORDER.get(kind, ('torch',)))})")
        return self._load(name)

    def available(self, device: str | torch.device = "cpu") -> dict[str, str]:
        """Backend name -> 'ok' or the reason it cannot run on `device`."""
        out = {}
        for name in self._loaders:
            try:
                self.get(name, device)
                out[name] = "ok"
            except (BackendUnavailable, BackendDeviceError) as e:
                out[name] = str(e)
        return out

    def _load(self, name: str) -> tuple[str, Callable]:
        if name in self._distrusted:
            return self._load("torch")
        if name not in self._resolved:
            fn = self._loaders[name]()
            trust = self._trust.get(name)
            problem = trust() if trust is not None else None
            if problem is not None:
                self._distrusted.add(name)
                log.warning("the %s %s backend failed its self-check (%s); this process uses the torch "
                            "reference on the same device instead", name, self.op, problem)
                return self._load("torch")
            self._resolved[name] = fn
        return name, self._resolved[name]

    def _pick_auto(self, kind: str) -> tuple[str, Callable]:
        if kind in self._auto:
            return self._load(self._auto[kind])
        reasons = []
        for name in AUTO_ORDER.get(kind, ("torch",)):
            if name not in self._loaders:
                continue
            try:
                resolved, fn = self._load(name)
            except BackendUnavailable as e:
                reasons.append(f"{name}: {e}")
                continue
            self._auto[kind] = name
            log.info("%s backend on %s: %s%s", self.op, kind, resolved,
                     f" (skipped {'; '.join(reasons)})" if reasons else "")
            return resolved, fn
        raise BackendUnavailable(f"no {self.op} backend available on {kind}: {'; '.join(reasons)}")


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
