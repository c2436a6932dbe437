"""docs/architecture.md's table of ops and their implementations ("Ops and their implementations")
stays true: every op cuda_ext/ops.py defines has a row, every file and test it names exists, and
its C++ and CUDA cells are exactly the csrc files whose TORCH_LIBRARY_IMPL registers the op.
The checker is plain functions, so the tests below can also show it failing on planted faults."""

import ast
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = Path("docs") / "architecture.md"
HEADING = "## Ops and their implementations"
NAMESPACE = "avatar_ext"
OP_COLUMN, TESTS_COLUMN, CPU_COLUMN, CUDA_COLUMN = "Op", "Tests", "C++ (CPU)", "CUDA"
_TOKEN = re.compile(r"`([^`]+)`")
_IMPL_BLOCK = re.compile(r"TORCH_LIBRARY_IMPL\(\s*(\w+)\s*,\s*(\w+)\s*,\s*\w+\s*\)\s*\{(.*?)\}", re.S)
_IMPL = re.compile(r"\.impl\(\s*\"(\w+)\"")
_CPU_KEYS = {"CPU", "CompositeExplicitAutograd", "CompositeImplicitAutograd"}


def registered_ops(root: Path = ROOT) -> set[str]:
    """The ops cuda_ext defines, read from its source: the keys of cuda_ext/ops.py's SCHEMAS, and
    any other `<library>.define("name(...)")` or `custom_op("avatar_ext::name")` in cuda_ext/*.py."""
    ops: set[str] = set()
    for path in sorted((root / "cuda_ext").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and path.name == "ops.py":
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "SCHEMAS" for t in targets) and isinstance(
                    node.value, ast.Dict
                ):
                    ops.update(k.value for k in node.value.keys if isinstance(k, ast.Constant))
            elif (
                isinstance(node, ast.Call)
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                text = node.args[0].value
                if called == "define" and "(" in text:
                    ops.add(text.split("(")[0].split("::")[-1])
                elif called == "custom_op" and text.startswith(f"{NAMESPACE}::"):
                    ops.add(text.split("::", 1)[1])
    return ops


def kernel_registrations(root: Path = ROOT) -> dict[str, dict[str, set[str]]]:
    """op -> {"cpu": csrc files registering it for the CPU, "cuda": for CUDA}, from the
    TORCH_LIBRARY_IMPL blocks of cuda_ext/csrc."""
    found: dict[str, dict[str, set[str]]] = {}
    for path in sorted((root / "cuda_ext" / "csrc").glob("*")):
        if path.suffix not in (".cpp", ".cu"):
            continue
        for namespace, key, body in _IMPL_BLOCK.findall(path.read_text(encoding="utf-8")):
            if namespace != NAMESPACE:
                continue
            kind = "cuda" if key == "CUDA" else "cpu" if key in _CPU_KEYS else key
            for op in _IMPL.findall(body):
                found.setdefault(op, {"cpu": set(), "cuda": set()}).setdefault(kind, set()).add(
                    path.relative_to(root).as_posix()
                )
    return found


def parse_table(text: str, heading: str = HEADING) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (column -> cell) of the first table under `heading`."""
    lines = text.splitlines()
    assert heading in lines, f"no section {heading!r}"
    table = []
    for line in lines[lines.index(heading) + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    assert len(table) >= 2, f"no table under {heading!r}"

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    header = cells(table[0])
    rows = []
    for line in table[2:]:
        row = cells(line)
        assert len(row) == len(header), f"{len(row)} cells, {len(header)} columns: {line[:80]}"
        rows.append(dict(zip(header, row)))
    return header, rows


def _defined_names(path: Path) -> set[str]:
    """Module-level functions, classes and assigned names of a Python file, and methods."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def row_op(row: dict[str, str]) -> str | None:
    """The op a row is about: the first name of its Op cell when the cell starts with it; None
    for a stage of an op (such as SH evaluation) that only mentions ops."""
    cell = row[OP_COLUMN]
    match = _TOKEN.match(cell)
    return match.group(1) if match else None


def check_table(
    header: list[str],
    rows: list[dict[str, str]],
    ops: set[str],
    registrations: dict[str, dict[str, set[str]]],
    root: Path = ROOT,
) -> list[str]:
    """Every way the table disagrees with the source; [] when it is true."""
    problems = []
    for column in (OP_COLUMN, TESTS_COLUMN, CPU_COLUMN, CUDA_COLUMN):
        if column not in header:
            problems.append(f"no column {column!r}")
    if problems:
        return problems
    for op in sorted(set(registrations) - ops):
        problems.append(f"{op}: registered by {sorted(set.union(*registrations[op].values()))} but not defined")
    listed = [row_op(row) for row in rows]
    for op in sorted(ops - set(listed)):
        problems.append(f"{op}: defined in cuda_ext but has no row")
    for op in sorted({op for op in listed if op and listed.count(op) > 1}):
        problems.append(f"{op}: more than one row")
    test_names: dict[Path, set[str]] = {}
    for row in rows:
        label = row_op(row) or row[OP_COLUMN][:40]
        for name in _TOKEN.findall(row[OP_COLUMN]):
            if name not in ops:
                problems.append(f"{label}: {name!r} is no op of cuda_ext")
        for column in header:
            if column in (OP_COLUMN, TESTS_COLUMN):
                continue
            tokens = _TOKEN.findall(row[column])
            paths = [t for t in tokens if "/" in t]
            for path in paths:
                if not (root / path).is_file():
                    problems.append(f"{label}, {column}: {path} does not exist")
            defined = set().union(
                *(_defined_names(root / p) for p in paths if p.endswith(".py") and (root / p).is_file())
            )
            for symbol in (t for t in tokens if "/" not in t):
                if symbol not in defined:
                    problems.append(f"{label}, {column}: {symbol!r} is defined in none of {paths}")
        for token in _TOKEN.findall(row[TESTS_COLUMN]):
            if "::" not in token and not token.endswith(".py"):
                if token not in ops:
                    problems.append(f"{label}, {TESTS_COLUMN}: {token!r} is neither a test nor an op")
                continue
            file, _, name = token.partition("::")
            path = root / "tests" / file
            if not path.is_file():
                problems.append(f"{label}, {TESTS_COLUMN}: tests/{file} does not exist")
                continue
            if name:
                names = test_names.setdefault(path, _defined_names(path))
                if name.split("::")[-1] not in names:
                    problems.append(f"{label}, {TESTS_COLUMN}: tests/{file} has no {name}")
        op = row_op(row)
        if op in ops:
            registered = registrations.get(op, {"cpu": set(), "cuda": set()})
            for column, kind, suffix in ((CPU_COLUMN, "cpu", ".cpp"), (CUDA_COLUMN, "cuda", ".cu")):
                named = {t for t in _TOKEN.findall(row[column]) if t.endswith(suffix)}
                if named != registered.get(kind, set()):
                    problems.append(
                        f"{op}, {column}: names {sorted(named)}, the op is registered in "
                        f"{sorted(registered.get(kind, set()))}"
                    )
    return problems


def _real_table() -> tuple[list[str], list[dict[str, str]]]:
    return parse_table((ROOT / DOC).read_text(encoding="utf-8"))


def test_the_table_is_true():
    header, rows = _real_table()
    problems = check_table(header, rows, registered_ops(), kernel_registrations())
    assert not problems, "docs/architecture.md, " + HEADING[3:] + ":\n" + "\n".join(problems)


def test_the_ops_read_from_the_source_are_the_ones_torch_registers():
    """The source reading above misses no way of defining an op: importing cuda_ext.ops (which
    every compiled module needs first) defines exactly these in torch's dispatcher."""
    import torch

    import cuda_ext.ops  # noqa: F401

    defined = {
        name.split("::", 1)[1] for name in torch._C._dispatch_get_all_op_names() if name.startswith(f"{NAMESPACE}::")
    }
    assert registered_ops() == defined
    assert set(kernel_registrations()) == defined  # every op has a kernel (cpu_simd: a composite one)


def test_the_checker_catches_an_op_missing_from_the_table(tmp_path):
    """A copy of cuda_ext with one more op in ops.py's SCHEMAS: the real table misses it."""
    shutil.copytree(ROOT / "cuda_ext", tmp_path / "cuda_ext", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    ops_py = tmp_path / "cuda_ext" / "ops.py"
    text = ops_py.read_text(encoding="utf-8")
    assert text.count("SCHEMAS: dict[str, str] = {\n") == 1
    ops_py.write_text(
        text.replace(
            "SCHEMAS: dict[str, str] = {\n", 'SCHEMAS: dict[str, str] = {\n    "planted_op": "(Tensor x) -> Tensor",\n'
        )
    )
    ops = registered_ops(tmp_path)
    assert ops == registered_ops() | {"planted_op"}
    header, rows = _real_table()
    assert check_table(header, rows, ops, kernel_registrations()) == ["planted_op: defined in cuda_ext but has no row"]


def test_the_checker_catches_missing_files_tests_and_kernels():
    table = "\n".join(
        [
            HEADING,
            "",
            "| Op | Torch reference | C++ (CPU) | CUDA | Tests |",
            "| --- | --- | --- | --- | --- |",
            "| `rgb_to_uint8` | `viewer/render_worker.py` (`_to_uint8`) | `cuda_ext/csrc/image_cpu.cpp` | — | "
            "`test_image_ops.py::test_rgb_to_uint8_rounds_and_clamps_as_torch` |",
            "| `rig_pose` | `avatar/rig/gone.py`, `avatar/rig/lbs.py` (`no_such_function`) | `cuda_ext/csrc/rig_cpu.cpp` | "
            "`cuda_ext/csrc/rig_cuda.cu` | `test_ext_rig.py::test_that_was_renamed`, `test_gone.py` |",
            "| SH stage of `not_an_op` | — | — | — | — |",
            "",
            "## Next section",
        ]
    )
    header, rows = parse_table(table)
    assert [row_op(row) for row in rows] == ["rgb_to_uint8", "rig_pose", None]
    ops = {"rgb_to_uint8", "rig_pose", "blend_forward"}
    registrations = {
        "rgb_to_uint8": {"cpu": {"cuda_ext/csrc/image_cpu.cpp"}, "cuda": set()},
        "rig_pose": {"cpu": {"cuda_ext/csrc/rig_cpu.cpp"}, "cuda": set()},
    }
    assert sorted(check_table(header, rows, ops, registrations)) == sorted(
        [
            "blend_forward: defined in cuda_ext but has no row",
            "rig_pose, Torch reference: avatar/rig/gone.py does not exist",
            "rig_pose, Torch reference: 'no_such_function' is defined in none of ['avatar/rig/gone.py', "
            "'avatar/rig/lbs.py']",
            "rig_pose, CUDA: cuda_ext/csrc/rig_cuda.cu does not exist",
            "rig_pose, CUDA: names ['cuda_ext/csrc/rig_cuda.cu'], the op is registered in []",
            "rig_pose, Tests: tests/test_ext_rig.py has no test_that_was_renamed",
            "rig_pose, Tests: tests/test_gone.py does not exist",
            "SH stage of `not_an_op`: 'not_an_op' is no op of cuda_ext",
        ]
    )
