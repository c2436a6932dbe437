"""Load the ICT-FaceKit face model (`FaceXModel/`) into a FLAME-structured `HeadRig`.

Input: `generic_neutral_mesh.obj` (26,719 vertices, quads + triangles, centimetres, y up, face
looking +z already), expression targets `<name>.obj[.gz]` (blendshape = target - neutral, ARKit
names kept exactly, sorted with Python's default string order), optional identity targets
`identityNNN.obj[.gz]` (-> shapedirs; absent from the shared copy, where the generic smooth
basis of `identity_basis` stands in so that tracking can fit face proportions),
and `vertex_indices.json` (`idx_to_landmark_verts`: 68 iBUG landmark vertices).

Conversions: polygons fan-triangulated; the transparent eye overlay cards dropped (see OVERLAYS;
24,591 of the 26,719 vertices remain, with ICT's indices); cm -> m;
recentred so the origin is mid-head: x = 0 on the symmetry plane, y at the eyeball centres'
height, z at the jaw hinge's depth (so orbit cameras aimed at the origin frame the head).
Skeleton and weights: see `ict_skeleton`. posedirs are zero (ICT has no pose correctives).
Landmarks: each landmark vertex with a one-hot barycentric in an incident skin triangle.
Loading reads and parses all 57 gzipped targets: about 1.6 s on 2 CPU cores; nothing is cached.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from avatar.rig.errors import RigFileError, RigFileNotFoundError
from avatar.rig.head_rig import FLAME_PARENTS, HeadRig
from avatar.rig.identity_basis import polynomial_identity_basis
from avatar.rig.ict_colors import procedural_colors
from avatar.rig.ict_skeleton import (Hinge, Skeleton, boundary_vertices, build_skeleton, fit_hinge,
                                     jaw_share, neck_column_z, smoothstep, sphere_centre)
from avatar.rig.obj_io import ObjError, parse_vertices, read_bytes, read_obj

ICT_SOURCE = "ICT-FaceKit (MIT licence) is at https://github.com/ICT-VGL/ICT-FaceKit, folder FaceXModel/"
NEUTRAL = "generic_neutral_mesh.obj"
CM_TO_M = 0.01
STILL = 1e-6  # metres: vertices no expression moves further than this anchor the joints
IDENTITY_NAME = re.compile(r"identity\d+")
MATERIALS = {  # ICT's usemtl groups -> the parts the rig needs
    "skin": ("M_Face", "M_BackHead"), "sclera_l": ("M_ScleraLeft",), "sclera_r": ("M_ScleraRight",),
    "iris_l": ("M_IrisLeft",), "iris_r": ("M_IrisRight",), "teeth": ("M_Teeth",),
    "mouth": ("M_GumsTongue",),
}
# Alpha-blended cards in ICT's own renderer (eye shadow, tear film, lash cards); drawn opaque
# they cover the eyes with dark bands, so they are dropped (their vertices are the file's last
# 2,128, so every other vertex keeps ICT's index).
OVERLAYS = ("M_EyeOcclusion", "M_EyeBlend", "M_LacrimalFluid", "M_EyeLashes")


def load_ict(directory: str | Path) -> HeadRig:
    """Read ICT-FaceKit's FaceXModel folder (or the folder containing `FaceXModel/`)."""
    folder = _model_folder(Path(directory))
    m = _read_model(folder)
    try:
        skeleton = _skeleton(m)
    except ValueError as e:  # geometry that is not ICT's (no neck cut, no jaw hinge, ...)
        raise RigFileError(f"cannot rig the ICT model in '{folder}': {e}") from e
    colors = procedural_colors(m.verts, m.tris, m.parts, m.verts[m.lmk_verts], m.eyes)
    lmk_faces, lmk_bary = _landmark_embedding(m.lmk_verts, m.skin_faces, m.tris)
    shapedirs = torch.as_tensor(m.shapedirs, dtype=torch.float32)
    if shapedirs.shape[-1] == 0:  # no identity targets: a generic smooth basis stands in
        eyeballs = [torch.as_tensor(np.flatnonzero(skeleton.lbs_weights[:, j] > 0.5)) for j in (3, 4)]
        shapedirs = polynomial_identity_basis(torch.as_tensor(m.verts, dtype=torch.float32), eyeballs)

    def real(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)

    return HeadRig(
        name="ict", v_template=real(m.verts), faces=torch.as_tensor(m.tris, dtype=torch.long),
        shapedirs=shapedirs, exprdirs=real(m.exprdirs),
        posedirs=torch.zeros(len(m.verts), 3, 9 * (len(FLAME_PARENTS) - 1)),
        j_regressor=real(skeleton.j_regressor), lbs_weights=real(skeleton.lbs_weights),
        parents=torch.tensor(FLAME_PARENTS, dtype=torch.long), expr_names=m.expr_names,
        lmk_faces=torch.as_tensor(lmk_faces, dtype=torch.long), lmk_bary=real(lmk_bary),
        landmark_scheme="ibug68", vertex_colors=real(colors), embeddable=True,
    )


