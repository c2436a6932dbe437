"""Compiles cuda_ext at install time; the project metadata lives in pyproject.toml.

Install with `pip install --no-build-isolation ...` after torch: the modules compile against the
torch that is already installed (an isolated build environment would download another one).
- cuda_ext._cpu (every csrc/*.cpp, OpenMP) is always built; a failure fails the install. Its
  flags are the platform's (`_sources.compile_flags`): on macOS, Apple clang with Homebrew's
  libomp (`brew install libomp`; the install stops with that advice when it is missing).
- cuda_ext._cuda (every csrc/*.cu) is built when torch has CUDA and nvcc is found; if that
  fails, the install goes on and the module is compiled on first CUDA use instead.
Each built module gets a stamp (`_<kind>.build.json`: source hash, torch version, debug switch)
that the runtime loader compares before using it. MAX_JOBS, TORCH_CUDA_ARCH_LIST and
AVATAR_EXT_DEBUG=1 apply as for the just-in-time builds.
The training presets in configs/ (their source of truth) are copied into the package as
avatar/training/presets/ so that a regular install finds them; editable installs read configs/.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _load_sources_module():
    # By path: the package itself is not importable before it is installed.
    spec = importlib.util.spec_from_file_location("_cuda_ext_sources", ROOT / "cuda_ext" / "_sources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


try:
    import torch
    from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension
except ImportError as e:
    raise RuntimeError(
        "gaussian-head-avatar compiles its kernels against an installed torch: install torch first, "
        "then this project with `pip install --no-build-isolation ...` (see README)"
    ) from e

SOURCES = _load_sources_module()
DEBUG = SOURCES.debug_build()
CUDA_EXTENSION = "cuda_ext._cuda"


def _relative(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def _extensions() -> list:
    include = [str(SOURCES.INCLUDE_DIR)]
    try:
        cpu = SOURCES.compile_flags("cpu", DEBUG)  # this platform's compiler: GCC/clang, Apple clang + libomp, MSVC
    except SOURCES.OpenMPNotFound as e:  # macOS without libomp: one line saying what to install
        raise SystemExit(f"error: {e}") from None
    extensions = [
        CppExtension(
            "cuda_ext._cpu",
            _relative(SOURCES.sources("cpu")),
            include_dirs=include,
            extra_compile_args={"cxx": cpu["cxx"]},
            extra_link_args=cpu["ld"],
        )
    ]
    if torch.version.cuda is not None and CUDA_HOME is not None and SOURCES.sources("cuda"):
        cuda = SOURCES.compile_flags("cuda", DEBUG)
        extensions.append(
            CUDAExtension(
                CUDA_EXTENSION,
                _relative(SOURCES.sources("cuda")),
                include_dirs=include,
                extra_compile_args={"cxx": cuda["cxx"], "nvcc": cuda["nvcc"]},
                extra_link_args=cuda["ld"],
            )
        )
    return extensions


class BuildStampedExtensions(BuildExtension):
    """torch's builder, plus build stamps, and an optional (non-fatal) CUDA module."""

    def initialize_options(self) -> None:
        super().initialize_options()
        self.skipped: set[str] = set()  # extension names that failed but are optional
        self.stamps: dict[str, Path] = {}  # extension name -> stamp written next to its library

    def build_extensions(self) -> None:
        """torch refuses the whole build, the CPU module too, when nvcc's CUDA version differs from
        the one torch was built with: then the CUDA module is left to the first CUDA use."""
        try:
            super().build_extensions()
        except RuntimeError as e:
            if "mismatches the version that was used to compile" not in str(e) or not any(
                ext.name == CUDA_EXTENSION for ext in self.extensions
            ):
                raise
            print(
                f"warning: not building {CUDA_EXTENSION} ({e}); it will be compiled on first CUDA use", file=sys.stderr
            )
            self.skipped.add(CUDA_EXTENSION)
            all_extensions = self.extensions
            self.extensions = [ext for ext in all_extensions if ext.name != CUDA_EXTENSION]
            try:
                super().build_extensions()
            finally:
                self.extensions = all_extensions

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as e:  # any compiler/toolchain failure: the CUDA module can be built later
            if ext.name != CUDA_EXTENSION:
                raise
            print(f"warning: could not build {ext.name} ({e}); it will be compiled on first CUDA use", file=sys.stderr)
            self.skipped.add(ext.name)
            return
        kind = ext.name.rsplit("_", 1)[-1]
        stamp = Path(self.get_ext_fullpath(ext.name)).parent / f"_{kind}.build.json"
        SOURCES.write_stamp(stamp, SOURCES.build_stamp(kind, torch.__version__, DEBUG))
        self.stamps[ext.name] = stamp

    def copy_extensions_to_source(self) -> None:
        """Editable installs: the libraries and their stamps go next to the sources."""
        all_extensions = self.extensions
        self.extensions = [e for e in all_extensions if e.name not in self.skipped]
        try:
            super().copy_extensions_to_source()
        finally:
            self.extensions = all_extensions
        for stamp in self.stamps.values():
            shutil.copyfile(stamp, SOURCES.PACKAGE_DIR / stamp.name)

    def get_outputs(self) -> list[str]:
        skipped = {self.get_ext_fullpath(name) for name in self.skipped}
        return [o for o in super().get_outputs() if o not in skipped] + [str(s) for s in self.stamps.values()]


class BuildPyWithPresets(build_py):
    """The package as usual, plus a copy of configs/*.yaml in avatar/training/presets/."""

    PRESETS_IN_PACKAGE = Path("avatar", "training", "presets")

    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install reads configs/ in the checkout itself
            for source, target in self._preset_copies():
                self.mkpath(str(target.parent))
                self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        copies = [] if self.editable_mode else [str(target) for _, target in self._preset_copies()]
        return super().get_outputs(include_bytecode) + copies

    def _preset_copies(self) -> list[tuple[Path, Path]]:
        target_dir = Path(self.build_lib) / self.PRESETS_IN_PACKAGE
        return [(source, target_dir / source.name) for source in sorted((ROOT / "configs").glob("*.yaml"))]


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildStampedExtensions, "build_py": BuildPyWithPresets})
