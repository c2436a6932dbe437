"""The one error of this package: a compiled module cannot be had here, and why."""


class ExtensionUnavailable(RuntimeError):
    """A cuda_ext module cannot be built or loaded (no compiler, no CUDA device, build error...).

    The message says why and, for build errors, where the compiler log is.
    """
