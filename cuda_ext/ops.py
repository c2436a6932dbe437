"""The schema of every `torch.ops.avatar_ext` op, defined in this one place.

The compiled modules only implement these schemas (`TORCH_LIBRARY_IMPL` in csrc/*.cpp for the CPU,
csrc/*.cu for CUDA): neither defines an op, so either loads without the other. `cuda_ext.load`
imports this module before it loads a compiled one. The build stamp hashes this file with the
C++ sources (cuda_ext/_sources.py): a kernel's C++ signature must match its schema here.

Shapes: N Gaussians, K SH coefficients per channel, F rig triangles, V vertices, D blendshape
drivers, H x W pixels. Floating tensors of one op share one dtype (float32 or float64) unless
said otherwise. Cameras of the splat ops are tensors read on the host: world_to_cam [4, 4], K
[3, 3] (intrinsics in pixels) and cam_pos [3] (its centre in world space), CPU tensors (also for
CUDA Gaussians: no device synchronisation), float32 or float64, rounded to the Gaussians' dtype.
"""

from __future__ import annotations

import torch

NAMESPACE = "avatar_ext"

# The kernels read their tensors as dense row-major arrays: under torch.compile the tag makes
# Inductor hand them contiguous tensors; the ops' fake kernels and the Python wrappers assume it.
TENSOR_OP_TAGS = (torch.Tag.pt2_compliant_tag, torch.Tag.needs_contiguous_strides)

_CAMERA = "Tensor world_to_cam, Tensor K, Tensor cam_pos, int width, int height, float near, float far"
_BLEND_INPUTS = (
    "Tensor verts, Tensor faces, Tensor parent, Tensor drivers, Tensor xyz, Tensor rot, "
    "Tensor log_scale, Tensor opacity_logit, Tensor sh_dc, Tensor sh_rest, Tensor d_xyz, Tensor d_rot, "
    "Tensor d_log_scale, Tensor d_opacity, Tensor d_color"
)
_SCREEN_GAUSSIANS = (
    "Tensor means2d, Tensor conics, Tensor colours, Tensor opacities, Tensor depths, Tensor radii, Tensor background"
)

