"""`GLSplatRenderer`: Gaussian splatting with OpenGL 3.3 shaders (moderngl), for machines
without CUDA; headless through EGL or drawn straight into a window's framebuffer.

Same maths as avatar.splat.reference (projection, SH colour, opacity-aware extent and culling,
alpha rule), on the GPU: a transform-feedback pass projects every Gaussian from its means,
quats, scales and SH, then one instanced triangle per Gaussian is splatted (viewer.gl.shaders).
Order, on the CPU: the view-space depth t.z, computed with torch exactly as the reference does,
is sorted (a stable radix sort of int32 keys) and the Gaussians are drawn back to front through
an index buffer (ties: higher index first, i.e. the reference's lower index in front).
Blending ONE, ONE_MINUS_SRC_ALPHA of premultiplied colours into float32 targets cleared to
(background, 0) gives sum_i alpha_i T_i colour_i + T_final background and alpha = 1 - T_final,
unquantised.

One deliberate difference: the reference stops a pixel (without adding that Gaussian) once T
would fall below 1e-4; back-to-front blending cannot stop, so pixels that reach it also get the
Gaussians behind, whose weights sum to less than the T left then (< 0.01 per pixel; only
pixels whose reference alpha exceeds 0.99 can differ).
"""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np
import torch
from torch import Tensor

from avatar.runtime.backends import BackendUnavailable
from avatar.splat.world import Gaussians
from avatar.splat.camera import Camera
from avatar.splat import RenderOutput
from avatar.splat.projection import FRUSTUM_MARGIN, opacity_aware_radii, project_gaussians
from avatar.splat.reference import RenderInputError, check_gaussians
from viewer.gl import shaders

GL_VERSION = 330
PREMULTIPLIED = (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)


class GLUnavailable(BackendUnavailable):
    """No OpenGL 3.3 context can be created here; the message says what was tried."""


@dataclass
class SplatImage:
    rgb: Tensor  # [H, W, 3] background composited in
    alpha: Tensor  # [H, W, 1] accumulated opacity
    depth: Tensor  # [H, W, 1] sum_i w_i z_i (not normalised), as RenderOutput.depth


def create_headless_context() -> moderngl.Context:
    """A standalone OpenGL 3.3+ context: EGL first (headless Linux), then the platform default."""
    errors = []
    for kwargs in ({"backend": "egl"}, {}):
        try:
            return moderngl.create_standalone_context(require=GL_VERSION, **kwargs)
        except Exception as e:  # glcontext raises plain Exceptions whose type depends on the platform
            errors.append(f"{kwargs.get('backend', 'default')}: {e}")
    raise GLUnavailable(f"no OpenGL {GL_VERSION // 100}.{GL_VERSION % 100 // 10} context: {'; '.join(errors)}")


