"""The `gl` splat backend: GLSplatRenderer behind avatar.splat.dispatch's registry.

Registered by `register_gl_backend()` (viewer.launch calls it; avatar.* never imports viewer),
outside `auto`'s choices. The
loader creates one headless context on first use, or raises BackendUnavailable saying why
(moderngl missing, no EGL/GL 3.3); renderers are cached per image size on that context.
Not differentiable: the outputs carry no autograd graph.
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor

from avatar.runtime.backends import BackendRegistry, BackendUnavailable
from avatar.splat.world import Gaussians
from avatar.splat import RenderOutput, splat_registry
from avatar.splat.camera import Camera

BACKEND_NAME = "gl"


def register_gl_backend(registry: BackendRegistry = splat_registry) -> None:
    """Make `splat(..., backend="gl")` resolve to the GL renderer (lazily)."""
    registry.register(BACKEND_NAME, _load, devices=("cpu",))  # OpenGL uploads host arrays


def _load() -> Callable[[Gaussians, Camera, Tensor | None], RenderOutput]:
    try:
        from viewer.gl.splat import GLSplatRenderer, create_headless_context
    except ImportError as e:
        raise BackendUnavailable(f"moderngl is not importable ({e}); pip install --no-build-isolation -e "
                                 '".[viewer]"') from e
    ctx = create_headless_context()  # raises GLUnavailable (a BackendUnavailable) with the reason
    renderers: dict[tuple[int, int], GLSplatRenderer] = {}

    def splat_gl(gaussians: Gaussians, camera: Camera, background: Tensor | None = None) -> RenderOutput:
        size = (camera.width, camera.height)
        if size not in renderers:
            renderers[size] = GLSplatRenderer(*size, ctx=ctx)
        return renderers[size].render(gaussians, camera, background)

    return splat_gl
