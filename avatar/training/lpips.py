"""LPIPS (Zhang et al. 2018, v0.1, AlexNet) in plain torch: no torchvision, no lpips package.

The network: inputs in [-1, 1] shifted and scaled per channel, AlexNet's five ReLU outputs,
each unit-normalised over channels, squared differences weighted by a learnt 1x1 layer per level,
averaged over space and summed over levels. Two weight files, the standard ones:
- AlexNet: torchvision's `alexnet-owt-7be5be79.pth` (keys `features.N.weight/bias`);
- the linear heads: lpips' `weights/v0.1/alex.pth` (keys `linK.model.1.weight`).
They are looked for in `AVATAR_LPIPS_WEIGHTS` (a folder with both), torch hub's checkpoint cache
and an installed lpips package; nothing is downloaded. Without them, LPIPS is reported as null.
"""

from __future__ import annotations

import os
import pickle
from importlib import metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
HEADS_FILE = "alex.pth"
CHANNELS = (64, 192, 384, 256, 256)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


class Lpips(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # AlexNet's convolutions; the max-pools sit before conv 2 and 3 (torchvision's layout).
        self.convs = nn.ModuleList([
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.Conv2d(64, 192, 5, padding=2),
            nn.Conv2d(192, 384, 3, padding=1), nn.Conv2d(384, 256, 3, padding=1), nn.Conv2d(256, 256, 3, padding=1)])
        self.heads = nn.ModuleList([nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    def features(self, x: Tensor) -> list[Tensor]:
        """The five ReLU outputs for x [B, 3, H, W] in [-1, 1]."""
        h = (x - self.shift) / self.scale
        out = []
        for i, conv in enumerate(self.convs):
            if i in (1, 2):
                h = F.max_pool2d(h, 3, 2)
            h = F.relu(conv(h))
            out.append(h)
        return out

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """[B] distances between a and b [B, 3, H, W] in [-1, 1]."""
        total = 0.0
        for fa, fb, head in zip(self.features(a), self.features(b), self.heads):
            na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + head((na - nb).pow(2)).mean(dim=(1, 2, 3))
        return total

    def load_standard_weights(self, alexnet: dict[str, Tensor], heads: dict[str, Tensor]) -> None:
        """From torchvision's AlexNet state dict and lpips' v0.1 head state dict."""
        convs = {}
        for i, layer in enumerate((0, 3, 6, 8, 10)):  # conv positions in torchvision's `features`
            convs[f"convs.{i}.weight"] = alexnet[f"features.{layer}.weight"]
            convs[f"convs.{i}.bias"] = alexnet[f"features.{layer}.bias"]
        lins = {f"heads.{i}.weight": heads[f"lin{i}.model.1.weight"] for i in range(len(CHANNELS))}
        self.load_state_dict(convs | lins | {"shift": self.shift, "scale": self.scale})


def find_weights() -> tuple[Path, Path] | str:
    """(alexnet, heads) paths, or the reason they are not available."""
    folders = []
    if os.environ.get("AVATAR_LPIPS_WEIGHTS"):
        folders.append(Path(os.environ["AVATAR_LPIPS_WEIGHTS"]))
    folders.append(Path(torch.hub.get_dir()) / "checkpoints")
    alexnet = next((f / ALEXNET_FILE for f in folders if (f / ALEXNET_FILE).is_file()), None)
    heads = next((f / HEADS_FILE for f in folders if (f / HEADS_FILE).is_file()), None) or _package_heads()
    if alexnet is None or heads is None:
        missing = [n for n, p in ((ALEXNET_FILE, alexnet), (HEADS_FILE, heads)) if p is None]
        return (f"LPIPS weights not found offline ({', '.join(missing)}); put them in a folder named by "
                "AVATAR_LPIPS_WEIGHTS")
    return alexnet, heads


def _package_heads() -> Path | None:
    """lpips' own head weights, when the package is installed (even where it cannot import)."""
    try:
        files = metadata.files("lpips") or []
    except metadata.PackageNotFoundError:
        return None
    found = [f for f in files if str(f).replace("\\", "/").endswith(f"weights/v0.1/{HEADS_FILE}")]
    return Path(found[0].locate()) if found else None


def load_lpips() -> Lpips | str:
    """The network with its standard weights, or the reason it cannot be built."""
    found = find_weights()
    if isinstance(found, str):
        return found
    try:
        alexnet = torch.load(found[0], map_location="cpu", weights_only=True)
        heads = torch.load(found[1], map_location="cpu", weights_only=True)
        net = Lpips()
        net.load_standard_weights(alexnet, heads)
    except (OSError, RuntimeError, KeyError, ValueError, EOFError, pickle.UnpicklingError) as e:
        return f"LPIPS weights unreadable ({type(e).__name__}: {e})"
    return net.eval()
