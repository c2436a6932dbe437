"""`.avatar` files: one safetensors file, never pickle.

Tensors: the model's attributes and offsets (`gaussians.*`), the expressions whose weights drive
its offsets as a basis of the expression weights (`gaussians.expr_mean` [E], zeros, and
`gaussians.expr_basis` [K, E], one-hot rows: driver k = expr_basis[k] . (expr - expr_mean);
version 2 files have `gaussians.blend_expr`, the K expression indices, instead and still load; a
file whose basis is anything else was trained with the removed PCA basis and is refused), when
the head's rotation drives offsets too (version 4) `gaussians.pose_mean` [3, 3],
`gaussians.pose_low` [3] and `gaussians.pose_high` [3] (`HeadPoseDrivers`; then D = K + 6, else
K + 3), and the rig arrays (`rig.*`) unless the rig's licence forbids embedding them (FLAME):
then the user passes the rig again and its identity hash must match. Metadata (strings): format,
version, config (JSON, with the model's `head_cut` when it has one), rig name, rig hash,
expression names, sh degree, and a SHA-256 over every byte of the file (`file_digest`), so a
truncated or edited file is rejected instead of silently loading garbage; then the contents are
checked against each other and the rig (`file_checks`), so a crafted file with a recomputed
digest is refused too. Version 1 files
(digest over the tensors only) are refused: their metadata could be edited unnoticed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file
from torch import Tensor

from avatar.data.atomic import atomic_path
from avatar.data.errors import parse_json
from avatar.gaussians.file_checks import (ContentError, check_dtypes, check_floats, check_gaussians, check_metadata,
                                         check_rig)
from avatar.gaussians.file_digest import DIGEST_KEY, DIGEST_PLACEHOLDER, DigestError, seal, verify
from avatar.gaussians.model import GaussianAvatar
from avatar.gaussians.pose_drivers import HeadPoseDrivers
from avatar.splat.view_cone import ViewCone
from avatar.rig import HeadRig
from avatar.rig.cut_vertices import HeadCut
from avatar.runtime.errors import InputError
from avatar.rig.signature import geometry_signature, is_recorded_rig

FORMAT = "gaussian-avatar"
VERSION = 4
# 2: offsets driven by a selection of expressions (gaussians.blend_expr); 3: the selection as a
# basis (one-hot rows); 4: and, when gaussians.pose_* are present, by the head's rotation
READABLE_VERSIONS = ("2", "3", "4")
POSE_KEYS = ("gaussians.pose_mean", "gaussians.pose_low", "gaussians.pose_high")
# Why an avatar whose expression offsets a PCA basis drives (.avatar or .webavatar) is refused.
PCA_BASIS_REMOVED = ("its offsets are driven by a PCA of the training expressions: it was trained with the "
                     "expr_pca_variance option, which has been removed; train it again")


class AvatarFileError(InputError):
    """An .avatar file that cannot be used; the message names the file and the problem."""


def save_avatar(model: GaussianAvatar, path: str | Path, config: dict | None = None) -> None:
    """Write atomically: a crash never leaves a half-written file under `path`."""
    path = Path(path)
    tensors = {f"gaussians.{k}": v.detach().cpu().contiguous() for k, v in model.attribute_tensors().items()}
    tensors["gaussians.parent"] = model.parent.cpu().contiguous()
    tensors["gaussians.expr_mean"], tensors["gaussians.expr_basis"] = _basis(model)
    pose = model.pose_drivers
    if pose is not None:
        tensors.update(zip(POSE_KEYS, (t.detach().cpu().contiguous() for t in (pose.mean, pose.low, pose.high))))
    rig = model.rig
    if rig.embeddable:
        tensors.update({f"rig.{k}": v.detach().cpu().contiguous() for k, v in rig.arrays().items()})
    meta = {
        "format": FORMAT,
        "version": str(VERSION),
        "config": json.dumps((config or {}) | ({"head_cut": model.head_cut.to_dict()} if model.head_cut else {})
                             | ({"view_cone": model.view_cone.to_dict()} if model.view_cone else {})),
        "rig_name": rig.name,
        "rig_hash": rig.identity_hash(),  # for earlier versions of this program; loading compares the signature
        "rig_signature": json.dumps(geometry_signature(rig)),
        "rig_embedded": str(rig.embeddable),
        "rig_expr_names": json.dumps(rig.expr_names),
        "rig_landmark_scheme": rig.landmark_scheme,
        "sh_degree": str(model.sh_degree),
        "num_blend_expr": str(model.num_blend_expr),
        DIGEST_KEY: DIGEST_PLACEHOLDER,
    }
    with atomic_path(path) as partial:
        try:
            save_file(tensors, str(partial), metadata=meta)
        except SafetensorError as e:
            # safetensors reports a failed write (a full disk) as text in its own exception: made
            # an OSError again, atomic_path turns it into an OutputError naming `path` and removes
            # the partial file. Any other SafetensorError is a bug here and stays one.
            code = _os_error_code(e)
            if code is None:
                raise
            raise OSError(code, os.strerror(code), str(partial)) from e
        seal(partial)


# How safetensors words an OSError: "I/O error: No space left on device (os error 28)" (0.8) or
# "IoError(Os { code: 28, kind: StorageFull, ... })" (older versions).
_OS_ERROR_CODE = re.compile(r"\(os error (\d+)\)|\bOs \{ code: (\d+)")


def _os_error_code(error: SafetensorError) -> int | None:
    """The errno inside a SafetensorError about I/O, or None when it is about something else."""
    found = _OS_ERROR_CODE.search(str(error))
    return None if found is None else int(found[1] or found[2])


def load_avatar(path: str | Path, rig: HeadRig | None = None) -> tuple[GaussianAvatar, dict]:
    """Load a model and its training config. `rig` is required when the file has no rig arrays."""
    path = Path(path)
    if not path.is_file():
        raise AvatarFileError(f"{path}: no such .avatar file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AvatarFileError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        meta = verify(data)
    except DigestError as e:
        raise AvatarFileError(f"{path}: not a valid .avatar file: {e}") from None
    except ValueError as e:
        # json's own limits on the header (an integer of over 4300 digits), which verify lets through;
        # Python's advice after the ';' (sys.set_int_max_str_digits) is not the user's to follow
        reason = str(e).split(";")[0]
        raise AvatarFileError(f"{path}: not a valid .avatar file: header is not readable JSON ({reason})") from None
    if meta.get("format") != FORMAT:
        raise AvatarFileError(f"{path}: not an .avatar file (format tag {meta.get('format')!r})")
    if meta.get("version") not in READABLE_VERSIONS:
        raise AvatarFileError(f"{path}: .avatar version {meta.get('version')} is not supported (want "
                              f"{' or '.join(READABLE_VERSIONS)}; train it again with this version)")
    try:
        tensors = load(data)
    except (SafetensorError, ValueError) as e:
        raise AvatarFileError(f"{path}: not a readable .avatar file: {e}") from None
    try:
        check_dtypes(tensors)
        sh_degree, config = check_metadata(meta)
        model = _build(tensors, meta, rig, path, sh_degree)
        if config.get("head_cut") is not None:
            model.head_cut = HeadCut.from_dict(config["head_cut"], model.rig.num_vertices, model.rig.num_faces)
        if config.get("view_cone") is not None:
            model.view_cone = ViewCone.from_dict(config["view_cone"])
    except AvatarFileError:
        raise  # already says what and where
    except (ContentError, KeyError, RuntimeError, ValueError) as e:
        raise AvatarFileError(f"{path}: inconsistent contents: {e}") from None
    return model, config


def _build(tensors: dict[str, Tensor], meta: dict, rig: HeadRig | None, path: Path, sh_degree: int) -> GaussianAvatar:
    if rig is None:
        if meta.get("rig_embedded") != "True":
            raise AvatarFileError(f"{path}: trained on rig '{meta.get('rig_name')}', whose arrays are not embedded "
                                  "(licence); pass the same rig file with --rig")
        rig = _rig_from_tensors(tensors, meta)
    check_rig(rig)
    if not _trained_on(rig, meta):
        raise AvatarFileError(f"{path}: the rig given ('{rig.name}') is not the one this avatar was trained on")
    try:
        model = GaussianAvatar(rig, tensors["gaussians.parent"], sh_degree,
                               _blend_expr(tensors, meta["version"], rig.num_expr, path),
                               _pose_drivers(tensors, meta["version"]))
    except ValueError as e:
        raise ContentError(str(e)) from None
    check_gaussians(tensors, rig, sh_degree, model.num_drivers)
    model.replace_gaussians({k: tensors[f"gaussians.{k}"] for k in model.ATTRIBUTES + model.OFFSETS},
                            tensors["gaussians.parent"])
    return model


def _basis(model: GaussianAvatar) -> tuple[Tensor, Tensor]:
    """The file's expr_mean [E] (zeros) and expr_basis [K, E] (row k one-hot at blend_expr[k])."""
    num_expr, selected = model.rig.num_expr, model.blend_expr.cpu()
    basis = torch.zeros(selected.numel(), num_expr)
    basis[torch.arange(selected.numel()), selected] = 1.0
    return torch.zeros(num_expr), basis


