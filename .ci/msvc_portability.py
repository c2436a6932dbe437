"""CI: what in the CPU kernels' sources Microsoft's compiler (cl with /openmp) cannot take.

No Windows runner runs CI and no compiler on Linux checks MSVC's limits, so this reads the sources
the CPU module compiles (cuda_ext/csrc/*.cpp, csrc/*.h, include/*.h) and lists, by file and line:

- OpenMP beyond 2.0, the version cl's /openmp implements: directives other than 2.0's (`simd`,
  `task`, `taskloop`, `target`, ...), clauses other than 2.0's (`collapse`, `aligned`, ...),
  `reduction(min|max: ...)`, `schedule(auto)`, a `for` under `omp for` whose index is not a
  signed integer (size_t, unsigned, auto, a range-for) or whose test is `!=`, and omp_* functions
  that 2.0 does not have;
- GCC/clang extensions that cl has no syntax for: `__attribute__((...))` (vector_size, target,
  always_inline, flatten, ...), `__builtin_*`, `__restrict__`, `__int128`, `typeof`,
  `__PRETTY_FUNCTION__`, `__sync_*` / `__atomic_*`. VLAs are clang's -Werror=vla in
  .ci/clang_compile.py.

Only code cl would compile counts: `#if` blocks are evaluated with the macros cl on x64 defines
(_MSC_VER, _WIN32, _WIN64, _M_X64, _OPENMP) and those it does not (__GNUC__, __clang__,
__x86_64__, __SSE2__, __CUDACC__, ...); a condition on any other macro counts as compiled.
Comments and string literals are ignored.

    python .ci/msvc_portability.py [--report] [PATH ...]     (default: cuda_ext's CPU sources)

Exit status 0: nothing found, or --report (list and go on); 1: something found; 2: a PATH is
missing. clang-cl (LLVM's cl-compatible driver) takes every GCC extension above and full OpenMP;
this check is about cl itself.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIRS = (REPO / "cuda_ext" / "csrc", REPO / "cuda_ext" / "include")
SUFFIXES = (".cpp", ".h")

# What cl on x64 defines (1) and does not (0); any other macro in an #if is unknown: compiled.
MSVC_MACROS = {name: 1 for name in ("_MSC_VER", "_WIN32", "_WIN64", "_M_X64", "_M_AMD64", "_OPENMP", "__cplusplus")}
MSVC_MACROS |= {
    name: 0
    for name in (
        "__GNUC__",
        "__clang__",
        "__x86_64__",
        "__amd64__",
        "__i386__",
        "__SSE__",
        "__SSE2__",
        "__AVX__",
        "__AVX2__",
        "__FMA__",
        "__AVX512F__",
        "__CUDACC__",
        "__CUDA_ARCH__",
        "__HIPCC__",
        "__aarch64__",
        "__ARM_NEON",
        "__APPLE__",
        "__linux__",
        "__unix__",
    )
}

OMP20_DIRECTIVES = {
    "parallel",
    "for",
    "sections",
    "section",
    "single",
    "master",
    "critical",
    "barrier",
    "atomic",
    "flush",
    "ordered",
    "threadprivate",
}
OMP20_CLAUSES = {
    "private",
    "firstprivate",
    "lastprivate",
    "shared",
    "default",
    "reduction",
    "copyin",
    "copyprivate",
    "if",
    "num_threads",
    "schedule",
    "ordered",
    "nowait",
}
OMP20_REDUCTIONS = {"+", "*", "-", "&", "|", "^", "&&", "||"}
OMP20_SCHEDULES = {"static", "dynamic", "guided", "runtime"}
OMP20_FUNCTIONS = {
    "omp_set_num_threads",
    "omp_get_num_threads",
    "omp_get_max_threads",
    "omp_get_thread_num",
    "omp_get_num_procs",
    "omp_in_parallel",
    "omp_set_dynamic",
    "omp_get_dynamic",
    "omp_set_nested",
    "omp_get_nested",
    "omp_init_lock",
    "omp_destroy_lock",
    "omp_set_lock",
    "omp_unset_lock",
    "omp_test_lock",
    "omp_init_nest_lock",
    "omp_destroy_nest_lock",
    "omp_set_nest_lock",
    "omp_unset_nest_lock",
    "omp_test_nest_lock",
    "omp_get_wtime",
    "omp_get_wtick",
}
SIGNED_INDEX = re.compile(
    r"^\s*(const\s+)?(int|long|long\s+long|short|signed|int(8|16|32|64)_t|std::int(8|16|32|64)_t|"
    r"ptrdiff_t|std::ptrdiff_t|ssize_t|Py_ssize_t)\s+\w+\s*="
)
GCC_PATTERNS = (
    (re.compile(r"__attribute__\s*\(\(\s*(\w+)"), "__attribute__(({}))", "cl has no GCC attributes"),
    (re.compile(r"\b(__builtin_\w+)"), "{}", "a GCC/clang builtin: cl has none (intrinsics instead)"),
    (re.compile(r"\b(__restrict__)\b"), "{}", "cl spells it __restrict"),
    (re.compile(r"\b(__int128|unsigned\s+__int128)\b"), "{}", "cl has no 128-bit integer"),
    (re.compile(r"\b(typeof|__typeof__)\s*\("), "{}", "cl has no typeof (decltype)"),
    (re.compile(r"\b(__PRETTY_FUNCTION__)\b"), "{}", "cl has __FUNCSIG__"),
    (re.compile(r"\b(__sync_\w+|__atomic_\w+)\s*\("), "{}", "GCC's atomics: cl has std::atomic / _Interlocked*"),
)


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str  # "openmp" | "gcc"
    construct: str
    why: str

    def __str__(self) -> str:
        return f"{_shown(self.path)}:{self.line}: {self.kind}: {self.construct}: {self.why}"


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def strip_comments_and_strings(text: str) -> str:
    """Comments and string/char literals blanked out (newlines kept, so line numbers hold)."""

    def blank(match: re.Match) -> str:
        token = match.group(0)
        if token.startswith("/"):
            return re.sub(r"[^\n]", " ", token)
        return token[0] + re.sub(r"[^\n]", " ", token[1:-1]) + token[-1]

    return re.sub(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', blank, text, flags=re.DOTALL)


def evaluate(condition: str) -> bool | None:
    """An #if condition with cl's macros: True / False, or None when it depends on a macro whose
    value this does not know (any macro but those cl surely leaves undefined, outside defined())."""
    unknown = False

    def defined(match: re.Match) -> str:
        nonlocal unknown
        name = match.group(1) or match.group(2)
        unknown = unknown or name not in MSVC_MACROS
        return str(MSVC_MACROS.get(name, 0))

    def value(match: re.Match) -> str:  # an undefined macro is 0 in #if; a defined one's value is not known
        nonlocal unknown
        unknown = unknown or MSVC_MACROS.get(match.group(0)) != 0
        return "0"

    expression = re.sub(r"\bdefined\s*\(\s*(\w+)\s*\)|\bdefined\s+(\w+)", defined, condition)
    expression = re.sub(r"\b[A-Za-z_]\w*\b", value, expression)
    if unknown:
        return None
    expression = re.sub(r"!(?!=)", " not ", expression.replace("&&", " and ").replace("||", " or "))
    try:
        return bool(eval(expression, {"__builtins__": {}}, {}))  # numbers, operators, and/or/not only
    except Exception:  # noqa: BLE001 - an expression this reader does not follow: treated as compiled
        return None


def _either(a: bool | None, b: bool | None) -> bool | None:
    """Three-valued or: True if one surely holds, None if one may, False if neither."""
    return True if True in (a, b) else None if None in (a, b) else False


def compiled_lines(text: str) -> list[tuple[int, str]]:
    """(line number, logical line) for the lines cl would compile: backslash continuations
    joined, the #if branches that are false for cl left out."""
    lines = text.split("\n")
    out: list[tuple[int, str]] = []
    stack: list[list] = []  # per open #if: [this branch compiles, some earlier branch did] (True/None/False)
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        directive = re.match(r"\s*#\s*(\w+)\s*(.*)", line)
        word, rest = (directive.group(1), directive.group(2).strip()) if directive else ("", "")
        if word in ("if", "ifdef", "ifndef"):
            taken = evaluate({"if": rest, "ifdef": f"defined({rest})", "ifndef": f"!defined({rest})"}[word])
            stack.append([taken, taken])
        elif word in ("elif", "else") and stack:
            earlier = stack[-1][1]
            taken = True if word == "else" else evaluate(rest)
            if earlier is True or taken is False:
                stack[-1][0] = False
            else:  # an earlier branch may have compiled: then this one only may
                stack[-1][0] = None if earlier is None else taken
            stack[-1][1] = _either(earlier, taken)
        elif word == "endif" and stack:
            stack.pop()
        elif all(branch[0] is not False for branch in stack):
            out.append((number, line))
    return out


