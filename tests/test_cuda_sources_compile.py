"""The CUDA sources compile with nvcc, also on a machine with no GPU and a CPU-only torch.

No GPU runs CI, so without this a `.cu` file could stop compiling and nobody would know until a user
with a GPU installed the package. This compiles each one to an object file for the H100/H200
(sm_90) with the flags torch's extension builder uses; it cannot link or run them (a CPU torch has
no CUDA libraries). It skips where nvcc is not installed.
"""

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
from torch.utils import cpp_extension

from cuda_ext import _sources

NVCC = shutil.which("nvcc")
ARCH = "sm_90"
# A CUDA torch generates this header at its build; a CPU torch ships the headers that include it
# without it. What it defines only matters for linking torch's own CUDA library.
CMAKE_MACROS = "c10/cuda/impl/cuda_cmake_macros.h"


def _include_dirs(stand_in: Path) -> list[str]:
    torch_includes = cpp_extension.include_paths()
    dirs = [str(_sources.INCLUDE_DIR), str(_sources.CSRC_DIR), *torch_includes, sysconfig.get_paths()["include"]]
    if not (Path(torch_includes[0]) / CMAKE_MACROS).is_file():
        header = stand_in / CMAKE_MACROS
        header.parent.mkdir(parents=True)
        header.write_text("#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n")
        dirs.append(str(stand_in))
    return dirs


def _nvcc_command(source: Path, out_dir: Path, includes: list[str]) -> list[str]:
    """nvcc compiling source to out_dir/<stem>.o as torch's extension builder would (warnings off)."""
    return [NVCC, "-c", str(source), "-o", str(out_dir / f"{source.stem}.o"), "-std=c++20", f"-arch={ARCH}",
            *_sources.compile_flags("cuda", debug=False)["nvcc"], *cpp_extension.COMMON_NVCC_FLAGS,
            *[f"-I{d}" for d in includes], "-DTORCH_EXTENSION_NAME=_cuda", "-DTORCH_API_INCLUDE_EXTENSION_H",
            "-Xcompiler", "-fPIC", "-w"]


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
def test_every_cuda_source_compiles_for_sm90(tmp_path):
    sources = _sources.sources("cuda")
    assert sources, f"no .cu files in {_sources.CSRC_DIR}"
    includes = _include_dirs(tmp_path / "stand_in")
    jobs = {source.name: subprocess.Popen(_nvcc_command(source, tmp_path, includes), stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True)
            for source in sources}
    failures = {}
    for name, job in jobs.items():
        output, _ = job.communicate(timeout=900)
        if job.returncode != 0:
            failures[name] = output[-4000:]
    assert not failures, "nvcc failed:\n" + "\n".join(f"--- {n}\n{o}" for n, o in failures.items())
    for source in sources:
        assert (tmp_path / f"{source.stem}.o").stat().st_size > 0, source.name


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
def test_a_broken_cuda_source_fails_the_check(tmp_path):
    """The check above can fail: the same command on a .cu with a type error exits non-zero."""
    broken = tmp_path / "broken.cu"
    broken.write_text('#include "common.h"\n__global__ void k(float* x) { x[0] = undeclared_name; }\n')
    command = _nvcc_command(broken, tmp_path, _include_dirs(tmp_path / "stand_in"))
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "undeclared_name" in done.stdout + done.stderr
