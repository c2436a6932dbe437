"""The interactive viewer: the imgui-bundle + moderngl application and the OpenGL splatting
renderer (gl_splat.py, shaders in gl_shaders.py) for machines without CUDA.

May import avatar.*; avatar.* never imports viewer. Importing this package registers the `gl`
splat backend (viewer.gl_backend), so `avatar.render.splat(..., backend="gl")` works once it is
imported; `auto` never picks it.
"""

from viewer.gl_backend import register_gl_backend

register_gl_backend()
