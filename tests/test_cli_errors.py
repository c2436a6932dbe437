"""How the command reports a failure (avatar/cli/errors.py): bad input is one line naming what is
wrong and exit status 2, with or without -v; a bug (any other exception, a plain ValueError
included) prints its traceback and a line asking to report it, exit status 1; an OSError names
the file it failed on."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import pytest

from avatar.cli import handlers
from avatar.cli.errors import InputError, error_message, is_user_error
from avatar.cli.main import main
from avatar.data.atomic import OutputError, write_failure
from avatar.data.errors import CaptureError, DataFileError, ExpressionFileError, VideoError
from avatar.data.expressions import save_expression_file
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.io import AvatarFileError, save_avatar
from avatar.rig.errors import RigFileError
from avatar.rig.loaders import load_rig
from avatar.runtime.backends import BackendDeviceError
from avatar.runtime.devices import DeviceUnavailable


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """An untrained model on the builtin rig, a 3-frame take and a 16 px capture."""
    root = tmp_path_factory.mktemp("cli_errors")
    rig = load_rig("builtin")
    save_avatar(GaussianAvatar.on_mesh(rig, blend_expr=2), root / "m.avatar", {})
    save_expression_file(root / "take.json", rig.zero_params(3), 25.0, rig.expr_names)
    make_synthetic_capture(rig, root / "capture", num_train=2, num_test=1, size=16, progress=False)
    return root


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "error",
    [
        AvatarFileError,
        RigFileError,
        DataFileError,
        CaptureError,
        VideoError,
        ExpressionFileError,
        OutputError,
        DeviceUnavailable,
        BackendDeviceError,
    ],
)
def test_the_domain_errors_mean_bad_input(error):
    assert issubclass(error, InputError) and issubclass(error, ValueError)


@pytest.mark.parametrize(
    "planted",
    [
        KeyError("rig_name"),
        ValueError("operands could not be broadcast"),
        TypeError("unsupported operand"),
        RuntimeError("shape mismatch"),
    ],
)
@pytest.mark.parametrize("verbose", [True, False])
def test_a_bug_prints_its_traceback_and_does_not_exit_2(inputs, monkeypatch, capsys, planted, verbose):
    def bug(*args, **kwargs):
        raise planted

    monkeypatch.setattr(handlers, "model_info", bug)  # deep in a real handler, after the model loaded
    assert main((["-v"] if verbose else []) + ["info", str(inputs / "m.avatar")]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and f"{type(planted).__name__}: " in err, err
    assert "in cmd_info" in err and "please report it" in err
    assert "error: " not in err  # not dressed up as the user's mistake


@pytest.mark.parametrize("verbose", [True, False])
def test_bad_input_is_one_line_and_exit_2_also_with_verbose(inputs, tmp_path, capsys, verbose):
    model = tmp_path / "m.avatar"
    model.write_bytes((inputs / "m.avatar").read_bytes()[:-10])
    assert main((["-v"] if verbose else []) + ["info", str(model)]) == 2
    assert str(model) in _one_line(capsys.readouterr().err)


def test_a_commands_own_argument_check_is_bad_input(inputs, tmp_path, capsys):
    out = tmp_path / "m.glb"
    assert main(["-v", "export", str(inputs / "m.avatar"), "--gltf", str(out), "--frame", "1"]) == 2
    assert "--frame goes with --ply" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "no_such_setting=1"], "--set no_such_setting: not a training setting"),
        (["--set", "iterations"], "--set expects key=value"),
        (["--preset", "no_such_preset"], "config preset 'no_such_preset' not found"),
    ],
)
def test_training_settings_are_bad_input(inputs, capsys, argv, message):
    """The training settings (avatar.training.config) raise InputError: one line, also with -v."""
    assert main(["-v", "train", str(inputs / "capture"), *argv, "--print-config"]) == 2
    assert message in _one_line(capsys.readouterr().err)


def test_an_unknown_split_is_bad_input(inputs, capsys):
    assert (
        main(["eval", str(inputs / "m.avatar"), str(inputs / "capture"), "--split", "nope", "--backend", "torch"]) == 2
    )
    assert "has no split 'nope'" in _one_line(capsys.readouterr().err)


def test_tensorboard_missing_is_bad_input_before_any_training(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # `from ... import` raises ImportError
    out = tmp_path / "t.avatar"
    assert main(["train", str(inputs / "capture"), "--out", str(out), "--log", "tensorboard"]) == 2
    assert 'pip install --no-build-isolation -e ".[log]"' in _one_line(capsys.readouterr().err)
    assert not out.exists() and not (tmp_path / "t.avatar.run").exists()


def test_an_oserror_names_its_file_and_what_failed(inputs, monkeypatch, capsys):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/runs/metrics.jsonl")

    monkeypatch.setattr(handlers, "read_metrics", refused)
    assert main(["info", str(inputs / "m.avatar")]) == 2
    assert _one_line(capsys.readouterr().err) == "error: /srv/runs/metrics.jsonl: Permission denied\n"


def test_a_video_path_that_cannot_be_created_is_named(inputs, capsys):
    """`--out /proc/x.mp4`: /proc looks like a writable folder to root, but no file can be made in
    it; the encoder's own error names no file. Refused before any frame is rendered."""
    if not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    out = "/proc/x.mp4"
    argv = [
        "render",
        str(inputs / "m.avatar"),
        "--expr",
        str(inputs / "take.json"),
        "--out",
        out,
        "--size",
        "16",
        "--backend",
        "torch",
    ]
    assert main(argv) == 2
    err = _one_line(capsys.readouterr().err)
    assert out in err and ("could not be written" in err or "cannot write" in err), err
    assert not Path(out).exists()


def test_a_write_error_naming_no_file_is_given_the_output_path(tmp_path):
    path = tmp_path / "take.mp4"
    failure = write_failure(path, FileNotFoundError(errno.ENOENT, "No such file or directory"), writing=True)
    assert isinstance(failure, OutputError) and is_user_error(failure)
    assert error_message(failure) == f"{path}: could not be written: No such file or directory"
    # an error about another file met while writing is not the output's
    assert write_failure(path, FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "in.png"))) is None
    # the output's partial copy is the output
    assert write_failure(path, OSError(errno.EIO, "I/O error", f"{path}.partial")) is not None


def test_which_errors_are_user_errors():
    assert is_user_error(InputError("x")) and is_user_error(FileNotFoundError("gone"))
    assert is_user_error(PermissionError(errno.EACCES, "Permission denied", "/x"))
    assert not is_user_error(ValueError("x")) and not is_user_error(KeyError("x"))
    assert not is_user_error(OSError(errno.EIO, "I/O error"))  # names no file: where would the user look?
