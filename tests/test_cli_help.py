"""The CLI teaches: every argument has help, --help lists it, and every flag the README names
exists in the parser of the command it is written with."""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from avatar.cli.main import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_help_lists_every_argument_with_its_help(name, capsys):
    parser = _commands()[name]
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "examples:" in text
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and len(action.help) > 8, f"{name} {action.dest}: no help"
        shown = action.option_strings[0] if action.option_strings else (action.metavar or action.dest)
        assert shown in text, f"{name}: {shown} missing from --help"
        assert " ".join(action.help.split()[:3]) in text


def _readme_flags() -> list[tuple[str, str]]:
    """(command, flag) for every --flag in a README code span that starts a command."""
    found = []
    commands = "|".join(_commands())
    text = re.sub(r"```\w*", "", README.read_text())  # fences would pair with the spans' backticks
    for span in re.findall(r"`([^`]+)`", text):
        m = re.search(rf"\bavatar ({commands})\b(.*)", span)
        if not m:
            continue
        for flag in re.findall(r"--(?:\[no-\])?[a-z][a-z0-9-]*", m.group(2)):
            if flag.startswith("--[no-]"):
                found += [(m.group(1), "--" + flag[7:]), (m.group(1), "--no-" + flag[7:])]
            else:
                found.append((m.group(1), flag))
    return sorted(set(found))


def test_the_readme_names_only_flags_that_exist():
    flags = _readme_flags()
    assert len(flags) > 30  # the command table and the sections below it were read
    parsers = _commands()
    missing = [f"{cmd} {flag}" for cmd, flag in flags if flag not in parsers[cmd]._option_string_actions]
    assert not missing, missing


def test_version(capsys):
    from avatar import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["render", "m.avatar", "--expr", "e.npz", "--out", "o.mp4", "--size", "20000"], "--size: must be in [16, 4096]"),
    (["demo", "--out", "d", "--size", "nan"], "--size: expected an integer"),
    (["track", "v.mp4", "--out", "c", "--max-fps", "1e300"], "--max-fps: must be in [0.1, 1000]"),
    (["view", "m.avatar", "--smoothing", "nan"], "--smoothing: must be in [0, 1]"),
    (["train", "c", "--iterations", "-5"], "--iterations: must be in [1, "),
])
def test_sizes_and_counts_have_documented_bounds(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2 and message in capsys.readouterr().err


# What `avatar --help` must not load (docs/architecture.md): the compute stack and each extra's
# heavy packages. Parsers and their registration import none of them; a command's handler does.
HEAVY = ("torch", "numpy", "scipy", "PIL", "av", "safetensors", "mediapipe", "cv2", "moderngl", "imgui_bundle",
         "glfw", "websockets", "ray", "gsplat", "tensorboard", "cuda_ext")
_HELP_IN_A_FRESH_INTERPRETER = """
import json, sys
from avatar.cli.main import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit as done:
    assert done.code == 0, done.code
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)))
"""


def test_importing_the_command_loads_no_torch():
    code = "import avatar.cli.main, sys; print(json.dumps(sorted(m for m in HEAVY if m in sys.modules)))"
    run = subprocess.run([sys.executable, "-c", f"import json; HEAVY = {list(HEAVY)!r}; {code}"],
                         capture_output=True, text=True, check=True)
    assert json.loads(run.stdout) == [], run.stdout


@pytest.mark.parametrize("command", [None, *sorted(_commands())])
def test_help_loads_no_heavy_package(command):
    """`avatar --help` and `avatar COMMAND --help`, capture's and viewer's commands (entry points)
    included, each in a fresh interpreter: none of HEAVY is imported."""
    argv = ["--help"] if command is None else [command, "--help"]
    run = subprocess.run([sys.executable, "-c", _HELP_IN_A_FRESH_INTERPRETER, json.dumps(argv), json.dumps(HEAVY)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "usage: avatar" in run.stdout
    assert json.loads(run.stdout.splitlines()[-1]) == [], f"avatar {' '.join(argv)} loaded these"


def test_the_registered_commands_are_among_those_checked():
    assert {"track", "import", "batch", "view", "eval-live"} <= set(_commands())
