"""The two CI checks of the CPU kernels for the platforms no CI runner has (.ci/run's steps):
.ci/clang_compile.py (clang, arm64, libc++ and the macOS flags; skips without clang and its
packages) and .ci/msvc_portability.py (what Microsoft's cl with /openmp cannot take). Each is shown
to pass on the kernels, or to list what it finds there, and to fail on a source written to fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cuda_ext import _sources

CI = Path(__file__).resolve().parents[1] / ".ci"


def _run(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(CI / script), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


# --------------------------------------------------------------------------------------------------
# clang with the macOS flags


def _clang_missing() -> str | None:
    if shutil.which(os.environ.get("CLANG", "clang++")) is None:
        return "clang++ is not installed (apt-get install clang libomp-dev libc++-dev libc++abi-dev)"
    if not Path("/usr/aarch64-linux-gnu/include/stdio.h").is_file():
        return "no arm64 C library headers (apt-get install libc6-dev-arm64-cross)"
    return None


needs_clang = pytest.mark.skipif(_clang_missing() is not None, reason=_clang_missing() or "")


@pytest.fixture(scope="module")
def toolchain():
    """Skip (with what is missing) where the script finds the toolchain incomplete."""
    probe = _run("clang_compile.py", str(_sources.CSRC_DIR / "image_cpu.cpp"), timeout=300)
    if probe.returncode == 2:
        pytest.skip(probe.stderr.strip()[-500:])
    return probe


@needs_clang
def test_a_kernel_compiles_for_arm64_with_the_macos_flags(toolchain):
    assert toolchain.returncode == 0, toolchain.stdout + toolchain.stderr
    assert "-Xpreprocessor -fopenmp" in toolchain.stdout and "target aarch64" in toolchain.stdout
    assert "1/1 compiled" in toolchain.stdout


@needs_clang
def test_a_broken_source_fails_the_check(toolchain, tmp_path):
    broken = tmp_path / "broken_cpu.cpp"
    broken.write_text("#include <vector>\nint f() { return undeclared_name; }\n")
    done = _run("clang_compile.py", str(broken))
    assert done.returncode == 1 and "undeclared_name" in done.stdout


@needs_clang
def test_a_vla_fails_the_check(toolchain, tmp_path):
    """A variable-length array (a GCC extension; cl has none) is an error, not a warning."""
    vla = tmp_path / "vla_cpu.cpp"
    vla.write_text("int f(int n) { float scratch[n]; scratch[0] = 1; return int(scratch[0]); }\n")
    done = _run("clang_compile.py", str(vla))
    assert done.returncode == 1 and "-Werror,-Wvla" in done.stdout


@needs_clang
def test_a_parallel_region_that_openmp_never_saw_fails_the_check(toolchain, tmp_path):
    """The object must call the OpenMP runtime where the source opens a parallel region: here the
    pragma sits under a macro nothing defines, so no runtime call is compiled."""
    hidden = tmp_path / "hidden_cpu.cpp"
    hidden.write_text(
        "void f(float* x, int n) {\n#ifdef NEVER_DEFINED\n#pragma omp parallel for\n#endif\n"
        "  for (int i = 0; i < n; ++i) x[i] = 0;\n}\n"
    )
    done = _run("clang_compile.py", str(hidden))
    assert done.returncode == 1 and "__kmpc_fork_call" in done.stdout


# --------------------------------------------------------------------------------------------------
# What MSVC's cl cannot take


def test_the_kernels_report_lists_omp_simd_and_the_vector_extensions():
    """What is there today (.ci/run prints it with --report): `omp simd` (OpenMP 4.0) and the GCC
    vector extensions of the SIMD lanes; the x86-only code is not counted (cl does not define
    __x86_64__)."""
    done = _run("msvc_portability.py", "--report")
    assert done.returncode == 0, done.stderr
    assert "blend_cpu.cpp:128: openmp: omp simd" in done.stdout
    assert "splat_lanes.h:25: gcc: __attribute__((vector_size))" in done.stdout
    assert "avx2" not in done.stdout  # target("avx2,fma") functions sit under #if defined(__x86_64__)
    assert _run("msvc_portability.py").returncode == 1  # without --report it fails on them


def _check(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    path = tmp_path / "sample.cpp"
    path.write_text(source)
    return _run("msvc_portability.py", str(path))


def test_openmp_beyond_2_0_is_found(tmp_path):
    done = _check(
        tmp_path,
        """