class GLSplatRenderer:
    """Splats `Gaussians` with GL shaders into an offscreen float framebuffer (`render_image`)
    or into whatever framebuffer is bound (`draw`). ctx: an existing context (a window's) or
    None for a new headless one."""

    def __init__(self, width: int, height: int, ctx: moderngl.Context | None = None):
        if width <= 0 or height <= 0:
            raise ValueError(f"GLSplatRenderer size {width}x{height} is empty")
        self._owns_context = ctx is None
        self.ctx = ctx if ctx is not None else create_headless_context()
        self.width, self.height = width, height
        self._preprocess: dict[int, moderngl.Program] = {}  # pass 1 by SH degree (its inputs depend on it)
        self._preprocess_arrays: dict[int, moderngl.VertexArray] = {}  # by SH degree, over the current buffers
        self._splat = self.ctx.program(vertex_shader=shaders.splat_vertex_shader(),
                                       fragment_shader=shaders.fragment_shader())
        self._splat_array: moderngl.VertexArray | None = None
        self._gaussians: moderngl.Buffer | None = None  # packed Gaussians, input order
        self._order: moderngl.Buffer | None = None  # int32 indices, back to front
        self._records: moderngl.Buffer | None = None  # pass 1 output, back to front
        # Float32 targets: blending sums are not quantised. The R32F depth target still blends with
        # the alpha the shader writes (source factors come from the shader output, not the target).
        self._colour = self.ctx.texture((width, height), 4, dtype="f4")
        self._depth = self.ctx.texture((width, height), 1, dtype="f4")
        self._framebuffer = self.ctx.framebuffer(color_attachments=[self._colour, self._depth])
        self._depth_only = self.ctx.framebuffer(color_attachments=[self._depth])  # to clear it to 0

    def render(self, gaussians: Gaussians, camera: Camera, background: Tensor | None = None) -> RenderOutput:
        """`render_image` plus means2d and radii, which come from avatar.splat.projection on
        the CPU (torch, no autograd): the complete RenderOutput of a splat backend. Nothing is
        differentiable; the tensors are on the device of gaussians.means."""
        image = self.render_image(gaussians, camera, background)
        g = gaussians.detach().to(device="cpu", dtype=torch.float32)
        with torch.no_grad():
            proj = project_gaussians(g.means, g.quats, g.scales, camera.to(device="cpu", dtype=torch.float32))
            radii = opacity_aware_radii(proj, g.opacities, camera.width, camera.height)
        device = gaussians.means.device
        return RenderOutput(rgb=image.rgb.to(device), alpha=image.alpha.to(device), depth=image.depth.to(device),
                            means2d=proj.means2d.to(device), radii=radii.to(device))

    def render_image(self, gaussians: Gaussians, camera: Camera, background: Tensor | None = None) -> SplatImage:
        """Render offscreen and read back rgb, alpha and depth (float32 CPU tensors)."""
        self._check_size(camera)
        self._draw_offscreen(gaussians, camera, background)
        colour = np.empty((self.height, self.width, 4), dtype=np.float32)  # rows come back top first (no flip)
        depth = np.empty((self.height, self.width, 1), dtype=np.float32)
        self._framebuffer.read_into(colour, components=4, attachment=0, dtype="f4")
        self._framebuffer.read_into(depth, components=1, attachment=1, dtype="f4")
        colour, depth = torch.from_numpy(colour), torch.from_numpy(depth)
        return SplatImage(rgb=colour[..., :3], alpha=colour[..., 3:], depth=depth)

    def render_offscreen(self, gaussians: Gaussians, camera: Camera, background: Tensor | None = None) -> None:
        """Render into the offscreen framebuffer and wait for the GPU, without reading back
        (what a frame costs when the result stays on the GPU)."""
        self._check_size(camera)
        self._draw_offscreen(gaussians, camera, background)
        self.ctx.finish()

    def draw(self, gaussians: Gaussians, camera: Camera, viewport: tuple[int, int, int, int] | None = None,
             flip_y: bool = True) -> None:
        """Splat into the currently bound framebuffer, inside `viewport` (x, y, width, height in
        window pixels, default the camera's size at the origin), which must match the camera's
        size. The caller clears that rectangle to the background with alpha 0 first. flip_y:
        image row 0 at the top of the viewport (screens); False puts it at the bottom, i.e.
        first in a glReadPixels readback. Leaves blending on with the premultiplied function."""
        degree = check_gaussians(gaussians)
        x, y, w, h = viewport if viewport is not None else (0, 0, camera.width, camera.height)
        if (w, h) != (camera.width, camera.height):
            raise RenderInputError(f"viewport {w}x{h} does not match the camera's {camera.width}x{camera.height}")
        order = back_to_front(gaussians, camera)  # [N] int32
        count = order.numel()
        if count == 0:
            return
        preprocess = self._upload(gaussians, order, degree)
        uniforms = _uniforms(camera, (x, y, w, h), flip_y)
        _set_uniforms(self._preprocess[degree], uniforms)
        _set_uniforms(self._splat, uniforms)
        preprocess.transform(self._records, mode=moderngl.POINTS, vertices=count)
        self.ctx.viewport = (x, y, w, h)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self.ctx.blend_func = PREMULTIPLIED
        self._splat_array.render(moderngl.TRIANGLES, vertices=3, instances=count)

    def release(self) -> None:
        """Free the GL objects, and the context when this renderer created it."""
        self._release_buffers()
        for obj in (*self._preprocess.values(), self._splat, self._framebuffer, self._depth_only, self._colour,
                    self._depth):
            obj.release()
        self._preprocess = {}
        if self._owns_context:
            self.ctx.release()

    def _check_size(self, camera: Camera) -> None:
        if (camera.width, camera.height) != (self.width, self.height):
            raise RenderInputError(f"camera is {camera.width}x{camera.height} but this GLSplatRenderer renders "
                                   f"{self.width}x{self.height}")

    def _draw_offscreen(self, gaussians: Gaussians, camera: Camera, background: Tensor | None) -> None:
        if background is not None and tuple(background.shape) != (3,):
            raise RenderInputError(f"background has shape {tuple(background.shape)}, expected (3,)")
        red, green, blue = (0.0, 0.0, 0.0) if background is None else background.detach().cpu().tolist()
        self._framebuffer.clear(red, green, blue, 0.0)  # every attachment, depth included
        self._depth_only.clear(0.0, 0.0, 0.0, 0.0)
        self._framebuffer.use()
        self.draw(gaussians, camera, viewport=(0, 0, self.width, self.height), flip_y=False)

    def _upload(self, gaussians: Gaussians, order: Tensor, degree: int) -> moderngl.VertexArray:
        """Write the packed Gaussians and the draw order (growing the buffers when needed);
        returns pass 1's vertex array for this SH degree."""
        packed = _pack(gaussians)  # [N, F] float32
        indices = order.numpy()
        if self._gaussians is None or self._gaussians.size < packed.nbytes or self._order.size < indices.nbytes:
            self._release_buffers()
            # Twice the need, so an avatar that grows a little does not reallocate every frame.
            self._gaussians = self.ctx.buffer(reserve=2 * packed.nbytes)
            self._order = self.ctx.buffer(reserve=2 * gaussians.num * 4)
            self._records = self.ctx.buffer(reserve=2 * gaussians.num * shaders.SPLAT_RECORD_BYTES)
            self._splat_array = self.ctx.vertex_array(
                self._splat, [(self._records, shaders.SPLAT_RECORD_FORMAT, *shaders.SPLAT_RECORD_ATTRIBUTES)])
        self._gaussians.write(packed)
        self._order.write(indices)
        if degree not in self._preprocess:
            self._preprocess[degree] = self.ctx.program(vertex_shader=shaders.preprocess_shader(degree),
                                                        varyings=shaders.SPLAT_RECORD_VARYINGS)
        if degree not in self._preprocess_arrays:
            fmt, names = shaders.vertex_format((degree + 1) ** 2)
            self._preprocess_arrays[degree] = self.ctx.vertex_array(
                self._preprocess[degree], [(self._gaussians, fmt, *names)], index_buffer=self._order,
                index_element_size=4)
        return self._preprocess_arrays[degree]

    def _release_buffers(self) -> None:
        for obj in (*self._preprocess_arrays.values(), self._splat_array, self._gaussians, self._order, self._records):
            if obj is not None:
                obj.release()
        self._preprocess_arrays, self._splat_array = {}, None
        self._gaussians = self._order = self._records = None


