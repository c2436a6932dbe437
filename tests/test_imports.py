"""Imports point one way (ARCHITECTURE.md): avatar never imports capture or viewer; nothing
imports the CLI (avatar.cli, avatar.commands) but the CLI itself; cuda_ext imports nothing of
ours. Every import statement counts, also the ones inside functions."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("avatar", "capture", "viewer", "cuda_ext")
CLI = ("avatar.cli", "avatar.commands")


def _imports(path: Path, module: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                source = ".".join(module.split(".")[: -node.level] + ([source] if source else []))
            # `from avatar import commands` imports the module avatar.commands.
            names += [source] + [f"{source}.{a.name}" for a in node.names]
    return names


def _is(name: str, target: str) -> bool:
    return name == target or name.startswith(target + ".")


def wrong_way_imports(root: Path) -> list[str]:
    """'module -> imported' for every import against the design under root."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            for name in _imports(path, module):
                wrong = ((_is(module, "avatar") and (_is(name, "capture") or _is(name, "viewer")))
                         or (any(_is(name, c) for c in CLI) and not any(_is(module, c) for c in CLI))
                         or (_is(module, "cuda_ext") and any(_is(name, p) for p in PACKAGES if p != "cuda_ext")))
                if wrong:
                    found.append(f"{module} -> {name}")
    return found


def test_imports_point_one_way():
    assert wrong_way_imports(ROOT) == []


def test_a_planted_wrong_way_import_is_caught(tmp_path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "avatar" / "render").mkdir()
    (tmp_path / "avatar" / "render" / "x.py").write_text("def f():\n    from capture.track import track\n")
    (tmp_path / "avatar" / "y.py").write_text("import viewer.launch\n")
    (tmp_path / "capture" / "z.py").write_text("from avatar.cli import main\n")
    (tmp_path / "viewer" / "w.py").write_text("from avatar import commands\nfrom avatar.render import splat\n")
    (tmp_path / "cuda_ext" / "k.py").write_text("from avatar.rig import HeadRig\nimport torch\n")
    (tmp_path / "capture" / "ok.py").write_text("from avatar.rig import HeadRig\nfrom . import face_model\n")
    assert sorted(wrong_way_imports(tmp_path)) == [
        "avatar.render.x -> capture.track", "avatar.render.x -> capture.track.track", "avatar.y -> viewer.launch",
        "capture.z -> avatar.cli", "capture.z -> avatar.cli.main", "cuda_ext.k -> avatar.rig",
        "cuda_ext.k -> avatar.rig.HeadRig", "viewer.w -> avatar.commands"]
