"""The one device of a run: `--device auto|cpu|cuda[:N]` and the `device` argument of the API.

The model, the rig, the training targets and the optimiser live on it, and the kernels that run
are those of that device (`avatar.runtime.backends`). `auto` is the first CUDA device when torch sees
one, else the CPU.
"""

from __future__ import annotations

import re

import torch

from avatar.runtime.errors import InputError

_SPEC = re.compile(r"^(auto|cpu|cuda)(:(\d+))?$")


class DeviceUnavailable(InputError):
    """A device asked for that this machine or this torch build does not have."""


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """torch.device for `spec` (None and "auto": CUDA when available, else CPU); a CUDA device
    this process cannot use is a DeviceUnavailable naming why."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = (spec or "auto").strip().lower()
    match = _SPEC.match(text)
    if match is None or (match.group(1) != "cuda" and match.group(2)):
        raise DeviceUnavailable(f"device '{spec}' is not one of auto, cpu, cuda, cuda:N")
    kind = match.group(1)
    if kind == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if torch.version.cuda is None:
        raise DeviceUnavailable(f"device '{spec}': torch {torch.__version__} is a CPU-only build")
    if not torch.cuda.is_available():
        raise DeviceUnavailable(f"device '{spec}': torch sees no CUDA device (driver or GPU missing)")
    index = int(match.group(3) or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceUnavailable(f"device '{spec}': this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    return torch.device("cuda", index)
