"""The `gl` splat backend: OpenGL 3.3 through moderngl, splatting straight into the window.

    backend.py    the backend as the registry sees it (headless EGL or the window's context)
    splat.py      `GLSplatRenderer`: preprocess on the GPU, one instanced quad per Gaussian
    shaders.py    its GLSL
    cut.py        the cut below the head drawn over the window
    bench.py      its timings for `avatar bench`
"""
