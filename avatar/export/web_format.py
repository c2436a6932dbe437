"""`.webavatar` files: an Avatar as a few MB for a web player (JS / WebGL2, no library).

`write_web_avatar(avatar, path)` writes one little-endian binary file, `read_web_avatar(path)`
reads it back into an `Avatar` (dequantised) that the Python renderer draws; the reader is the
reference a JS decoder is tested against. It sits in avatar.model because it makes an Avatar.

Layout (all integers little-endian; every offset counts from the start of the file):

    bytes 0..7     magic b"AVWEB\\0\\0\\0"
    bytes 8..11    uint32 version (1)
    bytes 12..15   uint32 L: the byte length of the JSON header
    bytes 16..16+L UTF-8 JSON header, padded with spaces so that 16 + L is a multiple of 16
    then           the blocks, each starting at a multiple of 16 (zero padding between)

The header: {"format": "avatar-web", "version": 1, "blocks": {NAME: {"offset", "length" (bytes),
"dtype" (uint8 | int8 | uint16 | uint32 | float16 | float32), "shape"}}, "rig": {...},
"gaussians": {...}, "offsets": {...}, "background": [r, g, b], "identity_shape": [S] | null,
"head_cut": {ring, sides, top, neck_margin, shoulders?, hanging_hair?} | null, "view_cone": {axis, half_angle,
centre} | null (where SH colours are seen from: avatar/splat/view_cone.py), "expression_range": {...} | null,
"levels": [{"count", "psnr_db", "psnr_min_db"}, ...] (levels of detail, finest first: the first is
the whole file, counts decreasing; level k is the file's first count Gaussians, and its PSNR
against the full avatar; absent in files written before it: one level)}. A block is
a C-order array of `shape` (a JS reader: `new Float32Array(buffer, offset, length / 4)`;
float16: a Uint16Array decoded by hand, or Float16Array where the browser has it).

Rig (`rig` in the header: name, num_vertices V, num_faces F, num_shape S, num_expr E, expr_names
(ARKit names, or null), parents [5], landmark_scheme, lmk_faces, lmk_bary, has_posedirs):

    rig.v_template     float32 [V, 3]  the template with the person's identity folded in
                                       (v_template + shapedirs . identity_shape): a player never
                                       reads the identity blendshapes
    rig.faces          uint16 (F, V <= 65535) | uint32 [F, 3]
    rig.expr_start     uint32 [E + 1]  expression e's rows are expr_start[e] .. expr_start[e+1]
    rig.expr_vertex    uint16 | uint32 [R]   the vertex each row moves
    rig.expr_delta     int8 [R, 3]     displacement = expr_scale[e] * value (metres)
    rig.expr_scale     float32 [E]     (the vertices an expression moves by less than half a
                                       step are left out: they would round to 0)
    rig.jreg_start     uint32 [6]      joint j's rows: jreg_start[j] .. jreg_start[j+1]
    rig.jreg_vertex    uint32 [Rj]
    rig.jreg_weight    float32 [Rj]    rest joint j = sum of weight * (shaped vertex)
    rig.lbs_weights    float16 [V, 5]
    rig.posedirs       float16 [V, 3, 36]  only when has_posedirs (pose correctives; the builtin
                                       head and ICT have none, RigPoser skips them then)

Posing a frame (HeadRig.forward): shaped = v_template + sum_e expr[e] * exprdirs_e; joints =
jreg . shaped; linear blend skinning with joint rotations [root = rotation, neck, jaw, eye_l,
eye_r] (`HeadRig.joint_pose`) down `parents`; + translation.

Gaussians (`gaussians`: count N, sh_degree, blend_expr: the K expression indices whose weights
drive offsets). The offsets' D drivers are those weights, drivers[k] = expr[blend_expr[k]] for
k < K, then the 3 jaw components (axis-angle), drivers[K + i] = jaw[i], then, when the g.pose_*
blocks are present (D = K + 6, else K + 3), the head's rotation (`HeadPoseDrivers`). Files written
while a PCA basis could drive the offsets also hold g.expr_mean [E] and g.expr_basis [K, E] (the
same selection as one-hot rows, which the readers ignore); blend_expr null (a PCA basis, trained
with the removed option expr_pca_variance) is refused.

    g.pose_mean        float32 [3, 3]  drivers[K + 3 + i] = 3 clamp(v[i], g.pose_low[i], g.pose_high[i]),
    g.pose_low         float32 [3]     v the rotation vector (radians) of g.pose_mean^T R, R the
    g.pose_high        float32 [3]     head's rotation (root's then neck's matrix); optional
    g.parent           uint16 | uint32 [N]  the rig triangle of each Gaussian
    g.xyz              float16 [N, 3]  local position (triangle units)
    g.rot              float16 [N, 4]  local quaternion (w, x, y, z), unnormalised
    g.log_scale        float16 [N, 3]
    g.opacity_logit    float16 [N]
    g.sh_dc            float16 [N, 3]
    g.sh_rest          uint8 [N, K - 1, 3]  (K = (sh_degree + 1)^2) value = low + step * q, with
                                       low / step [(K - 1) * 3] in the header (`sh_rest_low`,
                                       `sh_rest_step`), per coefficient and channel, spanning its
                                       0.01 .. 99.99 percentiles (the rare outliers clamp)

Blendshape offsets (`offsets`: count D, attributes "xyz 3, rot 4, log_scale 3, opacity 1, colour
3" = 14 columns, `rows` per driver): per driver only the Gaussians whose offset changes something
(any attribute at or above its tolerance `tolerance` [14], in the attribute's units: triangle
units, quaternion units, log scale, opacity logit, colour 0..1); the others' offsets are 0:

    off.mask           uint8 [D, ceil(N / 8)]  bit g % 8 (least significant first) of byte
                                       g // 8: driver d moves Gaussian g
    off.start          uint32 [D + 1]  driver d's rows: start[d] .. start[d+1], in increasing g
                                       (= running popcounts of the mask)
    off.values         int8 [rows, 14] offset = off.scale[d, column] * value; the colour column
                                       is the offset of the colour (d_color), not of sh_dc
    off.scale          float32 [D, 14]

Not stored: the identity blendshapes (folded in), vertex colours, the training settings.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import torch

from avatar.data.atomic import atomic_path
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import PCA_BASIS_REMOVED
from avatar.gaussians.pose_drivers import HeadPoseDrivers
from avatar.model.avatar import Avatar
from avatar.model.expression_range import ExpressionRange
from avatar.renderer.lod import taken
from avatar.splat.view_cone import ViewCone
from avatar.rig import HeadRig
from avatar.rig.cut_vertices import HeadCut

MAGIC = b"AVWEB\0\0\0"
VERSION = 1
ALIGN = 16
DTYPES = {
    "uint8": np.uint8,
    "int8": np.int8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "float16": np.float16,
    "float32": np.float32,
}
# The offsets, each stored on its own (a driver moves many more Gaussians' colours than their shapes).
OFFSET_GROUPS = (("d_xyz", 3), ("d_rot", 4), ("d_log_scale", 3), ("d_opacity", 1), ("d_color", 3))
# Below these a driver's offset of a Gaussian is left out (per column, in the offset's units):
# 0.01 triangle units (about 0.05 mm on the builtin head), 0.01 quaternion, 0.02 log scale (2 %),
# 0.04 opacity logit (at most 1 % opacity), 0.006 colour (1.5 / 255). The position's tolerance is
# what the render is most sensitive to (how each was chosen: docs/results.md, "Web player format (.webavatar)").
DEFAULT_TOLERANCE = (0.01,) * 3 + (0.01,) * 4 + (0.02,) * 3 + (0.04,) + (0.006,) * 3
SH_PERCENTILE = 0.01  # the sh_rest range per coefficient spans this percentile .. 100 - it
POSE_BLOCKS = ("g.pose_mean", "g.pose_low", "g.pose_high")


class WebAvatarError(ValueError):
    """A .webavatar file that cannot be read; the message names the file and the problem."""


def write_web_avatar(
    avatar: Avatar,
    path: str | Path,
    tolerance: tuple[float, ...] = DEFAULT_TOLERANCE,
    levels: list[dict] | None = None,
) -> dict:
    """Write `avatar` as a .webavatar file (atomically); returns {block name: bytes} (and
    "header", "total"). levels: its levels of detail, finest first ({"count", "psnr_db",
    "psnr_min_db"}; avatar.export.web_levels puts the Gaussians in their order); None: one."""
    model, rig = avatar.model, avatar.rig
    if not rig.embeddable:
        raise ValueError(f"rig '{rig.name}': its licence forbids copying its arrays into a file")
    if levels is None:
        levels = [{"count": model.num_gaussians, "psnr_db": None, "psnr_min_db": None}]
    _check_levels(levels, model.num_gaussians)
    with torch.no_grad():
        blocks, header = _rig_blocks(rig, avatar.identity())
        g_blocks, g_header = _gaussian_blocks(model)
        o_blocks, o_header = _offset_blocks(model, np.asarray(tolerance, np.float64))
    blocks |= g_blocks | o_blocks
    meta = {
        "format": "avatar-web",
        "version": VERSION,
        "rig": header,
        "gaussians": g_header,
        "offsets": o_header,
        "background": [float(c) for c in avatar.background],
        "identity_shape": None if avatar.identity_shape is None else avatar.identity_shape.tolist(),
        "head_cut": None if model.head_cut is None else model.head_cut.to_dict(),
        "view_cone": None if model.view_cone is None else model.view_cone.to_dict(),
        "expression_range": None if avatar.expression_range is None else avatar.expression_range.to_dict(),
        "levels": levels,
    }
    data, sizes = _pack(meta, blocks)
    with atomic_path(Path(path)) as partial:
        Path(partial).write_bytes(data)
    return sizes


def read_web_avatar(path: str | Path, backend: str = "auto", level: int = 0) -> Avatar:
    """A .webavatar file as an Avatar on the CPU (dequantised; the rig's template holds the
    identity, its identity blendshapes are zeros); level k > 0: its level of detail k (the file's
    first levels[k]["count"] Gaussians)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise WebAvatarError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        meta, arrays = _unpack(data)
        levels = _levels(meta)
        if not 0 <= level < len(levels):
            raise WebAvatarError(f"no level of detail {level}: it has {len(levels)} (0..{len(levels) - 1})")
        rig = _read_rig(meta["rig"], arrays)
        model = _read_gaussians(meta["gaussians"], meta["offsets"], arrays, rig)
        if meta.get("head_cut") is not None:
            model.head_cut = HeadCut.from_dict(meta["head_cut"], rig.num_vertices, rig.num_faces)
        if meta.get("view_cone") is not None:
            model.view_cone = ViewCone.from_dict(meta["view_cone"])
        identity = meta.get("identity_shape")
        recorded = meta.get("expression_range")
        expression_range = None if recorded is None else ExpressionRange.from_dict(recorded, rig.num_expr)
    except WebAvatarError as e:
        raise WebAvatarError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise WebAvatarError(f"{path}: not a readable .webavatar file: {e}") from None
    if level:
        model = taken(model, torch.arange(levels[level]["count"]))
    return Avatar(
        model,
        None if identity is None else torch.tensor(identity, dtype=torch.float32),
        tuple(meta.get("background", (1.0, 1.0, 1.0))),
        {"web_format": VERSION},
        backend,
        expression_range,
    )


