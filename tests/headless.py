"""What a headless `avatar view` test needs here: the viewer's packages and Xvfb."""

import shutil


def viewer_missing(*extra_modules: str) -> str | None:
    """Why the viewer cannot run headless on this machine, or None."""
    for module in ("imgui_bundle", "moderngl", *extra_modules):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed"
    if shutil.which("xvfb-run") is None:
        return "xvfb-run is not installed (apt-get install -y xvfb)"
    return None
