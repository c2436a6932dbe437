"""Structural checks of an `.avatar` file's contents, after its digest: a file whose digest is
valid but whose tensors disagree with each other or with the rig (a crafted file, or a writer's
bug) is refused with one message instead of rendering garbage or crashing a kernel."""

from __future__ import annotations

import torch
from torch import Tensor

from avatar.data.errors import parse_json
from avatar.rig import HeadRig
from avatar.runtime.errors import InputError

MAX_ABS = 1e6  # no trained attribute or rig array comes near; 1e30 would render inf
MAX_SH_DEGREE = 3
NUM_JOINTS = 5


class ContentError(InputError):
    """Inconsistent contents; the message says which tensor or key and how."""


def check_metadata(meta: dict) -> tuple[int, dict]:
    """(sh degree, config) from the metadata strings, checked."""
    try:
        sh_degree = int(meta["sh_degree"])
        config = parse_json(meta["config"])  # JSONTextError is a ValueError
    except KeyError as e:
        raise ContentError(f"metadata key {e} is missing") from None
    except ValueError:
        raise ContentError("metadata sh_degree or config is malformed") from None
    if not 0 <= sh_degree <= MAX_SH_DEGREE:
        raise ContentError(f"sh_degree {sh_degree} is not in 0..{MAX_SH_DEGREE}")
    if not isinstance(config, dict):
        raise ContentError("metadata config is not a JSON object")
    return sh_degree, config


# The dtypes save_avatar writes. Anything else (a re-signed file with half-precision colours, say)
# would reach a kernel that names only its own argument ("blend: sh_rest has dtype Half") or fail
# deep inside torch; index tensors keep the int32 the loader always accepted for `parent`.
INDEX_DTYPES = {"gaussians.parent": (torch.int32, torch.int64), "gaussians.blend_expr": (torch.int32, torch.int64),
                "rig.faces": (torch.int64,), "rig.parents": (torch.int64,), "rig.lmk_faces": (torch.int64,)}
FLOAT_DTYPES = (torch.float32,)


def check_dtypes(tensors: dict[str, Tensor]) -> None:
    """Every tensor of the file in the dtype the writer gives it: float32, or integers for indices."""
    for key, t in sorted(tensors.items()):
        allowed = INDEX_DTYPES.get(key, FLOAT_DTYPES)
        if t.dtype not in allowed:
            raise ContentError(f"tensor {key} has dtype {_dtype_name(t.dtype)}, expected "
                               f"{' or '.join(_dtype_name(d) for d in allowed)}")


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def check_rig(rig: HeadRig) -> None:
    """Shapes that agree with each other, indices in range, finite values."""
    v = rig.num_vertices
    expect = {"v_template": (v, 3), "shapedirs": (v, 3, rig.num_shape), "exprdirs": (v, 3, rig.num_expr),
              "posedirs": (v, 3, 9 * (NUM_JOINTS - 1)), "j_regressor": (NUM_JOINTS, v), "lbs_weights": (v, NUM_JOINTS)}
    for name, shape in expect.items():
        _shape(f"rig.{name}", getattr(rig, name), shape)
        _finite(f"rig.{name}", getattr(rig, name))
    _shape("rig.faces", rig.faces, (rig.faces.shape[0], 3))
    _indices("rig.faces", rig.faces, v)
    _shape("rig.parents", rig.parents, (NUM_JOINTS,))
    if rig.parents.tolist() != [-1, 0, 1, 1, 1]:
        raise ContentError(f"rig.parents {rig.parents.tolist()} is not the FLAME joint tree")
    if rig.expr_names is not None and len(rig.expr_names) != rig.num_expr:
        raise ContentError(f"the rig has {rig.num_expr} expressions but {len(rig.expr_names)} expression names")
    if rig.lmk_faces is not None:
        _indices("rig.lmk_faces", rig.lmk_faces, rig.faces.shape[0])
        _shape("rig.lmk_bary", rig.lmk_bary, (rig.lmk_faces.shape[0], 3))
        _finite("rig.lmk_bary", rig.lmk_bary)


def check_gaussians(tensors: dict[str, Tensor], rig: HeadRig, sh_degree: int, num_drivers: int) -> None:
    """The Gaussians' tensors against each other, the rig and the metadata."""
    parent = tensors["gaussians.parent"]
    if parent.dim() != 1 or parent.dtype not in (torch.int32, torch.int64):
        raise ContentError(f"gaussians.parent must be a vector of indices, got {tuple(parent.shape)} {parent.dtype}")
    n = parent.shape[0]
    _indices("gaussians.parent", parent, rig.faces.shape[0])
    k = (sh_degree + 1) ** 2
    expect = {"xyz": (n, 3), "rot": (n, 4), "log_scale": (n, 3), "opacity_logit": (n,), "sh_dc": (n, 1, 3),
              "sh_rest": (n, k - 1, 3), "d_xyz": (num_drivers, n, 3), "d_rot": (num_drivers, n, 4),
              "d_log_scale": (num_drivers, n, 3), "d_opacity": (num_drivers, n), "d_color": (num_drivers, n, 3)}
    for name, shape in expect.items():
        key = f"gaussians.{name}"
        if key not in tensors:
            raise ContentError(f"tensor {key} is missing")
        if not tensors[key].is_floating_point():
            raise ContentError(f"{key} must be floating point, got {tensors[key].dtype}")
        _shape(key, tensors[key], shape)
        _finite(key, tensors[key])


def check_floats(name: str, t: Tensor) -> None:
    """A floating tensor of finite values within MAX_ABS."""
    if not t.is_floating_point():
        raise ContentError(f"{name} must be floating point, got {t.dtype}")
    _finite(name, t)


def _shape(name: str, t: Tensor | None, shape: tuple[int, ...]) -> None:
    if t is None or tuple(t.shape) != shape:
        raise ContentError(f"{name} has shape {None if t is None else tuple(t.shape)}, expected {shape}")


def _finite(name: str, t: Tensor) -> None:
    if t.numel() and not bool((t.isfinite() & (t.abs() <= MAX_ABS)).all()):
        raise ContentError(f"{name} holds non-finite values or values beyond {MAX_ABS:g}")


def _indices(name: str, t: Tensor, bound: int) -> None:
    if t.is_floating_point():
        raise ContentError(f"{name} must hold integer indices, got {t.dtype}")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= bound):
        raise ContentError(f"{name} holds indices outside 0..{bound - 1}")
