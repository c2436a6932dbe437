"""An avatar as one animated glTF 2.0 binary (.glb) for engines (`avatar export --gltf`).

What the file holds (docs/formats.md, "glTF export"):

- node "head": the rig mesh (triangles), the identity folded into its template, one morph target
  per rig expression named in `mesh.extras.targetNames` (ARKit spelling where the expression is
  one ARKit shape: avatar.export.gltf_rig.target_names), skinned by the skin below;
- node "gaussians": the avatar's Gaussians as a POINTS primitive with the KHR_gaussian_splatting
  attributes at the neutral pose, skinned by the same skin, with morph targets that move their
  centres (avatar.export.gltf_splats);
- nodes root > neck > jaw, eye_l, eye_r: the skin's joints at the neutral skeleton;
- with rig parameters: one animation, a key per frame at the source's fps: both meshes' morph
  weights and every joint's rotation and translation (avatar.export.gltf_rig.joint_tracks).

Axes: the rig's own space is glTF's (metres, +y up, the face towards +z, right-handed), so
nothing is turned. Morph targets whose displacements are mostly below SPARSE_TOLERANCE (a
micrometre) are stored as sparse accessors of the rows above it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from avatar.data.arkit import ARKIT_NAMES
from avatar.data.atomic import atomic_path
from avatar.data.glb import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GlbBuilder
from avatar.gaussians import GaussianAvatar
from avatar.export.ply_frame import CUT_VIEW_ELEVATION_DEG
from avatar.export.gltf_rig import RigMesh, inverse_bind_matrices, joint_tracks, rest_translations, rig_mesh
from avatar.export.gltf_splats import DEFAULT_STEP, SplatPoints, splat_points
from avatar.rig import RigParams
from avatar.rig.head_rig import JOINT_NAMES

SPARSE_TOLERANCE = 1e-6  # metres: a target's rows that move less are left out of its sparse accessor
KHR_SPLATS = "KHR_gaussian_splatting"
GENERATOR = "avatar export --gltf"


@dataclass
class GltfSummary:
    path: Path
    num_vertices: int
    target_names: list[str]
    num_arkit_named: int  # targets named by ARKit (the rest keep the rig's names)
    num_gaussians: int
    num_cut: int  # Gaussians left out below the head's cut
    kept: np.ndarray  # [N_all] bool: which of the avatar's Gaussians the file holds, in their order
    num_frames: int  # 0: no animation
    fps: float
    bytes: int
    dropped_weight: float  # the largest skin weight a vertex or Gaussian lost to the 4-joint limit (0: none)


def export_gltf(
    model: GaussianAvatar,
    identity: Tensor,
    path: str | Path,
    params: RigParams | None = None,
    fps: float = 25.0,
    cut: bool = True,
    view_elevation_deg: float = CUT_VIEW_ELEVATION_DEG,
    animation_name: str = "clip",
    step: float = DEFAULT_STEP,
) -> GltfSummary:
    """Write the avatar (its Gaussians and rig, with the identity shape [S]) as a .glb at path,
    atomically; with params [T] (as Avatar.params gives them), animated at fps. `step`: the
    expression weight the Gaussians' morph targets span (avatar.export.gltf_splats)."""
    rig = model.rig
    if not rig.embeddable:
        raise ValueError(
            f"rig '{rig.name}': its licence forbids copying its arrays into a file (a glTF holds the whole rig mesh)"
        )
    if params is not None and params.num_frames < 1:
        raise ValueError("no frames to animate")
    if not fps > 0:
        raise ValueError(f"frame rate {fps} is not positive")
    if model.parent.device.type != "cpu":  # the export is numpy work: a CPU copy, the caller's model untouched
        model = copy.deepcopy(model).cpu()
        rig = model.rig
    with torch.no_grad():
        mesh = rig_mesh(rig, identity)
        points = splat_points(model, identity, cut, view_elevation_deg, step)
    builder = GlbBuilder(GENERATOR)
    doc = builder.doc
    doc["meshes"] = [_head_mesh(builder, mesh), _splat_mesh(builder, points)]
    joint_nodes = list(range(2, 2 + len(JOINT_NAMES)))
    doc["nodes"] = [{"name": "head", "mesh": 0, "skin": 0}, {"name": "gaussians", "mesh": 1, "skin": 0}]
    for j, (joint, offset) in enumerate(zip(JOINT_NAMES, rest_translations(rig, mesh.rest_joints))):
        node = {"name": joint, "translation": [float(x) for x in offset]}
        children = [joint_nodes[c] for c, p in enumerate(rig.parents.tolist()) if p == j]
        if children:
            node["children"] = children
        doc["nodes"].append(node)
    doc["skins"] = [
        {
            "name": "head_rig",
            "joints": joint_nodes,
            "skeleton": joint_nodes[0],
            "inverseBindMatrices": builder.accessor(inverse_bind_matrices(mesh.rest_joints)),
        }
    ]
    doc["scenes"] = [{"name": "avatar", "nodes": [0, 1, joint_nodes[0]]}]
    doc["scene"] = 0
    doc["extensionsUsed"] = [KHR_SPLATS]
    num_frames = 0
    if params is not None:
        doc["animations"] = [_animation(builder, model, mesh, params, fps, joint_nodes, animation_name)]
        num_frames = params.num_frames
    doc["asset"]["extras"] = {
        "rig": rig.name,
        "fps": fps if num_frames else None,
        "frames": num_frames,
        "pose_correctives": "left out" if bool((rig.posedirs != 0).any()) else "none in the rig",
    }
    data = builder.to_bytes()
    path = Path(path)
    with atomic_path(path) as partial:
        partial.write_bytes(data)
    arkit = sum(name in ARKIT_NAMES for name in mesh.target_names)
    return GltfSummary(
        path,
        len(mesh.template),
        mesh.target_names,
        arkit,
        len(points.positions),
        points.num_cut,
        points.kept,
        num_frames,
        fps,
        len(data),
        max(mesh.dropped_weight, points.dropped_weight),
    )