def read_web_levels(path: str | Path) -> list[dict]:
    """A .webavatar file's levels of detail, finest first ({"count", "psnr_db", "psnr_min_db"};
    one, the whole file, in files written before they were)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(16)
            length = struct.unpack_from("<I", head, 12)[0] if len(head) == 16 else 0
            head += f.read(length)
    except OSError as e:
        raise WebAvatarError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        return _levels(_header(head)[0])
    except WebAvatarError as e:
        raise WebAvatarError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise WebAvatarError(f"{path}: not a readable .webavatar file: {e}") from None


def _levels(meta: dict) -> list[dict]:
    """The header's levels of detail, checked (absent: one, the whole file)."""
    count = int(meta["gaussians"]["count"])
    levels = meta.get("levels") or [{"count": count, "psnr_db": None, "psnr_min_db": None}]
    _check_levels(levels, count)
    return levels


def _check_levels(levels: list[dict], count: int) -> None:
    """WebAvatarError unless the levels' counts start at count and decrease, each at least 1."""
    counts = [level.get("count") for level in levels]
    if (
        not counts
        or any(not isinstance(c, int) or c < 1 for c in counts)
        or counts[0] != count
        or any(b >= a for a, b in zip(counts, counts[1:]))
    ):
        raise WebAvatarError(f"levels of detail of {counts} Gaussians: not {count}, then fewer each")


