"""Imports point one way, and no module imports itself round a circle (docs/architecture.md).

The layers, lowest first; a module may import its own layer and the ones below:

    cuda_ext | avatar.runtime | avatar.cli (the package, parts, errors) | avatar.rig
    | avatar.splat | avatar.data | avatar.gaussians | avatar.renderer | avatar.model | avatar.web | avatar.export
    | avatar.training | avatar.bench | avatar.api | capture | viewer | avatar.cli's main, handlers and demo

and besides: `avatar` never imports `capture` or `viewer` (they register their commands with
the CLI through entry points); nothing outside avatar.cli imports its main or its handlers.
Every import statement counts, also the ones inside functions: a circle through a function's
import is still two modules that cannot be understood one without the other."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("avatar", "capture", "viewer", "cuda_ext")
# avatar.cli's package and its building blocks sit low, its command modules on top: a new module
# there is low until it is listed, and the layers then refuse whatever it imports from above.
LAYERS = (("cuda_ext",), ("avatar.runtime",), ("avatar.cli",), ("avatar.rig",), ("avatar.splat",), ("avatar.data",),
          ("avatar.gaussians",), ("avatar.renderer",), ("avatar.model",), ("avatar.web",), ("avatar.export",),
          ("avatar.training",), ("avatar.bench",), ("avatar.api", "avatar"), ("capture",), ("viewer",), COMMANDS := ("avatar.cli.main", "avatar.cli.handlers",
                                                                             "avatar.cli.demo", "avatar.cli.__main__"))


def _imports(path: Path, module: str) -> list[str]:
    """Every module `module` (at `path`) names in an import: `from a.b import c` gives a.b and
    a.b.c (c may be a module)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                package = module.split(".")[: -node.level] if not path.name == "__init__.py" or node.level > 1 \
                    else module.split(".")
                source = ".".join(package + ([source] if source else []))
            names += [source] + [f"{source}.{a.name}" for a in node.names]
    return names


def _is(name: str, target: str) -> bool:
    return name == target or name.startswith(target + ".")


def layer(module: str) -> int:
    """The index in LAYERS of the most specific entry `module` falls under."""
    best, rank = "", -1
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            if _is(module, entry) and len(entry) > len(best):
                best, rank = entry, index
    return rank


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the modules of ours it imports (names that are attributes, not modules, dropped;
    so are a module's own packages, which Python imports before it whatever it names)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[module] = path
    return {module: {name for name in _imports(path, module) if name in modules and not _is(module, name)}
            for module, path in modules.items()}


def wrong_way_imports(root: Path) -> list[str]:
    """'module -> imported' for every import against the layers under root."""
    found = []
    for module, imported in import_graph(root).items():
        for name in sorted(imported):
            against_layers = layer(name) > layer(module)
            avatar_above = _is(module, "avatar") and (_is(name, "capture") or _is(name, "viewer"))
            into_cli = layer(name) == len(LAYERS) - 1 and not _is(module, "avatar.cli")
            if against_layers or avatar_above or into_cli:
                found.append(f"{module} -> {name}")
    return found


def import_circles(root: Path) -> list[list[str]]:
    """Every set of modules that import each other round a circle (strongly connected
    components of more than one module), each sorted."""
    graph = import_graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative: no recursion limit on deep chains
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(circles)


def test_imports_point_one_way():
    assert wrong_way_imports(ROOT) == []


def test_no_import_circles():
    assert import_circles(ROOT) == []


def _plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)


def test_a_planted_back_arrow_is_caught(tmp_path):
    _plant(tmp_path, {
        "avatar/__init__.py": "",
        "avatar/splat/__init__.py": "",
        "avatar/splat/x.py": "def f():\n    from capture.track import track\n",
        "avatar/splat/camera.py": "from avatar.gaussians.model import GaussianAvatar\n",  # render below gaussians
        "avatar/gaussians/__init__.py": "",
        "avatar/gaussians/model.py": "from avatar.splat import camera\n",  # allowed: downwards
        "avatar/y.py": "import viewer.launch\n",
        "avatar/cli/__init__.py": "",
        "avatar/cli/main.py": "from viewer import launch\n",  # the CLI reaches viewer by entry points only
        "avatar/cli/parts.py": "",
        "avatar/runtime/__init__.py": "",
        "avatar/runtime/devices.py": "from avatar.rig import lbs\n",
        "avatar/rig/__init__.py": "",
        "avatar/rig/lbs.py": "import torch\n",
        "capture/__init__.py": "",
        "capture/track.py": "",
        "capture/z.py": "from avatar.cli.main import main\nfrom avatar.cli import parts\n",
        "capture/w.py": "import viewer.launch\n",
        "viewer/__init__.py": "",
        "viewer/launch.py": "from capture import track\n",  # allowed: viewer is above capture
        "cuda_ext/__init__.py": "",
        "cuda_ext/k.py": "from avatar.rig import lbs\nimport torch\n",
    })
    assert sorted(wrong_way_imports(tmp_path)) == [
        "avatar.cli.main -> viewer", "avatar.cli.main -> viewer.launch", "avatar.runtime.devices -> avatar.rig",
        "avatar.runtime.devices -> avatar.rig.lbs", "avatar.splat.camera -> avatar.gaussians.model",
        "avatar.splat.x -> capture.track", "avatar.y -> viewer.launch", "capture.w -> viewer.launch",
        "capture.z -> avatar.cli.main", "cuda_ext.k -> avatar.rig", "cuda_ext.k -> avatar.rig.lbs"]


def test_a_planted_circle_is_caught(tmp_path):
    _plant(tmp_path, {
        "avatar/__init__.py": "",
        "avatar/splat/__init__.py": "from avatar.splat.dispatch import splat\n",
        "avatar/splat/dispatch.py": "def trust():\n    from avatar.splat.check import ok\n",
        "avatar/splat/check.py": "from avatar.splat.bench import scene\n",
        "avatar/splat/bench.py": "import avatar.splat.dispatch\n",
        "avatar/splat/camera.py": "from avatar.splat import dispatch\n",  # not in the circle
    })
    assert import_circles(tmp_path) == [["avatar.splat.bench", "avatar.splat.check", "avatar.splat.dispatch"]]
