"""`.avatar` files: one safetensors file, never pickle.

Tensors: the model's attributes and offsets (`gaussians.*`), and the rig arrays (`rig.*`)
unless the rig's licence forbids embedding them (FLAME): then the user passes the rig again and
its identity hash must match. Metadata (strings): format, version, config (JSON), rig name,
rig hash, expression names, sh degree, and a SHA-256 over every tensor byte, so a truncated or
edited file is rejected instead of silently loading garbage.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from avatar.atomic import atomic_path
from avatar.gaussians.model import GaussianAvatar
from avatar.rig import HeadRig

FORMAT = "gaussian-avatar"
VERSION = 1


class AvatarFileError(ValueError):
    """An .avatar file that cannot be used; the message names the file and the problem."""


def _checksum(tensors: dict[str, Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).reshape(-1).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_avatar(model: GaussianAvatar, path: str | Path, config: dict | None = None) -> None:
    """Write atomically: a crash never leaves a half-written file under `path`."""
    path = Path(path)
    tensors = {f"gaussians.{k}": v.detach().cpu().contiguous() for k, v in model.attribute_tensors().items()}
    tensors["gaussians.parent"] = model.parent.cpu().contiguous()
    rig = model.rig
    if rig.embeddable:
        tensors.update({f"rig.{k}": v.detach().cpu().contiguous() for k, v in rig.arrays().items()})
    meta = {
        "format": FORMAT,
        "version": str(VERSION),
        "config": json.dumps(config or {}),
        "rig_name": rig.name,
        "rig_hash": rig.identity_hash(),
        "rig_embedded": str(rig.embeddable),
        "rig_expr_names": json.dumps(rig.expr_names),
        "rig_landmark_scheme": rig.landmark_scheme,
        "sh_degree": str(model.sh_degree),
        "num_blend_expr": str(model.num_blend_expr),
        "checksum": _checksum(tensors),
    }
    with atomic_path(path) as partial:
        save_file(tensors, str(partial), metadata=meta)


def load_avatar(path: str | Path, rig: HeadRig | None = None) -> tuple[GaussianAvatar, dict]:
    """Load a model and its training config. `rig` is required when the file has no rig arrays."""
    path = Path(path)
    if not path.is_file():
        raise AvatarFileError(f"{path}: no such .avatar file")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise AvatarFileError(f"{path}: not a readable .avatar file (truncated or corrupt?): {e}") from e
    if meta.get("format") != FORMAT:
        raise AvatarFileError(f"{path}: not an .avatar file (format tag {meta.get('format')!r})")
    if meta.get("version") != str(VERSION):
        raise AvatarFileError(f"{path}: .avatar version {meta.get('version')} is not supported (want {VERSION})")
    if meta.get("checksum") != _checksum(tensors):
        raise AvatarFileError(f"{path}: checksum mismatch: the file was modified or damaged after it was written")
    try:
        model = _build(tensors, meta, rig, path)
        config = json.loads(meta["config"])
    except (KeyError, json.JSONDecodeError, RuntimeError) as e:
        raise AvatarFileError(f"{path}: inconsistent contents ({e})") from e
    return model, config


def _build(tensors: dict[str, Tensor], meta: dict, rig: HeadRig | None, path: Path) -> GaussianAvatar:
    if rig is None:
        if meta.get("rig_embedded") != "True":
            raise AvatarFileError(f"{path}: trained on rig '{meta.get('rig_name')}', whose arrays are not embedded "
                                  "(licence); pass the same rig file with --rig")
        rig = _rig_from_tensors(tensors, meta)
    if rig.identity_hash() != meta["rig_hash"]:
        raise AvatarFileError(f"{path}: the rig given ('{rig.name}') is not the one this avatar was trained on")
    parent = tensors["gaussians.parent"]
    model = GaussianAvatar(rig, parent, int(meta["sh_degree"]), int(meta["num_blend_expr"]))
    model.replace_gaussians({k: tensors[f"gaussians.{k}"] for k in model.ATTRIBUTES + model.OFFSETS}, parent)
    return model


def _rig_from_tensors(tensors: dict[str, Tensor], meta: dict) -> HeadRig:
    arrays = {k[len("rig."):]: v for k, v in tensors.items() if k.startswith("rig.")}
    return HeadRig(name=meta["rig_name"], expr_names=json.loads(meta["rig_expr_names"]),
                   landmark_scheme=meta["rig_landmark_scheme"], embeddable=True, **arrays)