@dataclass
class _IctModel:
    verts: np.ndarray  # [V, 3] metres, recentred
    tris: np.ndarray  # [F, 3]
    parts: dict[str, np.ndarray]  # vertex ids per MATERIALS entry
    skin_faces: np.ndarray  # ids of skin triangles
    exprdirs: np.ndarray  # [V, 3, E]
    expr_names: list[str]
    shapedirs: np.ndarray  # [V, 3, S]
    lmk_verts: np.ndarray  # [68]
    eyes: np.ndarray  # [2, 3] eyeball centres (left, right)
    hinge: Hinge  # jaw hinge of jawOpen


def _read_model(folder: Path) -> _IctModel:
    """Parse, drop the overlay cards, convert to metres and recentre (see the module doc)."""
    try:
        mesh = read_obj(folder / NEUTRAL)
        verts = mesh.vertices * CM_TO_M  # [V, 3]
        expr_names, exprdirs = _read_targets(folder, verts, identity=False)  # [V, 3, E]
        _, shapedirs = _read_targets(folder, verts, identity=True)  # [V, 3, S]
    except ObjError as e:
        raise RigFileError(f"ICT model in '{folder}' is unreadable: {e}") from e
    lmk_verts = _landmark_vertices(folder / "vertex_indices.json", len(verts))
    if "jawOpen" not in expr_names:
        raise RigFileError(f"'{folder}' has no jawOpen target, needed to place the jaw joint")
    keep_tri = ~np.isin(np.asarray(mesh.triangle_material), OVERLAYS)
    used = np.zeros(len(verts), dtype=bool)
    used[mesh.triangles[keep_tri]] = True
    new_index = np.cumsum(used) - 1  # [V_file] -> index among kept vertices
    tris = new_index[mesh.triangles[keep_tri]]
    verts, exprdirs, shapedirs = verts[used], exprdirs[used], shapedirs[used]
    parts = _parts([m for m, k in zip(mesh.triangle_material, keep_tri) if k], tris, folder)

    jaw_open = exprdirs[:, :, expr_names.index("jawOpen")]  # [V, 3]
    eyes = np.stack([sphere_centre(verts[parts["sclera_l"]]), sphere_centre(verts[parts["sclera_r"]])])
    moved_teeth = parts["teeth"][np.linalg.norm(jaw_open[parts["teeth"]], axis=1) > 1e-4]  # lower teeth
    if len(moved_teeth) < 10:
        raise RigFileError(f"the jawOpen target in '{folder}' does not move the teeth: no jaw hinge")
    try:
        hinge = fit_hinge(verts[moved_teeth], verts[moved_teeth] + jaw_open[moved_teeth])
    except ValueError as e:
        raise RigFileError(f"cannot find the jaw hinge in '{folder}' jawOpen target: {e}") from e
    origin = np.array([0.0, eyes[:, 1].mean(), hinge.point[2]])
    hinge.point = hinge.point - origin
    return _IctModel(verts=verts - origin, tris=tris, parts=parts,
                     skin_faces=np.flatnonzero(np.isin(tris, parts["skin"]).all(1)),
                     exprdirs=exprdirs, expr_names=expr_names, shapedirs=shapedirs,
                     lmk_verts=new_index[lmk_verts], eyes=eyes - origin, hinge=hinge)


