"""The CPU module's compiler flags on each platform, from `_sources.compile_flags` (a pure function
of the platform once libomp is given): GCC's on Linux, Apple clang's with libomp on macOS, MSVC's
on Windows; and the one clear error on a Mac without libomp, at install (setup.py) and at the
just-in-time build (cuda_ext.build). Whether clang compiles the kernels with the macOS flags is
tests/test_clang_compile.py; whether the sources suit MSVC is .ci/msvc_portability.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from cuda_ext import _sources, build
from cuda_ext.errors import ExtensionUnavailable

LIBOMP = _sources.LibOMP(include_dir=Path("/opt/homebrew/opt/libomp/include"), lib_dir=Path("/torch/lib"))


@pytest.mark.parametrize(
    "platform, family", [("linux", "gnu"), ("freebsd14", "gnu"), ("darwin", "apple-clang"), ("win32", "msvc")]
)
def test_each_platform_gets_its_compiler_family(platform, family):
    assert _sources.toolchain(platform) == family


@pytest.mark.parametrize("debug", [False, True])
def test_linux_keeps_gccs_openmp(debug):
    flags = _sources.compile_flags("cpu", debug, platform="linux")
    assert flags["cxx"] == (["-O0", "-g"] if debug else ["-O3", "-g0"]) + ["-fopenmp"]
    assert flags["ld"] == ["-fopenmp"]


@pytest.mark.parametrize("debug", [False, True])
def test_macos_passes_openmp_to_the_preprocessor_and_links_libomp(debug):
    flags = _sources.compile_flags("cpu", debug, platform="darwin", libomp=LIBOMP)
    cxx = flags["cxx"]
    assert cxx[:2] == (["-O0", "-g"] if debug else ["-O3", "-g0"])
    # Apple's driver refuses a bare -fopenmp: it must reach the compiler through -Xpreprocessor.
    openmp = [i for i, flag in enumerate(cxx) if flag == "-fopenmp"]
    assert openmp and all(cxx[i - 1] == "-Xpreprocessor" for i in openmp)
    assert "-I/opt/homebrew/opt/libomp/include" in cxx
    assert flags["ld"] == ["-L/torch/lib", "-lomp", "-Wl,-rpath,/torch/lib"]
    assert "-fopenmp" not in flags["ld"]


@pytest.mark.parametrize("debug", [False, True])
def test_windows_gets_msvc_flags_only(debug):
    flags = _sources.compile_flags("cpu", debug, platform="win32")
    assert "/openmp" in flags["cxx"]
    assert ("/Od" in flags["cxx"]) == debug and ("/O2" in flags["cxx"]) == (not debug)
    assert not [f for f in flags["cxx"] + flags["ld"] if f.startswith("-")], "a GCC-style flag reached cl / link"


def test_the_cuda_module_takes_no_openmp_and_needs_no_libomp():
    for platform in ("linux", "darwin", "win32"):
        flags = _sources.compile_flags("cuda", False, platform=platform)  # darwin: find_libomp is not asked
        assert not [f for f in flags["cxx"] + flags["ld"] if "openmp" in f or f == "-lomp"], platform
        assert flags["nvcc"] == ["-O3", "-lineinfo"]


def _prefix(root: Path, dylib: bool = True) -> Path:
    (root / "include").mkdir(parents=True)
    (root / "include" / "omp.h").write_text("")
    (root / "lib").mkdir()
    if dylib:
        (root / "lib" / "libomp.dylib").write_text("")
    return root


def test_libomp_is_found_in_the_first_prefix_with_its_header(tmp_path):
    empty, brew = tmp_path / "empty", _prefix(tmp_path / "brew")
    found = _sources.find_libomp(prefixes=(empty, brew), torch_lib=tmp_path / "no-torch-lib")
    assert found == _sources.LibOMP(brew / "include", brew / "lib")


def test_torchs_own_libomp_is_linked_when_torch_ships_one(tmp_path):
    """One OpenMP runtime per process: the kernels link the libomp torch itself loads."""
    brew = _prefix(tmp_path / "brew")
    torch_lib = tmp_path / "torch" / "lib"
    torch_lib.mkdir(parents=True)
    (torch_lib / "libomp.dylib").write_text("")
    assert _sources.find_libomp(prefixes=(brew,), torch_lib=torch_lib) == _sources.LibOMP(brew / "include", torch_lib)


def test_omp_prefix_comes_first(tmp_path, monkeypatch):
    own = _prefix(tmp_path / "own")
    monkeypatch.setenv("OMP_PREFIX", str(own))
    monkeypatch.setattr(_sources, "HOMEBREW_LIBOMP", ())
    monkeypatch.setattr(_sources, "_brew_prefix", lambda formula: None)
    assert _sources.find_libomp(torch_lib=tmp_path / "none").include_dir == own / "include"


def test_no_libomp_is_one_error_naming_brew_install(tmp_path):
    with pytest.raises(_sources.OpenMPNotFound, match="brew install libomp") as raised:
        _sources.find_libomp(prefixes=(tmp_path / "a", tmp_path / "b"), torch_lib=tmp_path)
    assert str(tmp_path / "a") in str(raised.value)


def _no_libomp_on_a_mac(monkeypatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(_sources, "HOMEBREW_LIBOMP", ())
    monkeypatch.setattr(_sources, "_brew_prefix", lambda formula: None)
    monkeypatch.delenv("OMP_PREFIX", raising=False)


def test_the_just_in_time_build_reports_a_missing_libomp_as_unavailable(tmp_path, monkeypatch):
    """On a Mac without libomp, `cuda_ext.load` says what to install (ExtensionUnavailable), no traceback."""
    monkeypatch.setenv("AVATAR_EXT_CACHE", str(tmp_path / "cache"))
    stamp = _sources.build_stamp("cpu", torch.__version__, False)
    _no_libomp_on_a_mac(monkeypatch)
    with pytest.raises(ExtensionUnavailable, match="brew install libomp"):
        build.build_library("cpu", stamp)


@pytest.mark.skipif(sys.platform == "darwin", reason="setup.py loads its own copy of _sources: a real libomp here")
def test_setup_py_stops_with_the_advice(monkeypatch):
    """The install's setup.py turns it into one line (SystemExit), not a traceback."""
    import runpy

    # What setup.py imports, imported before sys.platform says darwin (sysconfig would look for a Mac's data).
    import setuptools.command.build_py  # noqa: F401
    from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension  # noqa: F401

    _no_libomp_on_a_mac(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["setup.py", "--version"])
    with pytest.raises(SystemExit) as raised:
        runpy.run_path(str(Path(_sources.PACKAGE_DIR).parent / "setup.py"))
    assert str(raised.value).startswith("error: ") and "brew install libomp" in str(raised.value)
