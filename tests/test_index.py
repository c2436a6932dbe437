"""tests/INDEX.md (which tests import which library module) is what tools/test_index.py writes
from the tests as they are now: a moved or renamed module or test shows up as a failure here."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("test_index_tool", ROOT / "tools" / "test_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_index_is_what_the_script_writes_now():
    tool = _tool()
    committed = (ROOT / "tests" / "INDEX.md").read_text(encoding="utf-8")
    generated = tool.render()
    if committed != generated:
        import difflib

        diff = "".join(
            difflib.unified_diff(committed.splitlines(True), generated.splitlines(True), "committed", "generated", n=0)
        )
        raise AssertionError(f"tests/INDEX.md is out of date: run python tools/test_index.py\n{diff[:4000]}")


def test_every_import_form_counts():
    tool = _tool()
    names = tool.imported_names(
        "import a.b\n"
        "from c.d import e, f as g\n"
        "def test():\n"
        "    import h\n"
        "    from i import j\n"
        "    importlib.import_module('k.l')\n"
        "    pytest.importorskip('m', reason='x')\n"
        "    other('n')\n"
    )
    assert names == {"a.b", "c.d", "c.d.e", "c.d.f", "h", "i", "i.j", "k.l", "m"}


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_index_follows_moved_modules_helpers_and_reexports(tmp_path):
    """A package __init__'s re-export counts for the package and the module it comes from; a
    tests/ helper's imports count for
    the test importing it; moving a module changes the index (so the committed one goes stale)."""
    tool = _tool()
    _tree(
        tmp_path,
        {
            "avatar/__init__.py": '"""docstring only"""\n',
            "avatar/pkg/__init__.py": "from avatar.pkg.impl import thing\n",
            "avatar/pkg/impl.py": "thing = 1\n",
            "avatar/pkg/other.py": "x = 1\n",
            "avatar/lonely.py": "y = 2\n",
            "capture/__init__.py": "",
            "viewer/__init__.py": "",
            "cuda_ext/__init__.py": "",
            "tests/helper.py": "import avatar.pkg.other\n",
            "tests/test_a.py": "def test():\n    from avatar.pkg import thing\n",
            "tests/test_b.py": "import helper\nfrom avatar.pkg.impl import thing\n",
        },
    )
    tested, untested = tool.build_index(tmp_path)
    assert tested == {"avatar.pkg": ["test_a.py"], "avatar.pkg.impl": ["test_a.py", "test_b.py"],
                      "avatar.pkg.other": ["test_b.py"]}
    assert untested == ["avatar", "avatar.lonely", "capture", "cuda_ext", "viewer"]
    text = tool.render(tmp_path)
    assert "| `avatar.pkg.other` | `avatar/pkg/other.py` | test_b.py |" in text
    assert "- `avatar.lonely` (`avatar/lonely.py`)" in text.split("## Modules no test imports")[1]
    assert "- `avatar` (`avatar/__init__.py`)" in text.split("docstring only")[-1]

    (tmp_path / "avatar/pkg/other.py").rename(tmp_path / "avatar/pkg/moved.py")
    assert tool.render(tmp_path) != text
