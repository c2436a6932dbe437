"""`GLHeadCut`: the avatar's cut below the head for the `gl` backend, which splats straight into
the window and so never passes through the renderer's clip (`avatar.splat.cut_region.clip_to_region`).

The region is the same one every other backend uses (`AvatarRenderer.cut_region`, computed on
the CPU); this draws the background over what lies outside it, blended by the region's
coverage, so the window shows what `clip_to_region` would give.
"""

from __future__ import annotations

import moderngl
import numpy as np
from torch import Tensor

CUT_VERTEX = """
#version 330
uniform bool flip_y;
in vec2 corner;
out vec2 uv;
void main() {
    uv = vec2(corner.x, flip_y ? 1.0 - corner.y : corner.y);
    gl_Position = vec4(2.0 * corner - 1.0, 0.0, 1.0);
}
"""
CUT_FRAGMENT = """
#version 330
uniform sampler2D region;
uniform vec3 background;
in vec2 uv;
out vec4 colour;
void main() { colour = vec4(background, 1.0 - texture(region, uv).r); }
"""


class GLHeadCut:
    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self._program = ctx.program(vertex_shader=CUT_VERTEX, fragment_shader=CUT_FRAGMENT)
        corners = np.array([0, 0, 1, 0, 0, 1, 1, 1], dtype="f4")
        self._buffer = ctx.buffer(corners.tobytes())
        self._quad = ctx.vertex_array(self._program, [(self._buffer, "2f", "corner")])
        self._texture: moderngl.Texture | None = None

    def draw(self, region: Tensor, viewport: tuple[int, int, int, int], background: list[float],
             flip_y: bool = True) -> None:
        """Blend background over the bound framebuffer's `viewport` wherever region [H, W, 1]
        (row 0 at the top, the viewport's size) leaves the head out. flip_y as in
        GLSplatRenderer.draw: row 0 at the top of the viewport."""
        height, width = region.shape[:2]
        if (viewport[2], viewport[3]) != (width, height):
            raise ValueError(f"region {width}x{height} does not match the viewport's {viewport[2]}x{viewport[3]}")
        if self._texture is None or self._texture.size != (width, height):
            if self._texture is not None:
                self._texture.release()
            self._texture = self.ctx.texture((width, height), 1, dtype="f4")
            self._texture.filter = (moderngl.NEAREST, moderngl.NEAREST)  # one texel per pixel, unblurred
        self._texture.write(np.ascontiguousarray(region.detach().float().cpu().numpy()).tobytes())
        self.ctx.viewport = viewport
        self._texture.use(0)
        self._program["region"].value = 0
        self._program["background"].value = tuple(float(c) for c in background)
        self._program["flip_y"].value = flip_y
        self.ctx.enable(moderngl.BLEND)
        # colour: background over the splat by 1 - region; alpha: the splat's times region.
        self.ctx.blend_func = (moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA,
                               moderngl.ZERO, moderngl.ONE_MINUS_SRC_ALPHA)
        self._quad.render(moderngl.TRIANGLE_STRIP)

    def release(self) -> None:
        for obj in (self._quad, self._buffer, self._program, self._texture):
            if obj is not None:
                obj.release()
        self._texture = None
