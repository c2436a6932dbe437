"""`.avatar` integrity: every byte is covered by the digest, and a file whose digest is valid but
whose contents are inconsistent (crafted: the digest is no signature) is refused too."""

import json

import pytest
import torch
from safetensors.torch import save_file

from avatar.gaussians import GaussianAvatar
from avatar.gaussians.file_digest import DIGEST_KEY, DIGEST_PLACEHOLDER, seal, split_header
from avatar.gaussians.io import AvatarFileError, load_avatar, save_avatar
from tiny_rig import make_tiny_rig


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = GaussianAvatar.on_mesh(make_tiny_rig(), per_face=2, sh_degree=1, blend_expr=1)
    path = tmp_path_factory.mktemp("avatar") / "m.avatar"
    save_avatar(model, path, {"iterations": 3})
    return path


def test_editing_any_byte_of_the_header_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    end, header = split_header(data)
    assert DIGEST_KEY in header["__metadata__"]
    bad = tmp_path / "edited.avatar"
    for i in range(end):  # the length, the JSON layout, the tensor table and every metadata string
        edited = bytearray(data)
        edited[i] ^= 0x01
        bad.write_bytes(bytes(edited))
        with pytest.raises(AvatarFileError, match="edited.avatar"):
            load_avatar(bad)


def test_a_space_added_to_the_header_json_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    end, _ = split_header(data)
    assert data[end - 1:end] == b" " or data[end - 1:end] == b"}"
    # Same JSON meaning, one byte different: pad inside the header the way safetensors pads.
    header = data[8:end].rstrip(b" ")
    edited = (len(header) + 1).to_bytes(8, "little") + header.replace(b'{"', b'{ "', 1) + data[end:]
    (tmp_path / "spaced.avatar").write_bytes(edited)
    with pytest.raises(AvatarFileError, match="digest mismatch"):
        load_avatar(tmp_path / "spaced.avatar")