def openmp_findings(path: Path, lines: list[tuple[int, str]]) -> list[Finding]:
    found: list[Finding] = []

    def add(number: int, construct: str, why: str) -> None:
        found.append(Finding(path, number, "openmp", construct, why))

    for k, (number, line) in enumerate(lines):
        pragma = re.match(r"\s*#\s*pragma\s+omp\s+(.*)", line)
        if pragma:
            tokens = re.findall(r"([a-z_]+)\s*(?:\(([^)]*)\))?", pragma.group(1))
            directive = []  # the leading bare words: `parallel for`, `simd`, ...
            while tokens and not tokens[0][1] and (not directive or tokens[0][0] not in OMP20_CLAUSES):
                directive.append(tokens.pop(0)[0])
            unknown = [w for w in directive if w not in OMP20_DIRECTIVES]
            if unknown:
                add(
                    number,
                    f"omp {' '.join(directive)}",
                    f"'{unknown[0]}' is not an OpenMP 2.0 directive (cl: /openmp:experimental or /openmp:llvm)",
                )
            for name, argument in tokens:
                head = argument.split(":")[0].split(",")[0].strip()
                if name not in OMP20_CLAUSES:
                    add(number, f"{name}({argument})" if argument else name, "not an OpenMP 2.0 clause")
                elif name == "reduction" and head not in OMP20_REDUCTIONS:
                    add(number, f"reduction({head}: ...)", "OpenMP 2.0 reduces with + * - & | ^ && || only")
                elif name == "schedule" and head not in OMP20_SCHEDULES:
                    add(number, f"schedule({argument})", "OpenMP 2.0 schedules: static, dynamic, guided, runtime")
            if "for" in directive:
                found += _loop_findings(path, lines[k + 1 : k + 4])
        for name in re.findall(r"\b(omp_\w+)\s*\(", line):
            if name not in OMP20_FUNCTIONS:
                add(number, f"{name}()", "not an OpenMP 2.0 function")
    return found


