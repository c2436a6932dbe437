"""Inputs that a campaign of mutated files found escaping the readers' one clear error: each is
refused through the CLI with one "error: ..." naming the file, exit status 2, no traceback, and
no output (or partial output) left behind.

Built inputs stay tiny: an untrained model on the builtin rig (as test_outputs does) and a 16 px
synthetic capture; only the full-disk case trains, for one step on the torch backend."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from avatar.cli.main import main
from avatar.data.expressions import save_expression_file
from avatar.data.livelink import REQUIRED_COLUMNS
from avatar.data.synthetic import make_synthetic_capture
from avatar.gaussians import GaussianAvatar
from avatar.gaussians.file_digest import DIGEST_KEY, DIGEST_PLACEHOLDER, seal
from avatar.gaussians.io import save_avatar
from avatar.rig.loaders import load_rig

DIGITS_400 = "9" * 400  # overflows a float64 (and so float(), numpy and math.isfinite)
DIGITS_5000 = "9" * 5000  # beyond Python's 4300-digit limit of int() on text


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """m.avatar (degree-1 colours so sh_rest is not empty), take.json and a capture."""
    root = tmp_path_factory.mktemp("escapes")
    rig = load_rig("builtin")
    save_avatar(GaussianAvatar.on_mesh(rig, sh_degree=1, blend_expr=2), root / "m.avatar", {})
    save_expression_file(root / "take.json", rig.zero_params(3), 25.0, rig.expr_names)
    make_synthetic_capture(rig, root / "capture", num_train=2, num_test=1, size=16, progress=False)
    return root


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if "partial" in p.name)


def _one_clear_error(capsys, *names: str) -> str:
    """stderr of the CLI call just made: one error line, naming each of `names`, no traceback."""
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err, err
    for name in names:
        assert name in err, err
    return err


def _render(model: Path, expr: Path, out: Path) -> list[str]:
    return ["render", str(model), "--expr", str(expr), "--out", str(out), "--size", "16", "--backend", "torch"]


# ---- 1. numbers of hundreds or thousands of digits in an expression JSON ----------------------

@pytest.mark.parametrize("key, value", [("fps", DIGITS_400), ("fps", DIGITS_5000), ("expr", f"[[{DIGITS_400}]]"),
                                        ("fps", "1e999")])
def test_a_huge_number_in_an_expression_json_is_one_clear_error(inputs, tmp_path, capsys, key, value):
    doc = json.loads((inputs / "take.json").read_text())
    doc[key] = "@@"  # json.dumps cannot write a 5000-digit integer (Python's own limit): spliced in as text
    take = tmp_path / "take.json"
    take.write_text(json.dumps(doc).replace('"@@"', value))
    out = tmp_path / "o.mp4"
    assert main(_render(inputs / "m.avatar", take, out)) == 2
    _one_clear_error(capsys, str(take), f"'{key}'")
    assert not out.exists() and not _leftovers(tmp_path)


# ---- 2. capture.json nested thousands deep, or with huge numbers -------------------------------

CAPTURE_JSON_EDITS = {
    "nested 100000 deep": ('"extra": {', '"extra": {"x": ' + "[" * 100_000 + "]" * 100_000 + ", ", "nested too deeply"),
    "a 400-digit fps": ('"fps": 25.0', f'"fps": {DIGITS_400}', "'fps'"),
    "a 5000-digit width": ('"width": 16', f'"width": {DIGITS_5000}', "'width'"),
}


@pytest.mark.parametrize("command", ["train --print-config", "eval"])
@pytest.mark.parametrize("case", sorted(CAPTURE_JSON_EDITS))
def test_a_capture_json_nested_deeply_or_with_huge_numbers_is_one_clear_error(inputs, tmp_path, capsys, case, command):
    old, new, message = CAPTURE_JSON_EDITS[case]
    capture = tmp_path / "capture"
    shutil.copytree(inputs / "capture", capture)
    meta = json.dumps(json.loads((capture / "capture.json").read_text()))  # one line: the edits match exactly
    assert old in meta
    (capture / "capture.json").write_text(meta.replace(old, new, 1))
    argv = {"train --print-config": ["train", str(capture), "--print-config"],
            "eval": ["eval", str(inputs / "m.avatar"), str(capture), "--backend", "torch"]}[command]
    assert main(argv) == 2
    _one_clear_error(capsys, str(capture / "capture.json"), message)


def test_an_expression_json_nested_deeply_is_still_one_clear_error(inputs, tmp_path, capsys):
    # Already refused before this change (its reader caught RecursionError); now through the shared reader.
    take = tmp_path / "take.json"
    take.write_text('{"fps": 25, "expr": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(_render(inputs / "m.avatar", take, tmp_path / "o.mp4")) == 2
    _one_clear_error(capsys, str(take), "nested too deeply")


# ---- 3. a disk that fills while train writes the model -----------------------------------------

# What safetensors raises for a full disk: 0.8 words it as the first, older versions as the second.
FULL_DISK = ["Error while serializing: I/O error: No space left on device (os error 28)",
             'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })']


def _failing_save_file(message: str):
    """save_file that writes half a file to its target, then fails as safetensors does."""
    def save(tensors, filename, metadata=None):
        save_file(tensors, filename, metadata=metadata)
        data = Path(filename).read_bytes()
        Path(filename).write_bytes(data[: len(data) // 2])
        raise SafetensorError(message)
    return save


@pytest.mark.parametrize("message", FULL_DISK, ids=["safetensors-0.8", "older-safetensors"])
def test_a_full_disk_while_train_writes_the_model_is_one_clear_error(inputs, tmp_path, capsys, monkeypatch, message):
    monkeypatch.setattr("avatar.gaussians.io.save_file", _failing_save_file(message))
    out = tmp_path / "m.avatar"
    assert main(["train", str(inputs / "capture"), "--out", str(out), "--iterations", "1", "--backend", "torch",
                 "--set", "eval_every=0", "--set", "checkpoint_every=0"]) == 2
    _one_clear_error(capsys, f"{out}: could not be written: No space left on device")
    assert not out.exists() and not _leftovers(tmp_path)


def test_a_safetensors_error_that_is_not_about_the_disk_stays_a_program_error(tmp_path, monkeypatch):
    # A serialisation bug is ours, not the user's disk: it must not be reported as an output problem.
    monkeypatch.setattr("avatar.gaussians.io.save_file", _failing_save_file("Error while serializing: misaligned"))
    with pytest.raises(SafetensorError, match="misaligned"):
        save_avatar(GaussianAvatar.on_mesh(load_rig("builtin"), blend_expr=0), tmp_path / "m.avatar")
    assert not list(tmp_path.iterdir())


# ---- 4. errors that did not say which file -----------------------------------------------------

@pytest.mark.parametrize("key, cut", [("shape", lambda a: a[:3]), ("expr", lambda a: a[:, :5])])
def test_capture_params_of_another_size_than_the_rig_name_the_file(inputs, tmp_path, capsys, key, cut):
    capture = tmp_path / "capture"
    shutil.copytree(inputs / "capture", capture)
    with np.load(capture / "params.npz") as f:
        arrays = dict(f)
    arrays[key] = cut(arrays[key])
    np.savez(capture / "params.npz", **arrays)
    assert main(["train", str(capture), "--out", str(tmp_path / "t.avatar"), "--iterations", "1",
                 "--set", "eval_every=0", "--set", "checkpoint_every=0"]) == 2
    _one_clear_error(capsys, str(capture / "params.npz"), f"'{key}'", "builtin")
    assert not (tmp_path / "t.avatar").exists()
    assert main(["eval", str(inputs / "m.avatar"), str(capture), "--backend", "torch"]) == 2
    _one_clear_error(capsys, str(capture / "params.npz"), f"'{key}'", "builtin")


def _resigned(model: Path, out: Path, key: str, dtype: torch.dtype) -> Path:
    """`model` with tensor `key` cast to `dtype`, and a freshly computed (valid) digest."""
    with safe_open(str(model), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    tensors[key] = tensors[key].to(dtype)
    meta[DIGEST_KEY] = DIGEST_PLACEHOLDER
    save_file(tensors, str(out), metadata=meta)
    seal(out)
    return out


@pytest.mark.parametrize("key, dtype, expected", [
    ("gaussians.sh_rest", torch.float16, "float32"), ("gaussians.xyz", torch.float64, "float32"),
    ("gaussians.d_color", torch.bfloat16, "float32"), ("gaussians.expr_basis", torch.float64, "float32"),
    ("rig.v_template", torch.float64, "float32"), ("rig.faces", torch.int32, "int64")])
def test_a_resigned_model_with_a_tensor_of_another_dtype_names_the_file_and_tensor(inputs, tmp_path, capsys, key,
                                                                                     dtype, expected):
    model = _resigned(inputs / "m.avatar", tmp_path / "MODEL.avatar", key, dtype)
    out = tmp_path / "o.mp4"
    assert main(_render(model, inputs / "take.json", out)) == 2
    dtype_name = str(dtype).removeprefix("torch.")
    _one_clear_error(capsys, f"{model}: ", f"tensor {key} has dtype {dtype_name}, expected {expected}")
    assert not out.exists() and not _leftovers(tmp_path)


def test_render_into_a_missing_folder_names_the_output_and_the_folder(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the relative path the user typed is the one reported
    assert main(_render(inputs / "m.avatar", inputs / "take.json", Path("missing_folder/o.mp4"))) == 2
    _one_clear_error(capsys, "missing_folder/o.mp4: the folder missing_folder does not exist")
    assert not (tmp_path / "missing_folder").exists() and not _leftovers(tmp_path)


def _livelink(path: Path, timecodes: list[str]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Timecode", "BlendshapeCount", *REQUIRED_COLUMNS])
        for timecode in timecodes:
            writer.writerow([timecode, "61", *["0"] * len(REQUIRED_COLUMNS)])
    return path


@pytest.mark.parametrize("bad", [f"00:{DIGITS_5000}:00:02.000", f"{DIGITS_400}:00:00:02.000",
                                 f"00:00:00:{DIGITS_5000}.000", "00:00:61:02.000"])
def test_a_livelink_timecode_out_of_range_names_the_file_and_row(inputs, tmp_path, capsys, bad):
    take = _livelink(tmp_path / "take.csv", ["00:00:00:00.000", "00:00:00:01.000", bad])
    out = tmp_path / "o.mp4"
    assert main(_render(inputs / "m.avatar", take, out)) == 2
    err = _one_clear_error(capsys, str(take), "row 4", "column 'Timecode'")
    assert len(err) < 400  # the 5000 digits are not echoed back
    assert not out.exists() and not _leftovers(tmp_path)


def test_livelink_timecodes_of_other_tools_still_fall_back_to_60_fps(inputs, tmp_path, capsys):
    # Unchanged: text that is no HH:MM:SS:FF timecode at all is a warning and the default rate.
    take = _livelink(tmp_path / "take.csv", ["a", "b", "c"])
    with pytest.warns(UserWarning, match="assuming 60 fps"):
        assert main(_render(inputs / "m.avatar", take, tmp_path / "o.mp4")) == 0


def test_an_avatar_header_with_a_5000_digit_number_names_the_file(inputs, tmp_path, capsys):
    data = (inputs / "m.avatar").read_bytes()
    end = 8 + int.from_bytes(data[:8], "little")
    header = data[8:end].replace(b'"__metadata__":{', b'"__metadata__":{"n":' + DIGITS_5000.encode() + b",", 1)
    bad = tmp_path / "m.avatar"
    bad.write_bytes(len(header).to_bytes(8, "little") + header + data[end:])
    assert main(["info", str(bad)]) == 2
    _one_clear_error(capsys, f"{bad}: not a valid .avatar file")