def _forge(saved, tmp_path, edit_tensors=None, edit_meta=None):
    """Rewrite the file with changed contents and a freshly computed, valid digest."""
    from safetensors import safe_open

    with safe_open(str(saved), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    if edit_tensors:
        edit_tensors(tensors)
    if edit_meta:
        edit_meta(meta)
    meta[DIGEST_KEY] = DIGEST_PLACEHOLDER
    path = tmp_path / "forged.avatar"
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
    seal(path)
    return path


def _set(key, value):
    def edit(d):
        d[key] = value
    return edit


def _poke(key, index, value):
    def edit(d):
        d[key] = d[key].clone()
        d[key].view(-1)[index] = value
    return edit


def _version_2(blend_expr):
    """A version 2 file's tensors: the offsets' expressions as indices, no basis."""
    def edit(d):
        d.pop("gaussians.expr_mean"), d.pop("gaussians.expr_basis")
        d["gaussians.blend_expr"] = blend_expr
    return edit


def _with_pose(mean=None, low=(-0.1, -0.1, -0.1), high=(0.1, 0.1, 0.1), keys=("mean", "low", "high")):
    """Head-pose driver tensors added to the file (whose offsets were trained without them)."""
    values = {"mean": torch.eye(3) if mean is None else mean, "low": torch.tensor(low), "high": torch.tensor(high)}

    def edit(d):
        d.update({f"gaussians.pose_{k}": values[k] for k in keys})
    return edit


CRAFTED = {
    "parent beyond the faces": (_poke("gaussians.parent", 0, 10_000), None, "gaussians.parent"),
    "negative parent": (_poke("gaussians.parent", 3, -1), None, "gaussians.parent"),
    "NaN position": (_poke("gaussians.xyz", 5, float("nan")), None, "gaussians.xyz"),
    "1e30 colour offset": (_poke("gaussians.d_color", 2, 1e30), None, "gaussians.d_color"),
    "infinite rig vertex": (_poke("rig.v_template", 0, float("inf")), None, "rig.v_template"),
    "face index beyond the vertices": (_poke("rig.faces", 0, 99_999), None, "rig.faces"),
    "sh degree without its coefficients": (None, _set("sh_degree", "2"), "gaussians.sh_rest"),
    "sh degree out of range": (None, _set("sh_degree", "9"), "sh_degree"),
    "offsets for another driver count": (_set("gaussians.expr_basis", torch.eye(2)), None, "gaussians.d_xyz"),
    "a basis of another rig's expressions": (_set("gaussians.expr_basis", torch.zeros(1, 3)), None, "expression basis"),
    "a NaN in the expression basis": (_poke("gaussians.expr_basis", 1, float("nan")), None, "gaussians.expr_basis"),
    "an expression mean of integers": (_set("gaussians.expr_mean", torch.zeros(2, dtype=torch.int32)), None,
                                       "gaussians.expr_mean"),
    "version 2: offsets for another driver count": (_version_2(torch.tensor([0, 1])), _set("version", "2"),
                                                    "gaussians.d_xyz"),
    "version 2: repeated expression": (_version_2(torch.tensor([0, 0])), _set("version", "2"), "distinct"),
    "expression names of another rig": (None, _set("rig_expr_names", json.dumps(["a", "b", "c", "d", "e"])),
                                        "expression names"),
    "config that is not an object": (None, _set("config", "[1, 2]"), "config"),
    "a missing tensor": (lambda d: d.pop("gaussians.d_rot"), None, "gaussians.d_rot"),
    "an unknown rig array": (_set("rig.extra", torch.zeros(2)), None, "unknown rig arrays"),
    "a head cut beyond the rig's vertices": (
        None, _set("config", json.dumps({"head_cut": {"ring": [0, 1, 99_999], "sides": [0, 1], "top": 2,
                                                      "neck_margin": 0.02}})), "head_cut"),
    "pose drivers the offsets have no slots for": (_with_pose(), None, "gaussians.d_xyz"),
    "part of the pose drivers": (_with_pose(keys=("mean", "high")), None, "without the rest"),
    "pose drivers in a version 3 file": (_with_pose(), _set("version", "3"), "version 3 file holds"),
    "a pose mean that is no rotation": (_with_pose(mean=2 * torch.eye(3)), None, "not a rotation matrix"),
    "a mirrored pose mean": (_with_pose(mean=torch.diag(torch.tensor([1.0, 1.0, -1.0]))), None,
                             "not a rotation matrix"),
    "a pose range upside down": (_with_pose(low=(0.1, 0.0, 0.0), high=(0.0, 0.0, 0.0)), None, "pose_low is above"),
    "a NaN in the pose range": (_with_pose(high=(float("nan"), 0.0, 0.0)), None, "gaussians.pose_high"),
    "a head cut without its sides": (
        None, _set("config", json.dumps({"head_cut": {"ring": [0, 1, 2], "top": 2, "neck_margin": 0.02}})), "head_cut"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_file_with_a_valid_digest_is_refused(saved, tmp_path, case):
    edit_tensors, edit_meta, message = CRAFTED[case]
    forged = _forge(saved, tmp_path, edit_tensors, edit_meta)
    with pytest.raises(AvatarFileError, match=message):
        load_avatar(forged)


def test_the_forging_helper_itself_makes_loadable_files(saved, tmp_path):
    model, config = load_avatar(_forge(saved, tmp_path))
    assert config == {"iterations": 3} and model.num_blend_expr == 1


def test_a_version_2_file_loads_with_its_selected_expressions_driving_the_offsets(saved, tmp_path):
    """Files written before the expression basis name the expressions whose weights drive the offsets."""
    model, _ = load_avatar(_forge(saved, tmp_path, _version_2(torch.tensor([1])), _set("version", "2")))
    params = model.rig.zero_params(2)
    params.expr = torch.rand(2, model.rig.num_expr)
    params.jaw = torch.rand(2, 3)
    assert model.blend_expr.tolist() == [1]
    assert torch.equal(model.drivers(params), torch.cat([params.expr[:, [1]], params.jaw], -1))


@pytest.mark.parametrize("edit", [_set("gaussians.expr_mean", torch.tensor([0.3, 0.1])),
                                  _set("gaussians.expr_basis", torch.tensor([[0.6, -0.8]]))],
                         ids=["a mean subtracted", "rows over several expressions"])
def test_a_file_trained_with_the_removed_pca_basis_is_refused_with_why(saved, tmp_path, capsys, edit):
    """An older build's `expr_pca_variance` drove the offsets by a PCA of the training expressions
    (a mean and rows over all of them): the file names itself and says to train it again."""
    from avatar.cli.main import main

    forged = _forge(saved, tmp_path, edit)
    with pytest.raises(AvatarFileError, match=r"forged\.avatar: .*expr_pca_variance option, which has been "
                                              r"removed; train it again"):
        load_avatar(forged)
    assert main(["info", str(forged)]) == 2
    assert "expr_pca_variance" in capsys.readouterr().err


def test_an_older_file_without_the_whole_file_digest_is_refused(saved, tmp_path):
    def downgrade(meta):
        meta.pop(DIGEST_KEY)
        meta["version"] = "1"
        meta["checksum"] = "0" * 64

    from safetensors import safe_open

    with safe_open(str(saved), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    downgrade(meta)
    save_file(tensors, str(tmp_path / "old.avatar"), metadata=meta)
    with pytest.raises(AvatarFileError, match="older version"):
        load_avatar(tmp_path / "old.avatar")
