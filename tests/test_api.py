"""The library API the CLI uses: load, render (with the avatar's own identity), train, evaluate,
and models that move whole."""

import numpy as np
import pytest
import torch

import avatar
from avatar.data.expressions import save_expression_file
from avatar.data.synthetic import make_synthetic_capture
from avatar.rig.loaders import load_rig


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    make_synthetic_capture(load_rig("builtin"), root / "capture", num_train=4, num_test=2, size=48,
                           random_identity=True, progress=False)
    me = avatar.train(root / "capture", root / "me.avatar", preset="fast", iterations=20, backend="torch",
                      eval_every=0, progress=False)
    return root, me


def test_train_load_render_the_neutral_face(trained):
    root, me = trained
    again = avatar.load(root / "me.avatar", backend="torch")
    me.backend = "torch"
    image = again.render(size=64)
    assert image.shape == (64, 64, 3) and 0 <= float(image.min()) and float(image.max()) <= 1
    assert torch.equal(image, me.render(size=64))
    assert float((image - 1).abs().mean()) > 0.01  # a head, not the white background


def test_expression_files_render_with_the_avatars_identity(trained, tmp_path):
    root, me = trained
    me.backend = "torch"
    identity = me.identity_shape
    assert identity.abs().sum() > 0  # the capture had a random identity
    stranger = me.rig.zero_params(3)
    stranger.shape = torch.ones_like(stranger.shape)  # someone else's face shape in the file
    save_expression_file(tmp_path / "e.npz", stranger, 25.0, me.rig.expr_names)
    params, fps = me.params(tmp_path / "e.npz")
    assert fps == 25.0 and torch.equal(params.shape, identity)
    assert torch.equal(me.render(tmp_path / "e.npz", frame=2, size=32), me.render(size=32))  # neutral rows
    assert torch.equal(stranger.shape, torch.ones_like(stranger.shape))  # the caller's params are untouched
    with pytest.raises(ValueError, match="frame 3"):
        me.render(tmp_path / "e.npz", frame=3)


def test_evaluate_matches_between_api_and_cli(trained, tmp_path):
    import json

    from avatar.cli.main import main

    root, me = trained
    metrics = avatar.evaluate(me, root / "capture", ["test"])
    assert main(["eval", str(root / "me.avatar"), str(root / "capture"), "--split", "test", "--backend", "torch",
                 "--json", str(tmp_path / "m.json")]) == 0
    cli = json.loads((tmp_path / "m.json").read_text())["test"]
    assert np.isclose(metrics["test"]["psnr"], cli["psnr"], atol=1e-4)


def test_a_model_moves_whole():
    from avatar.gaussians import GaussianAvatar

    model = GaussianAvatar.on_mesh(load_rig("builtin")).double()
    assert model.xyz.dtype == torch.float64 and model.rig.v_template.dtype == torch.float64
    assert model.rig.faces.dtype == torch.long and model.parent.dtype == torch.long


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch):
    """The README's library example, executed as it stands against a small demo in ./demo."""
    from pathlib import Path

    from avatar.cli.demo import run_demo

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "avatar.load(\"demo/model.avatar\")" in example
    run_demo(tmp_path / "demo", size=32, num_train=4, num_test=2, iterations=10)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    assert (tmp_path / "neutral.png").is_file()


def test_an_arkit_map_that_would_go_unused_is_refused(trained, tmp_path):
    """--arkit-map only maps Live Link .csv files: given with another source it used to be
    ignored, whatever it named (found by fuzzing the CLI)."""
    from avatar.cli.main import main

    root, me = trained
    take = tmp_path / "take.json"
    save_expression_file(take, me.rig.zero_params(2), 25.0)
    with pytest.raises(ValueError, match="applies only to a Live Link Face .csv"):
        me.params(take, arkit_map=tmp_path / "no-such-map.npz")
    assert main(["render", str(root / "me.avatar"), "--expr", str(take), "--out", str(tmp_path / "r.mp4"),
                 "--arkit-map", str(tmp_path / "no-such-map.npz"), "--size", "32"]) == 2
    assert not (tmp_path / "r.mp4").exists()