SCHEMAS: dict[str, str] = {
    # Gaussians means [N, 3], quats [N, 4] (wxyz, any norm), scales [N, 3], opacities [N] (only
    # for culling), sh [N, K, 3] -> their screen-space form: means2d [N, 2] pixels, conics [N, 3],
    # depths [N], colours [N, 3], radii [N] int32 (0: culled).
    "splat_project_forward": f"(Tensor means, Tensor quats, Tensor scales, Tensor opacities, Tensor sh, {_CAMERA}) "
    "-> (Tensor means2d, Tensor conics, Tensor depths, Tensor colours, Tensor radii)",
    # The gradients of splat_project_forward's inputs from those of its float outputs.
    "splat_project_backward": f"(Tensor means, Tensor quats, Tensor scales, Tensor sh, {_CAMERA}, "
    "Tensor grad_means2d, Tensor grad_conics, Tensor grad_depths, Tensor grad_colours) "
    "-> (Tensor grad_means, Tensor grad_quats, Tensor grad_scales, Tensor grad_sh)",
    # The projection's outputs (+ opacities [N], background [3]) composited front to back into rgb
    # [H, W, 3] (background behind), alpha [H, W, 1], depth [H, W, 1] (sum of w z). state: what the
    # backward walks, the same five tensors on every device: final transmittance [H, W], last
    # contributing entry [H, W] int32, tile offsets [tiles + 1] int32, tile entries [E] int32 and a
    # byte buffer per Gaussian [B] uint8 (tile size and B are the device's).
    "splat_rasterize_forward": f"({_SCREEN_GAUSSIANS}, int width, int height) "
    "-> (Tensor rgb, Tensor alpha, Tensor depth, Tensor[] state)",
    "splat_rasterize_backward": f"({_SCREEN_GAUSSIANS}, Tensor[] state, Tensor grad_rgb, Tensor grad_alpha, "
    "Tensor grad_depth) -> (Tensor grad_means2d, Tensor grad_conics, "
    "Tensor grad_colours, Tensor grad_opacities, Tensor grad_depths)",
    # CPU: each Gaussian's blending weight w summed over the pixels [N], compositing as
    # splat_rasterize_forward does with the same inputs (colours and background change nothing):
    # how much of the image each Gaussian makes, the backward's colour gradient for a grad_rgb of
    # ones in one channel at a third of the forward and backward's work.
    "splat_rasterize_weights": f"({_SCREEN_GAUSSIANS}, int width, int height) -> Tensor",
    # Which instruction set the float32 CPU loops run with: "avx512", "avx2" or "sse2"
    # (AVATAR_EXT_SIMD, read per call, can narrow it).
    "cpu_simd": "() -> str",
    # Posed rig vertices verts [V, 3], faces [F, 3] and parent [N] int64, drivers [D]; per Gaussian
    # xyz [N, 3], rot [N, 4], log_scale [N, 3], opacity_logit [N], sh_dc [N, 1, 3], sh_rest
    # [N, K-1, 3] and their offsets [D, N, ...] -> world-space means [N, 3], quats [N, 4], scales
    # [N, 3], opacities [N], sh [N, K, 3]; local [N, 14], the blended local attributes; frames
    # [F, 17], every triangle's posed frame (origin 3, rotation 9, unit 1, quaternion 4). local and
    # frames are what blend_backward reads back.
    "blend_forward": f"({_BLEND_INPUTS}) -> (Tensor means, Tensor quats, Tensor scales, Tensor opacities, "
    "Tensor sh, Tensor local, Tensor frames)",
    # frames: blend_forward's, or an empty tensor (the op computes them again). grad_local: the
    # gradient of `local`, or an empty tensor. need_verts / need_drivers false: those gradients
    # are zeros and their work is skipped.
    # -> [grad_verts, grad_drivers, grad_xyz, grad_rot, grad_log_scale, grad_opacity_logit,
    #     grad_sh_dc, grad_d_xyz, grad_d_rot, grad_d_log_scale, grad_d_opacity, grad_d_color]
    "blend_backward": f"({_BLEND_INPUTS}, Tensor local, Tensor frames, Tensor grad_means, Tensor grad_quats, "
    "Tensor grad_scales, Tensor grad_opacities, Tensor grad_sh, Tensor grad_local, "
    "bool need_verts, bool need_drivers) -> Tensor[]",
    # CPU inference, float32: blend_forward fused with splat_project_forward. N Gaussians grouped
    # by 8 (G = ceil(N / 8)): parent [8 G] int32, base [G, 14, 8], offsets [D, G, 14, 8] int8
    # scaled by offset_scales [D, 14], sh_rest [G, (K-1) 3, 8] -> means2d, conics, depths,
    # colours, opacities [N], radii as splat_project_forward's.
    "avatar_project": "(Tensor verts, Tensor faces, Tensor parent, Tensor drivers, Tensor base, Tensor offsets, "
    f"Tensor offset_scales, Tensor sh_rest, int num_gaussians, {_CAMERA}) "
    "-> (Tensor means2d, Tensor conics, Tensor depths, Tensor colours, Tensor opacities, "
    "Tensor radii)",
    # The region [H, W, 1] in {0, 1} (verts' dtype and device) that the cut below the head keeps
    # of the rig posed as verts [V, 3], seen by world_to_cam (16 row-major values) and K (9).
    "head_cut_region": "(Tensor verts, Tensor faces, Tensor ring, Tensor sides, int top, float neck_margin, "
    "float[] world_to_cam, float[] K, int width, int height, float near) -> Tensor",
    # CPU, float32, in place: the pixels head_cut_region removes become background, alpha and depth 0.
    "head_cut_apply_": "(Tensor(a!) rgb, Tensor(b!) alpha, Tensor(c!) depth, Tensor background, Tensor verts, "
    "Tensor faces, Tensor ring, Tensor sides, int top, float neck_margin, float[] world_to_cam, "
    "float[] K, float near) -> ()",
    # CPU: [H, W, 3] float32 -> uint8 round(clamp(rgb, 0, 1) 255).
    "rgb_to_uint8": "(Tensor rgb) -> Tensor",
    # CPU: one frame of posed rig vertices [V, 3] (blendshapes + LBS, as avatar.rig.lbs).
    "rig_pose": "(Tensor v_template, Tensor shapedirs, Tensor exprdirs, Tensor posedirs, Tensor j_regressor, "
    "Tensor parents, Tensor lbs_weights, Tensor shape, Tensor expr, Tensor pose, Tensor translation) "
    "-> Tensor",
}

# Ops whose output is no tensor: nothing for torch.compile to trace, so no pt2 tags.
UNTAGGED = frozenset({"cpu_simd"})

_library = torch.library.Library(NAMESPACE, "DEF")
for _name, _schema in SCHEMAS.items():
    _library.define(_name + _schema, tags=() if _name in UNTAGGED else TENSOR_OP_TAGS)
