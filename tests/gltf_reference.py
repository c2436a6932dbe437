"""An independent reading of a .glb, as the glTF 2.0 spec says a reader computes it: pygltflib
parses the file, and numpy here evaluates accessors (dense, sparse, normalised), animation
samplers (LINEAR: lerp, quaternions slerp; STEP), node transforms, morph targets and skins.

Nothing here imports the exporter (avatar.renderer.gltf_*): a mistake in it is not repeated here.
Used by tests/test_export_gltf.py and benchmarks/speed/gltf_export.py (which puts tests/ on its path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pygltflib

COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
NORMALISED_MAX = {np.int8: 127.0, np.uint8: 255.0, np.int16: 32767.0, np.uint16: 65535.0}


@dataclass
class Glb:
    gltf: pygltflib.GLTF2
    blob: bytes

    @classmethod
    def load(cls, path: str | Path) -> "Glb":
        gltf = pygltflib.GLTF2().load(str(path))
        return cls(gltf, gltf.binary_blob())

    # --- accessors ------------------------------------------------------------------------------

    def _view(self, view_index: int, byte_offset: int, dtype: type, count: int, width: int) -> np.ndarray:
        view = self.gltf.bufferViews[view_index]
        start = (view.byteOffset or 0) + (byte_offset or 0)
        item = np.dtype(dtype).itemsize * width
        stride = view.byteStride or item
        raw = np.frombuffer(self.blob, dtype=np.uint8, count=stride * (count - 1) + item if count else 0, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, shape=(count, item), strides=(stride, 1)) if count else raw
        return np.frombuffer(np.ascontiguousarray(rows).tobytes(), dtype=dtype).reshape(count, width)

    def accessor(self, index: int) -> np.ndarray:
        """[count, width] (float64 where normalised or float, else the stored integers)."""
        a = self.gltf.accessors[index]
        dtype, width = COMPONENTS[a.componentType], WIDTHS[a.type]
        if a.bufferView is None:
            values = np.zeros((a.count, width), dtype=dtype)
        else:
            values = self._view(a.bufferView, a.byteOffset, dtype, a.count, width).copy()
        if a.sparse is not None:
            s = a.sparse
            rows = self._view(s.indices.bufferView, s.indices.byteOffset, COMPONENTS[s.indices.componentType],
                              s.count, 1)[:, 0].astype(np.int64)
            values[rows] = self._view(s.values.bufferView, s.values.byteOffset, dtype, s.count, width)
        if a.normalized:
            return np.maximum(values.astype(np.float64) / NORMALISED_MAX[dtype], -1.0)
        return values.astype(np.float64) if values.dtype.kind == "f" else values

    # --- nodes and animation --------------------------------------------------------------------

    def node_index(self, name: str) -> int:
        return next(i for i, n in enumerate(self.gltf.nodes) if n.name == name)

    def keyframe_times(self, animation: int = 0) -> np.ndarray:
        sampler = self.gltf.animations[animation].samplers[0]
        return self.accessor(sampler.input)[:, 0]

    def _sample(self, sampler: pygltflib.AnimationSampler, path: str, time: float) -> np.ndarray:
        times = self.accessor(sampler.input)[:, 0]
        values = self.accessor(sampler.output)
        keys = len(times)
        values = values.reshape(keys, -1)  # weights: one row of all targets per key
        if sampler.interpolation not in ("LINEAR", "STEP"):
            raise NotImplementedError(sampler.interpolation)
        if time <= times[0] or keys == 1:
            return values[0]
        if time >= times[-1]:
            return values[-1]
        k = int(np.searchsorted(times, time, side="right")) - 1
        if sampler.interpolation == "STEP":
            return values[k]
        u = (time - times[k]) / (times[k + 1] - times[k])
        if path == "rotation":
            return _slerp(values[k], values[k + 1], u)
        return (1 - u) * values[k] + u * values[k + 1]

    def pose(self, time: float | None, animation: int = 0) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """(local TRS 4x4 per node, morph weights per node with a mesh) at `time` (None: rest)."""
        trs = {i: {"translation": np.array(n.translation or [0, 0, 0], float),
                   "rotation": np.array(n.rotation or [0, 0, 0, 1], float),
                   "scale": np.array(n.scale or [1, 1, 1], float)} for i, n in enumerate(self.gltf.nodes)}
        weights = {}
        for i, n in enumerate(self.gltf.nodes):
            if n.mesh is not None:
                mesh = self.gltf.meshes[n.mesh]
                count = len(mesh.primitives[0].targets or [])
                weights[i] = np.array(getattr(n, "weights", None) or mesh.weights or [0.0] * count, float)
        if time is not None and self.gltf.animations:
            anim = self.gltf.animations[animation]
            for channel in anim.channels:
                value = self._sample(anim.samplers[channel.sampler], channel.target.path, time)
                if channel.target.path == "weights":
                    weights[channel.target.node] = value
                else:
                    trs[channel.target.node][channel.target.path] = value
        local = {}
        for i, n in enumerate(self.gltf.nodes):
            if n.matrix is not None:
                local[i] = np.array(n.matrix, float).reshape(4, 4).T  # column-major
            else:
                t = trs[i]
                m = np.eye(4)
                m[:3, :3] = _quat_matrix(t["rotation"]) * t["scale"][None]
                m[:3, 3] = t["translation"]
                local[i] = m
        return local, weights

    def globals(self, local: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        parent = {c: i for i, n in enumerate(self.gltf.nodes) for c in (n.children or [])}
        out: dict[int, np.ndarray] = {}

        def world(i: int) -> np.ndarray:
            if i not in out:
                out[i] = local[i] if i not in parent else world(parent[i]) @ local[i]
            return out[i]

        for i in range(len(self.gltf.nodes)):
            world(i)
        return out

    # --- meshes ---------------------------------------------------------------------------------

    def positions(self, node_name: str, time: float | None = None) -> np.ndarray:
        """[N, 3] the first primitive's POSITION of the named node, morphed and skinned (or moved
        by its node's transform) at `time`, as a reader draws them."""
        index = self.node_index(node_name)
        primitive = self.gltf.meshes[self.gltf.nodes[index].mesh].primitives[0]
        _, weights = self.pose(time)
        v = self.accessor(primitive.attributes.POSITION)
        for w, target in zip(weights[index], primitive.targets or []):
            if w != 0:
                v = v + w * self.accessor(target["POSITION"])
        moved = self.vertex_matrices(node_name, time)  # [N, 4, 4]
        return np.einsum("nij,nj->ni", moved[:, :3, :3], v) + moved[:, :3, 3]

    def vertex_matrices(self, node_name: str, time: float | None = None) -> np.ndarray:
        """[N, 4, 4] what moves each vertex of the named node's first primitive at `time`: its
        skin's weighted joint matrices (inverse(global(mesh node)) . global(joint) . inverse
        bind), or the node's global transform when it has no skin."""
        index = self.node_index(node_name)
        node = self.gltf.nodes[index]
        primitive = self.gltf.meshes[node.mesh].primitives[0]
        count = self.gltf.accessors[primitive.attributes.POSITION].count
        world = self.globals(self.pose(time)[0])
        if node.skin is None:
            return np.broadcast_to(world[index], (count, 4, 4))
        skin = self.gltf.skins[node.skin]
        ibm = self.accessor(skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)  # column-major
        mesh_inverse = np.linalg.inv(world[index])
        joint_matrices = np.stack([mesh_inverse @ world[j] @ ibm[k] for k, j in enumerate(skin.joints)])  # [J, 4, 4]
        joints = self.accessor(primitive.attributes.JOINTS_0).astype(np.int64)  # [N, 4]
        skin_weights = self.accessor(primitive.attributes.WEIGHTS_0)  # [N, 4]
        return np.einsum("nk,nkij->nij", skin_weights, joint_matrices[joints])


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    """(x, y, z, w), normalised here -> 3x3."""
    x, y, z, w = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _slerp(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    """The spec's slerp of unit quaternions (the short way)."""
    dot = float(a @ b)
    if dot < 0:
        b, dot = -b, -dot
    if dot > 0.9995:
        q = a + u * (b - a)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - u) * theta) * a + np.sin(u * theta) * b) / np.sin(theta)
