"""Writes tests/INDEX.md: each library module (avatar, capture, viewer, cuda_ext) and the test
files that import it, then the modules no test imports.

    python tools/test_index.py          # (re)write tests/INDEX.md
    python tools/test_index.py --check  # exit 1, with a diff, when tests/INDEX.md is out of date

What counts as "imports": every import statement of a test file, also those inside functions
(`import a.b`, `from a.b import c`, and the constant names of `importlib.import_module(...)` and
`pytest.importorskip(...)`). `from a.b import c` counts for a.b, and for a.b.c when that is a
module; a name a package's __init__ re-exports counts for the package and for the module it
comes from (`from avatar.gaussians import GaussianAvatar` tests avatar.gaussians.model). A test that imports a helper of tests/ (tiny_rig.py, ...) is credited with what that
helper imports; conftest.py is listed as its own entry (its fixtures are used by name, not
imported). tests/test_index.py fails when the committed file differs from what this writes.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("avatar", "capture", "viewer", "cuda_ext")
INDEX = Path("tests") / "INDEX.md"
_IMPORT_CALLS = {"import_module", "importorskip"}


def library_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file of every module of PACKAGES (a package is its __init__.py)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_names(source: str, filename: str = "<test>") -> set[str]:
    """Every dotted name `source` imports, anywhere in it (see the module's docstring)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in _IMPORT_CALLS:
                names.add(node.args[0].value)
    return names


def has_code(path: Path) -> bool:
    """Whether the module holds anything besides its docstring (and `from __future__` imports):
    a package whose __init__ only describes its modules has nothing a test could import."""
    body = ast.parse(path.read_text(encoding="utf-8"), str(path)).body
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        for node in body
    )


def reexports(modules: dict[str, Path]) -> dict[str, str]:
    """'package.name' -> the module a package's __init__ imports `name` from, for every package."""
    found = {}
    for package, path in modules.items():
        if path.name != "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module in modules:
                for alias in node.names:
                    found[f"{package}.{alias.asname or alias.name}"] = node.module
    return found


def modules_of(names: set[str], modules: dict[str, Path], exported: dict[str, str] | None = None) -> set[str]:
    """The library modules among `names` (`from a import b` gave a and a.b; a.b counts where it
    is a module, or where a's __init__ re-exports b from a module: that module counts)."""
    exported = exported or {}
    found = set()
    for name in names:
        while name not in modules and name in exported:  # a re-export of a re-export: to its source
            name = exported[name]
            found.add(name)
        if name in modules:
            found.add(name)
    return found


def test_files(root: Path = ROOT) -> dict[str, Path]:
    """tests/ file name -> path of every test file (test_*.py) and conftest.py."""
    tests = root / "tests"
    files = {p.name: p for p in sorted(tests.glob("test_*.py"))}
    if (tests / "conftest.py").is_file():
        files["conftest.py"] = tests / "conftest.py"
    return files


def build_index(root: Path = ROOT) -> tuple[dict[str, list[str]], list[str]]:
    """module -> sorted test files that import it (directly or through a tests/ helper), and the
    modules none imports."""
    modules = library_modules(root)
    tests_dir = root / "tests"
    helpers = {p.stem: p for p in tests_dir.glob("*.py") if not p.name.startswith("test_") and p.name != "conftest.py"}
    cache: dict[Path, set[str]] = {}

    def names_of(path: Path, seen: frozenset[Path] = frozenset()) -> set[str]:
        if path not in cache:
            names = imported_names(path.read_text(encoding="utf-8"), str(path))
            found = set(names)
            for name in names:
                helper = helpers.get(name.split(".")[0])
                if helper is not None and helper != path and helper not in seen:
                    found |= names_of(helper, seen | {path})
            cache[path] = found
        return cache[path]

    exported = reexports(modules)
    index: dict[str, list[str]] = {name: [] for name in modules}
    for test_name, path in test_files(root).items():
        for module in modules_of(names_of(path), modules, exported):
            index[module].append(test_name)
    tested = {module: sorted(tests) for module, tests in sorted(index.items()) if tests}
    untested = sorted(module for module, tests in index.items() if not tests)
    return tested, untested


def render(root: Path = ROOT) -> str:
    """The text of tests/INDEX.md."""
    modules = library_modules(root)
    tested, untested = build_index(root)
    empty = [module for module in untested if not has_code(modules[module])]
    untested = [module for module in untested if module not in empty]
    lines = [
        "# Tests by module",
        "",
        "Generated by `python tools/test_index.py` from the tests' imports: do not edit by hand (rerun it",
        "after moving a module or a test; `tests/test_index.py` fails while this file is out of date).",
        "Every import counts, also those inside functions; a name a package's `__init__` re-exports",
        "counts for the package and for the module it comes from; a test is credited with what the",
        "tests/ helpers it imports import.",
        "",
        f"{len(modules)} modules: {len(tested)} imported by a test, {len(untested)} by none (listed at the end),",
        f"{len(empty)} package docstrings without code.",
        "",
        "| Module | File | Tests |",
        "| --- | --- | --- |",
    ]
    for module, tests in tested.items():
        path = modules[module].relative_to(root).as_posix()
        lines.append(f"| `{module}` | `{path}` | {', '.join(tests)} |")
    lines += ["", f"## Modules no test imports ({len(untested)})", ""]
    lines += [f"- `{module}` (`{modules[module].relative_to(root).as_posix()}`)" for module in untested]
    lines += ["", f"## Packages whose `__init__` is a docstring only ({len(empty)}, nothing to import)", ""]
    lines += [f"- `{module}` (`{modules[module].relative_to(root).as_posix()}`)" for module in empty]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare tests/INDEX.md with what would be written")
    args = parser.parse_args(argv)
    text, path = render(), ROOT / INDEX
    if args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current == text:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), f"{INDEX} (committed)", f"{INDEX} (generated now)"
            )
        )
        print(f"{INDEX} is out of date: run python tools/test_index.py", file=sys.stderr)
        return 1
    path.write_text(text, encoding="utf-8")
    print(f"wrote {INDEX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