def _blend_expr(tensors: dict[str, Tensor], version: str, num_expr: int, path: Path) -> Tensor:
    """The expressions whose weights drive the offsets: version 2 names them, later versions hold
    them as a basis of one-hot rows and a zero mean (`_basis`). Any other basis is a PCA of the
    training expressions, which only the removed option expr_pca_variance trained."""
    if version == "2":
        return tensors["gaussians.blend_expr"]
    mean, basis = tensors["gaussians.expr_mean"], tensors["gaussians.expr_basis"]
    if mean.shape != (num_expr,) or basis.dim() != 2 or basis.shape[1] != num_expr:
        raise ContentError(f"gaussians.expr_mean {tuple(mean.shape)} / expr_basis {tuple(basis.shape)} are not an "
                           f"expression basis of the rig's {num_expr} expressions ([{num_expr}] / [K, {num_expr}])")
    check_floats("gaussians.expr_mean", mean)
    check_floats("gaussians.expr_basis", basis)
    one_hot = bool(((basis == 0) | (basis == 1)).all()) and bool((basis.sum(1) == 1).all())
    if bool((mean != 0).any()) or not one_hot:
        raise AvatarFileError(f"{path}: {PCA_BASIS_REMOVED}")
    return basis.argmax(1)


def _pose_drivers(tensors: dict[str, Tensor], version: str) -> HeadPoseDrivers | None:
    """Version 4's head-pose drivers when the file has them (all three tensors), else None."""
    present = [k for k in POSE_KEYS if k in tensors]
    if not present:
        return None
    if len(present) != len(POSE_KEYS):
        raise ContentError(f"{', '.join(present)} without the rest of {', '.join(POSE_KEYS)}")
    if version in ("2", "3"):
        raise ContentError(f"a version {version} file holds {', '.join(present)}")
    try:
        return HeadPoseDrivers.checked(*(tensors[k] for k in POSE_KEYS), POSE_KEYS)
    except ValueError as e:
        raise ContentError(str(e)) from None