def _loop_findings(path: Path, following: list[tuple[int, str]]) -> list[Finding]:
    """The for statement under an `omp for`: a signed integer index, tested with < <= > >=."""
    for number, line in following:
        loop = re.match(r"\s*for\s*\((.*)", line)
        if not loop:
            continue
        header = loop.group(1)
        init, _, rest = header.partition(";")
        if not _ and ":" in init:
            return [Finding(path, number, "openmp", "range-for under omp for", "OpenMP 2.0 needs a counted loop")]
        found = []
        if not SIGNED_INDEX.match(init):
            found.append(
                Finding(
                    path,
                    number,
                    "openmp",
                    f"for ({init.strip()}; ...)",
                    "cl's /openmp needs a signed integer loop index declared as int/int64_t/...",
                )
            )
        if "!=" in rest.partition(";")[0]:
            found.append(Finding(path, number, "openmp", "loop test !=", "OpenMP 2.0 tests with < <= > >="))
        return found
    return []


def gcc_findings(path: Path, lines: list[tuple[int, str]]) -> list[Finding]:
    found = []
    for number, line in lines:
        for pattern, shown, why in GCC_PATTERNS:
            for match in pattern.finditer(line):
                found.append(Finding(path, number, "gcc", shown.format(match.group(1)), why))
    return found


def scan(path: Path) -> list[Finding]:
    lines = compiled_lines(strip_comments_and_strings(path.read_text()))
    return openmp_findings(path, lines) + gcc_findings(path, lines)


def sources(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        files += sorted(p for p in path.iterdir() if p.suffix in SUFFIXES) if path.is_dir() else [path]
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: cuda_ext/csrc, include)")
    parser.add_argument("--report", action="store_true", help="list what is found and exit 0")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.paths] or list(DEFAULT_DIRS)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"msvc_portability: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = sources(paths)
    findings = sorted((f for path in files for f in scan(path)), key=lambda f: (str(f.path), f.line))
    for finding in findings:
        print(finding)
    by_kind = Counter(f.kind for f in findings)
    by_construct = Counter((f.kind, f.construct) for f in findings)
    print(
        f"\n{len(files)} files: {by_kind['openmp']} OpenMP constructs beyond 2.0, {by_kind['gcc']} GCC/clang "
        f"extensions that cl lacks, in {len({f.path for f in findings})} files"
    )
    for (kind, construct), count in by_construct.most_common():
        print(f"  {count:4d}  {kind:6s} {construct}")
    return 0 if args.report or not findings else 1


if __name__ == "__main__":
    sys.exit(main())