def _skeleton(m: _IctModel) -> Skeleton:
    """Joints, regressor and weights (see `ict_skeleton`)."""
    verts, parts = m.verts, m.parts
    neck_cut = boundary_vertices(m.tris[m.skin_faces])
    cut_top, chin_y = verts[neck_cut, 1].max(), verts[m.lmk_verts[8], 1]
    neck = np.array([0.0, m.hinge.point[1], neck_column_z(verts[parts["skin"]], cut_top, chin_y)])
    joints = np.stack([verts[neck_cut].mean(0), neck, m.hinge.point, m.eyes[0], m.eyes[1]])  # [5, 3]
    movement = np.abs(m.exprdirs).max(axis=(1, 2))  # [V]
    still = {k: parts[k][movement[parts[k]] < STILL] for k in ("skin", "sclera_l", "sclera_r")}
    anchors = [neck_cut, still["skin"], still["skin"], still["sclera_l"], still["sclera_r"]]
    head_share = smoothstep((verts[:, 1] - cut_top) / (chin_y - cut_top))  # 0 at the cut, 1 at the chin
    jaw_open = m.exprdirs[:, :, m.expr_names.index("jawOpen")]
    eyeballs = (np.concatenate([parts["sclera_l"], parts["iris_l"]]),
                np.concatenate([parts["sclera_r"], parts["iris_r"]]))
    return build_skeleton(verts, joints, anchors, head_share,
                          jaw_share(verts, jaw_open, m.hinge, m.tris), eyeballs)


def _model_folder(directory: Path) -> Path:
    for folder in (directory, directory / "FaceXModel"):
        if (folder / NEUTRAL).is_file():
            return folder
    if not directory.exists():
        raise RigFileNotFoundError(f"ICT-FaceKit folder '{directory}' does not exist. {ICT_SOURCE}.")
    raise RigFileNotFoundError(f"'{directory}' has no {NEUTRAL} (nor FaceXModel/{NEUTRAL}): not an "
                               f"ICT-FaceKit model folder. {ICT_SOURCE}.")


def _read_targets(folder: Path, neutral: np.ndarray, identity: bool) -> tuple[list[str], np.ndarray]:
    """Names and deltas [V, 3, K] of expression (or identity) targets, sorted by name."""
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        name = path.name.removesuffix(".gz").removesuffix(".obj")
        if path.name == NEUTRAL or not path.name.endswith((".obj", ".obj.gz")):
            continue
        if bool(IDENTITY_NAME.fullmatch(name)) == identity:
            files.setdefault(name, path)  # "x.obj" sorts before "x.obj.gz": plain file wins
    names = sorted(files)

    def delta(name: str) -> np.ndarray:
        target = parse_vertices(read_bytes(files[name]), files[name]) * CM_TO_M
        if target.shape != neutral.shape:
            raise RigFileError(f"target '{files[name]}' has {len(target)} vertices, the neutral "
                               f"mesh {len(neutral)}")
        return target - neutral

    with ThreadPoolExecutor(max_workers=2) as pool:  # gunzip releases the GIL
        deltas = list(pool.map(delta, names))
    stacked = np.stack(deltas, axis=2) if deltas else np.zeros(neutral.shape + (0,))
    return names, stacked


def _parts(materials: list[str], tris: np.ndarray, folder: Path) -> dict[str, np.ndarray]:
    material = np.asarray(materials)
    parts = {}
    for part, names in MATERIALS.items():
        ids = np.unique(tris[np.isin(material, names)])
        if len(ids) == 0:
            raise RigFileError(f"'{folder / NEUTRAL}' has no faces with material {names}: not "
                               f"ICT-FaceKit's generic neutral mesh. {ICT_SOURCE}.")
        parts[part] = ids
    return parts


def _landmark_vertices(path: Path, num_verts: int) -> np.ndarray:
    try:
        ids = np.asarray(json.loads(path.read_text())["idx_to_landmark_verts"], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
        raise RigFileError(f"cannot read 68 landmark vertices ('idx_to_landmark_verts') from "
                           f"'{path}': {e!r}. {ICT_SOURCE}.") from e
    if ids.shape != (68,) or ids.min() < 0 or ids.max() >= num_verts:
        raise RigFileError(f"'{path}': idx_to_landmark_verts must be 68 indices below {num_verts}")
    return ids


def _landmark_embedding(lmk_verts: np.ndarray, skin_faces: np.ndarray,
                        tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each landmark vertex: a skin triangle containing it and the one-hot barycentric."""
    faces, bary = [], np.zeros((len(lmk_verts), 3))
    for i, v in enumerate(lmk_verts):
        hits = skin_faces[(tris[skin_faces] == v).any(1)]
        if len(hits) == 0:
            raise RigFileError(f"landmark vertex {v} is on no skin triangle")
        faces.append(hits[0])
        bary[i, int(np.flatnonzero(tris[hits[0]] == v)[0])] = 1.0
    return np.asarray(faces), bary


__all__ = ["load_ict"]
