"""Every `pip install` hint that installs this package (or one of its extras) can be pasted as it
is: setup.py compiles cuda_ext against the torch already installed, which an isolated build
environment does not have, so each needs `--no-build-isolation` (README: `pip install
--no-build-isolation -e ".[EXTRA]"`). A hint for a third-party package (`pip install gsplat`) is
fine as it is. The library's messages, comments and docstrings and the docs are read."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("avatar", "capture", "viewer", "cuda_ext", "benchmarks")
DOCS = ("docs", "README.md", "setup.py")
# An argument that names this package: `.`, `./`, `.[extra]`, `.[a,b]` (quoted or not).
THIS_PACKAGE = re.compile(r"\./?(\[[^\]]*\])?")
# Where a command in a message or a line of text ends.
COMMAND_END = re.compile(r"`|\n|;|&&|\|\||\||#|\(|\)")
WORDS = re.compile(r"\"[^\"]*\"|'[^']*'|\S+")


def _py_texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string (f-strings with their fields as {}) and comment of a module."""
    source = path.read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            found.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found.append((token.start[0], token.string.lstrip("#")))
    return found


def _texts() -> list[tuple[str, str]]:
    """(where, text) of everything read."""
    out = []
    files = [p for d in SOURCES for p in sorted((ROOT / d).rglob("*.py")) if "node_modules" not in p.parts]
    for name in DOCS:
        target = ROOT / name
        files += sorted(target.rglob("*.md")) if target.is_dir() else [target]
    for path in files:
        rel = path.relative_to(ROOT)
        if path.suffix == ".py":
            out += [(f"{rel}:{line}", text) for line, text in _py_texts(path)]
        else:
            out += [(f"{rel}:{n}", line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)]
    return out


def install_hints(text: str) -> list[tuple[str, bool]]:
    """(command, installs this package) for each `pip install` command in `text`."""
    hints = []
    for match in re.finditer(r"pip3? install\b", text):
        rest = text[match.end() :]
        end = COMMAND_END.search(rest)
        command = "pip install" + rest[: end.start() if end else len(rest)]
        words = [w.strip("\"'") for w in WORDS.findall(command)]
        hints.append((command.strip(), any(THIS_PACKAGE.fullmatch(w) for w in words[2:])))
    return hints


def problems(text: str) -> list[str]:
    """The hints in `text` that cannot be pasted as they are."""
    found = []
    for command, ours in install_hints(text):
        if ours and "--no-build-isolation" not in command.split():
            found.append(f"{command!r} lacks --no-build-isolation")
        if re.match(r"pip3? install (the|an?) ", command):
            found.append(
                f'{command!r} is not a command (name the extra: pip install --no-build-isolation -e ".[EXTRA]")'
            )
    return found


@pytest.mark.parametrize(
    "text, bad",
    [
        ("""raise X("needs moderngl; pip install '.[viewer]'")""", True),
        ("print('pip install \".[batch]\" (or: pip install ray)')", True),
        ("`pip install -e .`", True),
        ("(pip install the gsplat extra)", True),
        ('pip install --no-build-isolation -e ".[viewer]"', False),
        ("pip install --no-build-isolation ./", False),
        ("pip install gsplat", False),
        ('pip install "ray[default]" where you launch it', False),
        ("Install with `pip install --no-build-isolation ...` after torch", False),
    ],
)
def test_the_check_tells_a_pasteable_hint_from_one_that_is_not(text, bad):
    assert bool(problems(text)) == bad, problems(text)


def test_every_hint_that_installs_this_package_builds_without_isolation():
    texts = _texts()
    ours = [(where, c) for where, text in texts for c, mine in install_hints(text) if mine]
    assert len(ours) >= 8, ours  # the messages and the docs were read (README, docs/, the backends, the extras)
    bad = [f"{where}: {p}" for where, text in texts for p in problems(text)]
    assert not bad, "\n".join(bad)