void f(float* x, int n, size_t m) {
#pragma omp parallel for collapse(2) schedule(auto)
  for (int i = 0; i < n; ++i) x[i] = 0;
#pragma omp parallel for reduction(max : best)
  for (size_t i = 0; i < m; ++i) x[i] = 1;
#pragma omp parallel for
  for (int i = 0; i != n; ++i) x[i] = 2;
#pragma omp task
  { x[0] = omp_get_level(); }
}
""",
    )
    assert done.returncode == 1
    for line, construct in (
        (3, "collapse(2)"),
        (3, "schedule(auto)"),
        (5, "reduction(max: ...)"),
        (6, "for (size_t i = 0"),
        (8, "loop test !="),
        (9, "omp task"),
        (10, "omp_get_level()"),
    ):
        assert f"sample.cpp:{line}: openmp: {construct}" in done.stdout, construct


def test_openmp_2_0_passes(tmp_path):
    done = _check(
        tmp_path,
        """
void f(float* x, long long n) {
  double total = 0;
#pragma omp parallel for schedule(dynamic, 2) num_threads(4) reduction(+ : total)
  for (long long i = 0; i < n; ++i) total += x[i];
#pragma omp parallel
  {
    const int thread = omp_get_thread_num();
#pragma omp for schedule(static) nowait
    for (int64_t i = thread; i < n; ++i) x[i] = 0;
#pragma omp critical
    x[0] += 1;
  }
}
""",
    )
    assert done.returncode == 0, done.stdout


def test_gcc_extensions_are_found_outside_comments_and_strings(tmp_path):
    done = _check(
        tmp_path,
        """
// __builtin_in_a_comment and __attribute__((in_a_comment)) do not count
const char* s = "__builtin_in_a_string";
typedef float f32x4 __attribute__((vector_size(16)));
inline int lowest(unsigned long long b) { return __builtin_ctzll(b); }
void g(float* __restrict__ p);
""",
    )
    assert done.returncode == 1
    assert "sample.cpp:4: gcc: __attribute__((vector_size))" in done.stdout
    assert "sample.cpp:5: gcc: __builtin_ctzll" in done.stdout
    assert "sample.cpp:6: gcc: __restrict__" in done.stdout
    assert "comment" not in done.stdout and "in_a_string" not in done.stdout


def test_only_what_cl_compiles_counts(tmp_path):
    """#if blocks evaluated with cl's macros: the GCC-only and CUDA-only branches are left out,
    _MSC_VER's branch and those on unknown macros count."""
    done = _check(
        tmp_path,
        """
#if defined(__x86_64__) && !defined(_MSC_VER)
inline int a() { return __builtin_gcc_x86(); }
#elif defined(_MSC_VER)
inline int b() { return __builtin_msvc_branch(); }
#else
inline int c() { return __builtin_never(); }
#endif
#ifdef __CUDACC__
#define HD __host__ __device__
#else
#define HD inline __attribute__((always_inline))
#endif
#ifndef __GNUC__
int d() { return __builtin_not_gnu(); }
#endif
#if SOME_PROJECT_SWITCH
int e() { return __builtin_unknown_switch(); }
#else
int f() { return __builtin_unknown_else(); }
#endif
""",
    )
    found = {line.split(": ")[2] for line in done.stdout.splitlines() if "sample.cpp:" in line}
    assert found == {
        "__builtin_msvc_branch",
        "__attribute__((always_inline))",
        "__builtin_not_gnu",
        "__builtin_unknown_switch",
        "__builtin_unknown_else",
    }


def test_a_missing_path_is_exit_status_2(tmp_path):
    done = _run("msvc_portability.py", str(tmp_path / "nothing.cpp"))
    assert done.returncode == 2 and "nothing.cpp" in done.stderr