# --- writing ---------------------------------------------------------------------------------


def _index_dtype(count: int) -> type:
    return np.uint16 if count <= 65535 else np.uint32


def _rig_blocks(rig: HeadRig, identity: torch.Tensor) -> tuple[dict, dict]:
    v = rig.num_vertices
    template = rig.v_template.float() + torch.einsum("vks,s->vk", rig.shapedirs.float(), identity.float())
    blocks = {
        "rig.v_template": template.cpu().numpy().astype(np.float32),
        "rig.faces": rig.faces.cpu().numpy().astype(_index_dtype(v)),
    }
    # expression blendshapes: per expression the vertices it moves, int8 with one scale
    q, scales = _int8(rig.exprdirs.detach().float().cpu().numpy(), axis=(0, 1))  # [V, 3, E], [1, 1, E]
    start, vertex, delta = _sparse_rows([q[:, :, e] for e in range(rig.num_expr)])
    blocks |= {
        "rig.expr_start": start,
        "rig.expr_vertex": vertex.astype(_index_dtype(v)),
        "rig.expr_delta": delta.reshape(-1, 3),
        "rig.expr_scale": scales.reshape(-1),
    }
    jstart, jvertex, jweight = _sparse_rows(list(rig.j_regressor.detach().float().cpu().numpy()))  # rows of [J, V]
    blocks |= {
        "rig.jreg_start": jstart,
        "rig.jreg_vertex": jvertex.astype(np.uint32),
        "rig.jreg_weight": jweight.astype(np.float32),
        "rig.lbs_weights": rig.lbs_weights.detach().cpu().numpy().astype(np.float16),
    }
    has_posedirs = bool((rig.posedirs != 0).any())
    if has_posedirs:
        blocks["rig.posedirs"] = rig.posedirs.detach().cpu().numpy().astype(np.float16)
    header = {
        "name": rig.name,
        "num_vertices": v,
        "num_faces": int(rig.faces.shape[0]),
        "num_shape": rig.num_shape,
        "num_expr": rig.num_expr,
        "expr_names": rig.expr_names,
        "parents": rig.parents.tolist(),
        "landmark_scheme": rig.landmark_scheme,
        "has_posedirs": has_posedirs,
        "num_pose_features": int(rig.posedirs.shape[-1]),
        "lmk_faces": None if rig.lmk_faces is None else rig.lmk_faces.tolist(),
        "lmk_bary": None if rig.lmk_bary is None else rig.lmk_bary.tolist(),
    }
    return blocks, header