def _trained_on(rig: HeadRig, meta: dict) -> bool:
    """Whether `rig` is the rig the file records (avatar.rig.signature.is_recorded_rig; files written
    before the signature have the hash alone)."""
    signature = meta.get("rig_signature")
    if signature is not None:
        try:
            signature = parse_json(signature)
        except ValueError:
            raise ContentError("metadata rig_signature is not JSON") from None
        if not isinstance(signature, dict):
            raise ContentError("metadata rig_signature is not a JSON object")
    return is_recorded_rig(rig, signature, meta["rig_hash"])


def _rig_from_tensors(tensors: dict[str, Tensor], meta: dict) -> HeadRig:
    arrays = {k[len("rig."):]: v for k, v in tensors.items() if k.startswith("rig.")}
    fields = set(HeadRig.__dataclass_fields__)
    unknown = set(arrays) - fields
    if unknown:
        raise ContentError(f"unknown rig arrays: {', '.join(sorted(unknown))}")
    try:
        names = parse_json(meta["rig_expr_names"])
    except ValueError:
        raise ContentError("metadata rig_expr_names is not JSON") from None
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise ContentError("metadata rig_expr_names is not a list of names")
    try:
        return HeadRig(name=meta["rig_name"], expr_names=names, landmark_scheme=meta["rig_landmark_scheme"],
                       embeddable=True, **arrays)
    except TypeError as e:
        raise ContentError(f"rig arrays incomplete: {e}") from None
