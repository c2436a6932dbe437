"""CI: the CPU kernels (cuda_ext/csrc/*.cpp) compiled by clang with the flags a Mac gets.

No macOS runner runs CI, so this compiles each source on Linux as close to Apple Silicon as a
Linux machine gets: clang, for arm64 (`--target aarch64-linux-gnu`: the code paths an M-series
Mac compiles, none of the x86 SIMD), against libc++ (Apple's C++ library, which includes less
transitively than GCC's), with the flags `_sources.compile_flags(..., platform="darwin")` gives
(`-Xpreprocessor -fopenmp`, libomp's omp.h) plus torch's own (-std=c++20, its headers) and
-Werror=vla (a GCC extension that MSVC lacks). Each object file must call the OpenMP runtime
(`__kmpc_fork_call`) where its source opens a parallel region: proof that `-Xpreprocessor
-fopenmp` really turned OpenMP on rather than the pragmas being ignored.

Not checked: Apple's own clang and SDK (Mach-O, the macOS headers), linking against libomp and
torch, running the kernels. `--target x86_64` compiles for this machine's processor instead (an
Intel Mac's paths; torch publishes no Intel macOS wheels any more, so CI does not run it).

    python .ci/clang_compile.py [--target aarch64|x86_64] [--jobs N] [SOURCE.cpp ...]

Debian packages: clang, libomp-dev, libc++-dev, libc++abi-dev, libc6-dev-arm64-cross (aarch64).
Exit status 0: every source compiled; 1: one failed (its compiler output is printed); 2: the
toolchain is incomplete (what is missing is named).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cuda_ext import _sources  # noqa: E402

TARGETS = {"aarch64": ["--target=aarch64-linux-gnu", "--sysroot=/usr/aarch64-linux-gnu"], "x86_64": []}
PACKAGES = {"aarch64": "libc6-dev-arm64-cross", "x86_64": "libc6-dev"}
PARALLEL_REGION = re.compile(r"^\s*#\s*pragma\s+omp\s+parallel\b", re.MULTILINE)
LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


class ToolchainMissing(Exception):
    """What this machine lacks to run the check (exit status 2)."""


def clang_tool() -> str:
    """$CLANG, else clang++ on PATH."""
    found = shutil.which(os.environ.get("CLANG", "clang++"))
    if found is None:
        raise ToolchainMissing("no clang++ on PATH (apt-get install clang, or set CLANG)")
    return found


def libomp_of(clang: str) -> _sources.LibOMP:
    """The libomp that ships with this clang (Debian's libomp-dev): omp.h in clang's resource
    folder, libomp.so beside clang's libraries; in the role Homebrew's libomp has on a Mac."""
    resource = subprocess.run([clang, "-print-resource-dir"], capture_output=True, text=True, check=True)
    include = Path(resource.stdout.strip()) / "include"
    if not (include / "omp.h").is_file():
        raise ToolchainMissing(f"no omp.h in {include} (apt-get install libomp-dev)")
    library = subprocess.run([clang, "-print-file-name=libomp.so"], capture_output=True, text=True, check=True)
    return _sources.LibOMP(include_dir=include, lib_dir=Path(library.stdout.strip()).parent)


def command(clang: str, target: str, libomp: _sources.LibOMP, source: Path, obj: Path) -> list[str]:
    """clang compiling `source` to `obj` as torch's builder would on a Mac (warnings as clang's
    defaults, VLAs an error)."""
    from torch.utils import cpp_extension

    macos = _sources.compile_flags("cpu", debug=False, platform="darwin", libomp=libomp)["cxx"]
    system = [*cpp_extension.include_paths(), sysconfig.get_paths()["include"]]
    return [
        clang,
        *TARGETS[target],
        "-stdlib=libc++",
        "-std=c++20",
        "-fPIC",
        *macos,
        "-Werror=vla",
        f"-I{_sources.INCLUDE_DIR}",
        *[f"-isystem{d}" for d in system],
        "-DTORCH_EXTENSION_NAME=_cpu",
        "-DTORCH_API_INCLUDE_EXTENSION_H",
        "-c",
        str(source),
        "-o",
        str(obj),
    ]


def check_toolchain(clang: str, target: str, libomp: _sources.LibOMP, scratch: Path) -> None:
    """A two-line source with the C++ and OpenMP headers compiles: otherwise the machine, not the
    kernels, is at fault."""
    probe = scratch / "probe.cpp"
    probe.write_text("#include <vector>\n#include <omp.h>\nint threads() { return omp_get_max_threads(); }\n")
    argv = [a for a in command(clang, target, libomp, probe, scratch / "probe.o") if not a.startswith("-isystem")]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise ToolchainMissing(
            f"clang cannot compile a probe for {target} with libc++ and omp.h (apt-get install "
            f"libc++-dev libc++abi-dev libomp-dev {PACKAGES[target]}):\n{done.stderr[-1500:]}"
        )


def opens_parallel_region(source: Path) -> bool:
    """`#pragma omp parallel` in the source or in a header of its own folder it includes."""
    texts = [source.read_text()]
    texts += [
        (source.parent / name).read_text()
        for name in LOCAL_INCLUDE.findall(texts[0])
        if (source.parent / name).is_file()
    ]
    return any(PARALLEL_REGION.search(t) for t in texts)


def compile_one(clang: str, target: str, libomp: _sources.LibOMP, source: Path, out: Path) -> tuple[bool, float, str]:
    """(passed, seconds, what went wrong or the compiler's warnings)."""
    obj = out / f"{source.stem}.o"
    started = time.monotonic()
    done = subprocess.run(command(clang, target, libomp, source, obj), capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        return False, seconds, done.stderr
    if opens_parallel_region(source) and b"__kmpc_fork_call" not in obj.read_bytes():
        return (
            False,
            seconds,
            "opens an OpenMP parallel region, but its object never calls __kmpc_fork_call: "
            "OpenMP was not enabled by -Xpreprocessor -fopenmp",
        )
    return True, seconds, done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", type=Path, help="default: every cuda_ext/csrc/*.cpp")
    parser.add_argument("--target", choices=sorted(TARGETS), default="aarch64")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    sources = [s.resolve() for s in args.sources] or _sources.sources("cpu")
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        print(f"clang_compile: no such source: {', '.join(missing)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="clang-compile-") as scratch:
        out = Path(scratch)
        try:
            clang = clang_tool()
            libomp = libomp_of(clang)
            check_toolchain(clang, args.target, libomp, out)
        except ToolchainMissing as e:
            print(f"clang_compile: {e}", file=sys.stderr)
            return 2
        version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        print(
            f"{version}; target {args.target}, libc++; the macOS flags: "
            f"{' '.join(_sources.compile_flags('cpu', False, 'darwin', libomp)['cxx'])}"
        )
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda s: compile_one(clang, args.target, libomp, s, out), sources))
    failed = 0
    for source, (passed, seconds, output) in zip(sources, results):
        warnings = output.count("warning:")
        print(
            f"{'ok    ' if passed else 'FAILED'} {source.name:28s} {seconds:5.1f} s"
            + (f"  ({warnings} warnings)" if passed and warnings else "")
        )
        if not passed:
            failed += 1
            print(output.rstrip()[-6000:])
    print(f"{len(sources) - failed}/{len(sources)} compiled in {time.monotonic() - started:.0f} s ({args.jobs} jobs)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
