"""The interactive viewer: the imgui-bundle + moderngl application and the OpenGL splatting
renderer (gl_splat.py, shaders in gl_shaders.py) for machines without CUDA.

May import avatar.*; avatar.* never imports viewer. Importing this package does nothing else:
`avatar --help` loads the `view` command (viewer.commands) without loading torch. The `gl` splat
backend is registered by `viewer.gl.backend.register_gl_backend()`, which the viewer's launch
calls; `auto` never picks it.
"""