def _head_mesh(builder: GlbBuilder, mesh: RigMesh) -> dict:
    index_type = np.uint16 if len(mesh.template) <= 65535 else np.uint32
    attributes = {
        "POSITION": builder.accessor(mesh.template.astype(np.float32), ARRAY_BUFFER, min_max=True),
        "JOINTS_0": builder.accessor(mesh.joints, ARRAY_BUFFER),
        "WEIGHTS_0": builder.accessor(mesh.weights, ARRAY_BUFFER),
    }
    primitive = {
        "attributes": attributes,
        "mode": 4,
        "material": _head_material(builder),
        "indices": builder.accessor(mesh.faces.reshape(-1).astype(index_type), ELEMENT_ARRAY_BUFFER),
        "targets": [{"POSITION": _target(builder, t)} for t in mesh.targets],
    }
    return {
        "name": "head",
        "primitives": [primitive],
        "weights": [0.0] * len(mesh.targets),
        "extras": {"targetNames": mesh.target_names},
    }


def _head_material(builder: GlbBuilder) -> int:
    materials = builder.doc.setdefault("materials", [])
    materials.append(
        {
            "name": "skin",
            "doubleSided": True,
            "pbrMetallicRoughness": {
                "baseColorFactor": [0.8, 0.68, 0.62, 1.0],
                "metallicFactor": 0.0,
                "roughnessFactor": 0.7,
            },
        }
    )
    return len(materials) - 1


def _splat_mesh(builder: GlbBuilder, points: SplatPoints) -> dict:
    attributes = {
        "POSITION": builder.accessor(points.positions, ARRAY_BUFFER, min_max=True),
        "COLOR_0": builder.accessor(points.colors, ARRAY_BUFFER, normalized=True),
        "JOINTS_0": builder.accessor(points.joints, ARRAY_BUFFER),
        "WEIGHTS_0": builder.accessor(points.weights, ARRAY_BUFFER),
        f"{KHR_SPLATS}:ROTATION": builder.accessor(points.rotations, ARRAY_BUFFER),
        f"{KHR_SPLATS}:SCALE": builder.accessor(points.scales, ARRAY_BUFFER),
        f"{KHR_SPLATS}:OPACITY": builder.accessor(points.opacities, ARRAY_BUFFER),
    }
    degree = round(points.sh.shape[1] ** 0.5) - 1
    for d in range(degree + 1):
        for n in range(2 * d + 1):  # coefficient d*d + n of the 3DGS order: degree d, order n - d
            attributes[f"{KHR_SPLATS}:SH_DEGREE_{d}_COEF_{n}"] = builder.accessor(
                np.ascontiguousarray(points.sh[:, d * d + n]), ARRAY_BUFFER
            )
    primitive = {
        "attributes": attributes,
        "mode": 0,
        "targets": [{"POSITION": _target(builder, t)} for t in points.targets],
        "extensions": {
            KHR_SPLATS: {
                "kernel": "ellipse",
                "colorSpace": "srgb_rec709_display",
                "projection": "perspective",
                "sortingMethod": "cameraDistance",
            }
        },
    }
    return {
        "name": "gaussians",
        "primitives": [primitive],
        "weights": [0.0] * len(points.targets),
        "extras": {
            "targetNames": points.target_names,
            "viewDependentColour": "view cone baked in" if points.cone_baked else "as trained",
        },
    }


def _target(builder: GlbBuilder, displacement: np.ndarray) -> int:
    """A morph target's POSITION accessor: sparse when that is smaller (the rows that move at
    least SPARSE_TOLERANCE), dense otherwise."""
    moved = np.linalg.norm(displacement, axis=-1) >= SPARSE_TOLERANCE  # [V]
    index_bytes = 2 if len(displacement) <= 65536 else 4
    if moved.sum() * (12 + index_bytes) < len(displacement) * 12:
        return builder.sparse_accessor(displacement, moved, min_max=True)
    return builder.accessor(np.where(moved[:, None], displacement, 0).astype(np.float32), ARRAY_BUFFER, min_max=True)


def _animation(
    builder: GlbBuilder,
    model: GaussianAvatar,
    mesh: RigMesh,
    params: RigParams,
    fps: float,
    joint_nodes: list[int],
    name: str,
) -> dict:
    """One key per frame: morph weights of both meshes, rotation and translation of every joint."""
    rig = model.rig
    params = params.to(device="cpu", dtype=torch.float32)
    times = (np.arange(params.num_frames) / fps).astype(np.float32)
    time_input = builder.accessor(times, min_max=True)
    tracks = joint_tracks(rig, mesh, params)
    expr = params.expr.numpy()  # [T, E]
    samplers, channels = [], []

    def channel(node: int, path: str, values: np.ndarray) -> None:
        samplers.append(
            {"input": time_input, "output": builder.accessor(values.astype(np.float32)), "interpolation": "LINEAR"}
        )
        channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})

    channel(0, "weights", expr.reshape(-1))  # [T * E], frame-major as glTF reads weights
    pose = model.pose_drivers
    splat_weights = [expr, params.jaw.numpy()] + ([pose.coefficients(params).numpy()] if pose is not None else [])
    channel(1, "weights", np.concatenate(splat_weights, axis=1).reshape(-1))  # [T * (E + 3 (+ 3))]
    for j, node in enumerate(joint_nodes):
        channel(node, "rotation", tracks.rotations[:, j])
        channel(node, "translation", tracks.translations[:, j])
    return {"name": name, "samplers": samplers, "channels": channels}
