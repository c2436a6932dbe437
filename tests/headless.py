"""What a headless `avatar view` test needs here: the viewer's packages and Xvfb."""

import shutil
import sys

# The screen every headless viewer test opens its window on.
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1024x768x24"]


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


def xvfb_avatar(*args: str) -> list[str]:
    """The command line of `avatar ARGS` (`avatar view ...`) under Xvfb, with this interpreter."""
    return [*XVFB, sys.executable, "-m", "avatar.cli", *args]
