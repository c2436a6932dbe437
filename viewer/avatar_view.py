"""`AvatarView`: puts the avatar into a rectangle of the window's framebuffer.

Backend `gl` blends and splats straight into the window (`draw`: GLSplatRenderer on the
window's context, then the avatar's cut below the head with GLHeadCut; timed). Every other
backend renders on `RenderWorker`'s thread; `show` draws its image as a textured quad, uploading
the texture only when the image is new.
"""

from __future__ import annotations

import time

import moderngl
import numpy as np
import torch

from avatar.gaussians import GaussianAvatar, blend
from avatar.splat.camera import Camera
from avatar.renderer import AvatarRenderer
from avatar.rig import RigParams
from viewer.gl.cut import GLHeadCut
from viewer.gl.splat import GLSplatRenderer

QUAD_VERTEX = """
#version 330
in vec2 corner;
out vec2 uv;
void main() {
    uv = vec2(corner.x, 1.0 - corner.y);  // image row 0 at the top of the viewport
    gl_Position = vec4(2.0 * corner - 1.0, 0.0, 1.0);
}
"""
QUAD_FRAGMENT = """
#version 330
uniform sampler2D image;
in vec2 uv;
out vec4 colour;
void main() { colour = vec4(texture(image, uv).rgb, 1.0); }
"""


class AvatarView:
    def __init__(self, ctx: moderngl.Context, model: GaussianAvatar):
        self.ctx, self.model = ctx, model
        self._avatar = AvatarRenderer(model)  # the rig's poser and the cut the other backends use
        self._gl: dict[tuple[int, int], GLSplatRenderer] = {}
        self._cut = GLHeadCut(ctx)
        self._quad_program = ctx.program(vertex_shader=QUAD_VERTEX, fragment_shader=QUAD_FRAGMENT)
        corners = np.array([0, 0, 1, 0, 0, 1, 1, 1], dtype="f4")
        self._quad = ctx.vertex_array(self._quad_program, [(ctx.buffer(corners.tobytes()), "2f", "corner")])
        self._texture: moderngl.Texture | None = None
        self.blend_ms = self.splat_ms = 0.0
        self.viewport = (0, 0, 1, 1)  # x, y (from the bottom), width, height in framebuffer pixels

    @torch.no_grad()
    def draw(self, params: RigParams, camera: Camera, viewport: tuple[int, int, int, int],
             background: list[float]) -> None:
        """`gl` backend: blend and splat into `viewport` of the bound window framebuffer (its size
        must be the camera's), cut below the head as every other backend's frames are."""
        started = time.perf_counter()
        verts = self._avatar.poser()(params)  # [V, 3] posed once, for the blend and the cut
        gaussians = blend(self.model, params, verts=verts)
        blended = time.perf_counter()
        self._clear(viewport, background)
        self._renderer(camera).draw(gaussians, self._avatar.seen_from(params, camera), viewport)
        region = self._avatar.cut_region(params, camera, verts)
        if region is not None:
            self._cut.draw(region, viewport, background)
        self.ctx.finish()  # splat_ms is the frame's real cost, not the time to queue it
        self.blend_ms = 1e3 * (blended - started)
        self.splat_ms = 1e3 * (time.perf_counter() - blended)

    def show(self, rgb: np.ndarray, viewport: tuple[int, int, int, int], new: bool) -> None:
        """Draw a rendered image [H, W, 3] uint8 (row 0 at the top) into `viewport`; `new`: it
        differs from the last one shown (else the texture already holds it)."""
        height, width = rgb.shape[:2]
        if self._texture is None or self._texture.size != (width, height):
            if self._texture is not None:
                self._texture.release()
            self._texture = self.ctx.texture((width, height), 3, dtype="f1", alignment=1)
            new = True
        if new:
            self._texture.write(np.ascontiguousarray(rgb).tobytes(), alignment=1)
        self.viewport = viewport
        self.ctx.screen.use()
        self.ctx.viewport = viewport
        self._texture.use(0)
        self.ctx.disable(moderngl.BLEND)
        self._quad.render(moderngl.TRIANGLE_STRIP)

    def read_pixels(self) -> np.ndarray:
        """[H, W, 3] uint8 of the last drawn viewport, row 0 at the top."""
        x, y, w, h = self.viewport
        data = self.ctx.screen.read(viewport=(x, y, w, h), components=3)
        return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)[::-1].copy()

    def _renderer(self, camera: Camera) -> GLSplatRenderer:
        size = (camera.width, camera.height)
        if size not in self._gl:
            self._gl[size] = GLSplatRenderer(*size, ctx=self.ctx)
        return self._gl[size]

    def _clear(self, viewport: tuple[int, int, int, int], background: list[float]) -> None:
        self.viewport = viewport
        self.ctx.screen.use()
        self.ctx.viewport = viewport
        self.ctx.scissor = viewport
        self.ctx.clear(*background, 0.0)
        self.ctx.scissor = None