def _int8(values: np.ndarray, axis: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """values as int8 in -127..127 and their float32 scales (kept dims): one scale per slice over
    `axis`, its largest magnitude / 127 (1 where the slice is all zeros)."""
    scales = np.abs(values).max(axis=axis, keepdims=True) / 127
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    return np.clip(np.round(values / scales), -127, 127).astype(np.int8), scales


def _sparse_rows(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start [R + 1] uint32, index, value) of the rows' non-zero entries, compressed by row
    (row r: index / value[start[r]:start[r + 1]]); a row [C, ...] counts an entry non-zero when
    any of its values is."""
    kept = [np.nonzero(np.abs(row).reshape(len(row), -1).max(axis=1) > 0)[0] for row in rows]
    start = np.concatenate([[0], np.cumsum([len(k) for k in kept])]).astype(np.uint32)
    return start, np.concatenate(kept), np.concatenate([row[k] for row, k in zip(rows, kept)])


def _gaussian_blocks(model: GaussianAvatar) -> tuple[dict, dict]:
    n = model.num_gaussians
    f16 = lambda t: t.detach().float().cpu().numpy().astype(np.float16)  # noqa: E731
    blocks = {
        "g.parent": model.parent.cpu().numpy().astype(_index_dtype(model.rig.faces.shape[0])),
        "g.xyz": f16(model.xyz),
        "g.rot": f16(model.rot),
        "g.log_scale": f16(model.log_scale),
        "g.opacity_logit": f16(model.opacity_logit),
        "g.sh_dc": f16(model.sh_dc.reshape(n, 3)),
    }
    header = {"count": n, "sh_degree": model.sh_degree, "blend_expr": model.blend_expr.tolist()}
    pose = model.pose_drivers
    if pose is not None:
        blocks |= {
            name: t.detach().float().cpu().numpy() for name, t in zip(POSE_BLOCKS, (pose.mean, pose.low, pose.high))
        }
    rest = model.sh_rest.detach().float().cpu().numpy().reshape(n, -1).astype(np.float64)  # [N, (K-1) 3]
    if rest.shape[1]:
        low = np.percentile(rest, SH_PERCENTILE, axis=0)
        high = np.percentile(rest, 100 - SH_PERCENTILE, axis=0)
        step = np.maximum(high - low, 1e-8) / 255
        q = np.clip(np.round((rest - low) / step), 0, 255).astype(np.uint8)
        blocks["g.sh_rest"] = q.reshape(n, -1, 3)
        header |= {"sh_rest_low": low.astype(np.float32).tolist(), "sh_rest_step": step.astype(np.float32).tolist()}
    return blocks, header


def _offset_blocks(model: GaussianAvatar, tolerance: np.ndarray) -> tuple[dict, dict]:
    n, d = model.num_gaussians, model.num_drivers
    blocks, rows, column = {}, {}, 0
    for name, width in OFFSET_GROUPS:
        offsets = getattr(model, name).detach().float().cpu().numpy().reshape(d, n, width)  # [D, N, w]
        tol = tolerance[column : column + width].astype(np.float32)
        column += width
        keep = (np.abs(offsets) >= tol).any(axis=-1)  # [D, N]
        values, scales = _int8(np.where(keep[..., None], offsets, 0), axis=1)  # [D, N, w], [D, 1, w]
        scales = scales[:, 0]  # [D, w]
        count = keep.sum(axis=1)
        rows[name] = count.tolist()
        blocks |= {
            f"{name}.mask": np.packbits(np.pad(keep, ((0, 0), (0, -n % 8))), axis=1, bitorder="little"),
            f"{name}.start": np.concatenate([[0], np.cumsum(count)]).astype(np.uint32),
            f"{name}.values": values[keep].reshape(-1, width),
            f"{name}.scale": scales,
        }
    header = {
        "count": d,
        "groups": [[name, width] for name, width in OFFSET_GROUPS],
        "rows": rows,
        "tolerance": tolerance.tolist(),
    }
    return blocks, header


def _pack(meta: dict, blocks: dict[str, np.ndarray]) -> tuple[bytes, dict]:
    """The file's bytes and {block: bytes, "header": bytes, "total": bytes}."""
    table, position = {}, 0
    for name, array in blocks.items():
        array = np.ascontiguousarray(array)
        dtype = next(k for k, v in DTYPES.items() if np.dtype(v) == array.dtype)
        table[name] = {"offset": position, "length": array.nbytes, "dtype": dtype, "shape": list(array.shape)}
        position += -(-array.nbytes // ALIGN) * ALIGN
    # the header's length moves the blocks: lay out relative offsets, then shift by it (its own
    # digits may grow: repeat until the length is stable)
    start = 0
    while True:
        for entry, base in zip(table.values(), _relative(table)):
            entry["offset"] = start + base
        text = json.dumps(meta | {"blocks": table}, separators=(",", ":")).encode()
        length = -(-(16 + len(text)) // ALIGN) * ALIGN - 16
        if 16 + length == start:
            break
        start = 16 + length
    out = bytearray(MAGIC + struct.pack("<II", VERSION, length) + text.ljust(length, b" "))
    for name, array in blocks.items():
        out += np.ascontiguousarray(array).astype(np.dtype(DTYPES[table[name]["dtype"]]).newbyteorder("<")).tobytes()
        out += b"\0" * (-len(out) % ALIGN)
    sizes = {name: entry["length"] for name, entry in table.items()} | {"header": 16 + length, "total": len(out)}
    return bytes(out), sizes


def _relative(table: dict) -> list[int]:
    bases, position = [], 0
    for entry in table.values():
        bases.append(position)
        position += -(-entry["length"] // ALIGN) * ALIGN
    return bases


# --- reading ---------------------------------------------------------------------------------


def _header(data: bytes) -> tuple[dict, int]:
    """(the JSON header, its byte length) of a file's first bytes (at least 16 + that length)."""
    if len(data) < 16 or data[:8] != MAGIC:
        raise ValueError("no .webavatar magic")
    version, length = struct.unpack_from("<II", data, 8)
    if version != VERSION:
        raise ValueError(f"version {version} is not supported (want {VERSION})")
    if 16 + length > len(data):
        raise ValueError("the header runs past the end of the file")
    meta = json.loads(data[16 : 16 + length])
    if meta.get("format") != "avatar-web":
        raise ValueError(f"format tag {meta.get('format')!r}")
    return meta, length


def _unpack(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    meta, length = _header(data)
    arrays = {}
    for name, entry in meta["blocks"].items():
        dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
        offset, nbytes, shape = int(entry["offset"]), int(entry["length"]), [int(s) for s in entry["shape"]]
        if offset % ALIGN or offset < 16 + length or offset + nbytes > len(data):
            raise ValueError(f"block {name} lies outside the file or is not aligned")
        if math.prod(shape) * dtype.itemsize != nbytes:
            raise ValueError(f"block {name}: shape {shape} of {entry['dtype']} is not {nbytes} bytes")
        arrays[name] = (
            np.frombuffer(data, dtype, math.prod(shape), offset).reshape(shape).astype(dtype.newbyteorder("="))
        )
    return meta, arrays


def _tensor(a: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a).astype(np.float32 if dtype.is_floating_point else np.int64)).to(
        dtype
    )


def _read_rig(header: dict, arrays: dict[str, np.ndarray]) -> HeadRig:
    v, e, s = int(header["num_vertices"]), int(header["num_expr"]), int(header["num_shape"])
    exprdirs = np.zeros((v, 3, e), np.float32)
    start, scale = arrays["rig.expr_start"].astype(np.int64), arrays["rig.expr_scale"]
    vertex, delta = arrays["rig.expr_vertex"].astype(np.int64), arrays["rig.expr_delta"]
    if start.shape != (e + 1,) or start[-1] != len(vertex) or len(delta) != len(vertex):
        raise ValueError("the expression blocks disagree on their row counts")
    for i in range(e):
        rows = slice(start[i], start[i + 1])
        exprdirs[vertex[rows], :, i] = delta[rows].astype(np.float32) * scale[i]
    jstart = arrays["rig.jreg_start"].astype(np.int64)
    joints = len(jstart) - 1
    jreg = np.zeros((joints, v), np.float32)
    jvertex = arrays["rig.jreg_vertex"].astype(np.int64)
    for j in range(joints):
        rows = slice(jstart[j], jstart[j + 1])
        jreg[j, jvertex[rows]] = arrays["rig.jreg_weight"][rows]
    pose_features = int(header.get("num_pose_features", 36))
    posedirs = (
        arrays["rig.posedirs"].astype(np.float32)
        if header.get("has_posedirs")
        else np.zeros((v, 3, pose_features), np.float32)
    )
    template = arrays["rig.v_template"]
    if template.shape != (v, 3):
        raise ValueError(f"rig.v_template is {list(template.shape)}, not [{v}, 3]")
    lmk_faces, lmk_bary = header.get("lmk_faces"), header.get("lmk_bary")
    return HeadRig(
        name=str(header["name"]),
        v_template=_tensor(template),
        faces=_tensor(arrays["rig.faces"], torch.long),
        shapedirs=torch.zeros(v, 3, s),
        exprdirs=_tensor(exprdirs),
        posedirs=_tensor(posedirs),
        j_regressor=_tensor(jreg),
        lbs_weights=_tensor(arrays["rig.lbs_weights"]),
        parents=torch.tensor(header["parents"], dtype=torch.long),
        expr_names=header.get("expr_names"),
        lmk_faces=None if lmk_faces is None else torch.tensor(lmk_faces, dtype=torch.long),
        lmk_bary=None if lmk_bary is None else torch.tensor(lmk_bary, dtype=torch.float32),
        landmark_scheme=str(header.get("landmark_scheme", "ibug68")),
    )


def _read_blend_expr(header: dict) -> torch.Tensor:
    """The expressions whose weights drive the offsets (the g.expr_* blocks, where present, hold the
    same selection); null: a PCA basis, refused."""
    if header["blend_expr"] is None:
        raise WebAvatarError(PCA_BASIS_REMOVED)
    return torch.tensor(header["blend_expr"], dtype=torch.long)


def _read_pose(arrays: dict[str, np.ndarray]) -> HeadPoseDrivers | None:
    """The head-pose drivers when the file has their blocks (all three), else None."""
    present = [name for name in POSE_BLOCKS if name in arrays]
    if not present:
        return None
    if len(present) != len(POSE_BLOCKS):
        raise ValueError(f"{', '.join(present)} without the rest of {', '.join(POSE_BLOCKS)}")
    return HeadPoseDrivers.checked(*(_tensor(arrays[name]) for name in POSE_BLOCKS), POSE_BLOCKS)


def _read_gaussians(header: dict, off_header: dict, arrays: dict[str, np.ndarray], rig: HeadRig) -> GaussianAvatar:
    n, degree = int(header["count"]), int(header["sh_degree"])
    parent = _tensor(arrays["g.parent"], torch.long)
    if parent.shape != (n,) or (n and int(parent.max()) >= rig.faces.shape[0]):
        raise ValueError("g.parent is not one rig triangle per Gaussian")
    model = GaussianAvatar(rig, parent, degree, _read_blend_expr(header), _read_pose(arrays))
    k = (degree + 1) ** 2
    tensors = {
        "xyz": _tensor(arrays["g.xyz"]),
        "rot": _tensor(arrays["g.rot"]),
        "log_scale": _tensor(arrays["g.log_scale"]),
        "opacity_logit": _tensor(arrays["g.opacity_logit"]),
        "sh_dc": _tensor(arrays["g.sh_dc"]).reshape(n, 1, 3),
    }
    if k > 1:
        low = np.asarray(header["sh_rest_low"], np.float32)
        step = np.asarray(header["sh_rest_step"], np.float32)
        rest = low + step * arrays["g.sh_rest"].reshape(n, -1).astype(np.float32)
        tensors["sh_rest"] = _tensor(rest).reshape(n, k - 1, 3)
    else:
        tensors["sh_rest"] = torch.zeros(n, 0, 3)
    d = model.num_drivers
    if int(off_header["count"]) != d:
        raise ValueError(f"{off_header['count']} offset drivers, the Gaussians have {d}")
    for name, width in OFFSET_GROUPS:
        keep = np.unpackbits(arrays[f"{name}.mask"], axis=1, count=n, bitorder="little").astype(bool)  # [D, N]
        values, scale = arrays[f"{name}.values"], arrays[f"{name}.scale"]
        if keep.shape != (d, n) or int(keep.sum()) != len(values) or scale.shape != (d, width):
            raise ValueError(f"the {name} offset blocks disagree with each other")
        dense = np.zeros((d, n, width), np.float32)
        dense[keep] = values.astype(np.float32)
        dense *= scale[:, None, :]
        tensors[name] = torch.from_numpy(dense).reshape(getattr(model, name).shape)
    model.replace_gaussians(tensors, parent)
    return model