@torch.no_grad()
def back_to_front(g: Gaussians, camera: Camera) -> Tensor:
    """[N] int32 draw order, farthest first (the shader culls those outside the depth range)."""
    w2c = camera.world_to_cam.detach().to(device="cpu", dtype=torch.float32)
    means = g.means.detach().to(device="cpu", dtype=torch.float32)
    depths = (means @ w2c[:3, :3].T + w2c[:3, 3])[:, 2]  # [N], the reference's expression, bit for bit
    near_first = torch.sort(_sortable_int32(depths), stable=True).indices
    return near_first.flip(0).to(torch.int32)


def _sortable_int32(values: Tensor) -> Tensor:
    """[N] float32 -> [N] int32 keys in the same order (non-NaN): torch sorts int32 with a radix
    sort, ~8x faster than float32 on the CPU. Positive floats already order as their bits;
    flipping all but the sign bit of negative ones reverses theirs."""
    bits = values.view(torch.int32)
    return bits ^ ((bits >> 31) & 0x7FFFFFFF)


@torch.no_grad()
def _pack(g: Gaussians) -> np.ndarray:
    """[N, 11 + 4 ceil(3K / 4)] float32 rows in the layout of shaders.vertex_format."""
    n, k = g.sh.shape[0], g.sh.shape[1]
    pad = 4 * shaders.sh_attribute_count(k) - 3 * k
    parts = [g.means, g.opacities[:, None], g.quats, g.scales, g.sh.reshape(n, 3 * k)]
    parts = [p.detach().to(device="cpu", dtype=torch.float32) for p in parts]
    packed = torch.cat(parts + [torch.zeros(n, pad)], dim=1)
    return packed.numpy()


def _uniforms(camera: Camera, viewport: tuple[int, int, int, int], flip_y: bool) -> dict[str, object]:
    """Every uniform of both passes (bytes for matrices, tuples or scalars for the rest)."""
    w2c = camera.world_to_cam.detach().to(device="cpu", dtype=torch.float32)
    k = camera.K.detach().to(device="cpu", dtype=torch.float64)
    fx, fy, cx, cy = (float(v) for v in (k[0, 0], k[1, 1], k[0, 2], k[1, 2]))
    width, height = camera.width, camera.height
    # Clamp limits of the Jacobian exactly as avatar.splat.projection (gsplat `_persp_proj`).
    margin_x, margin_y = FRUSTUM_MARGIN * 0.5 * width / fx, FRUSTUM_MARGIN * 0.5 * height / fy
    return {
        "u_rot_wc": w2c[:3, :3].T.contiguous().numpy().tobytes(),  # GLSL mat3 is column-major
        "u_trans_wc": tuple(w2c[:3, 3].tolist()),
        "u_intrinsics": (fx, fy, cx, cy),
        "u_tan_limits": (cx / fx + margin_x, (width - cx) / fx + margin_x,
                         cy / fy + margin_y, (height - cy) / fy + margin_y),
        "u_near_far": (camera.near, camera.far),
        "u_image_size": (float(width), float(height)),
        "u_cam_pos": tuple(camera.to(dtype=torch.float32).view_origin.tolist()),
        "u_viewport": tuple(float(v) for v in viewport),
        "u_flip_y": flip_y,
    }


def _set_uniforms(program: moderngl.Program, values: dict[str, object]) -> None:
    """Write the uniforms `program` has: each pass uses a subset, and SH degree 0 ignores the
    view direction, so its compiler drops u_cam_pos."""
    for name, value in values.items():
        if name not in program:
            continue
        if isinstance(value, bytes):
            program[name].write(value)
        else:
            program[name].value = value
