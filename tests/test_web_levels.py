"""The web export's levels of detail (avatar/export/web_levels.py, the `levels` of .webavatar
files): each level is a prefix of the file's Gaussians, the one lod.py picks, read back as the
pruned avatar; files without levels read as one; bad levels are refused."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from avatar.export.web_format import WebAvatarError, read_web_avatar, read_web_levels, write_web_avatar
from avatar.export.web_levels import WEB_KEEP_FRACTIONS, in_level_order, measured_on
from avatar.model import Avatar
from avatar.renderer.lod import levels_of_detail
from test_web_format import MIN_PSNR, frames, psnrs, scattered_avatar


@pytest.fixture(scope="module")
def ordered(cpu_extension):
    avatar = scattered_avatar()
    reordered, levels = in_level_order(avatar)
    return avatar, reordered, levels


def _rows(model) -> np.ndarray:
    """[N, ...] each Gaussian's base attributes in one row, to find it again after a reorder."""
    parts = [model.xyz, model.rot, model.log_scale, model.opacity_logit[:, None], model.sh_dc.flatten(1)]
    return torch.cat([p.detach() for p in parts], 1).numpy()


def test_the_coarse_level_is_a_prefix_holding_lods_level_in_the_models_order(ordered):
    avatar, reordered, levels = ordered
    n = avatar.model.num_gaussians
    assert [level["count"] for level in levels] == [n, round(WEB_KEEP_FRACTIONS[0] * n)]
    (level,) = levels_of_detail(avatar.model, *measured_on(avatar), WEB_KEEP_FRACTIONS, avatar.background)
    assert levels[1] == {
        "count": level.kept,
        "psnr_db": round(level.psnr_mean, 2),
        "psnr_min_db": round(level.psnr_min, 2),
    }
    # where each of the file's Gaussians was in the model: the level's first, then the others, each in order
    where = {row.tobytes(): i for i, row in enumerate(_rows(avatar.model))}
    source = np.array([where[row.tobytes()] for row in _rows(reordered.model)])
    rest = np.setdiff1d(np.arange(n), level.indices.numpy())
    np.testing.assert_array_equal(source, np.concatenate([level.indices.numpy(), rest]))
    for name, value in reordered.model.attribute_tensors().items():  # offsets and all, moved alike
        original = getattr(avatar.model, name).detach()
        moved = original[:, source] if name.startswith("d_") else original[source]
        assert torch.equal(value.detach(), moved), name
    assert torch.equal(reordered.model.parent, avatar.model.parent[source])


def test_a_level_reads_back_as_the_pruned_avatar(ordered, tmp_path):
    avatar, reordered, levels = ordered
    path = tmp_path / "levels.webavatar"
    write_web_avatar(reordered, path, levels=levels)
    assert read_web_levels(path) == levels
    coarse = read_web_avatar(path, backend="cpu", level=1)
    assert coarse.model.num_gaussians == levels[1]["count"]
    (level,) = levels_of_detail(avatar.model, *measured_on(avatar), WEB_KEEP_FRACTIONS, avatar.background)
    pruned = Avatar(level.model, avatar.identity(), avatar.background, backend="cpu")
    shots = frames(avatar.rig, 3)
    assert min(psnrs(pruned, coarse, shots)) >= MIN_PSNR  # the format's rounding only
    assert max(psnrs(avatar, coarse, shots)) < MIN_PSNR  # not the full avatar
    with pytest.raises(WebAvatarError, match=r"levels\.webavatar: no level of detail 2: it has 2"):
        read_web_avatar(path, level=2)


def test_files_without_levels_read_as_one_and_bad_levels_are_refused(ordered, tmp_path):
    from avatar.export.web_format import _header, _pack, _unpack

    avatar, reordered, levels = ordered
    path = tmp_path / "levels.webavatar"
    write_web_avatar(reordered, path, levels=levels)
    meta, arrays = _unpack(path.read_bytes())
    older = tmp_path / "older.webavatar"  # as written before the levels: no "levels" in the header
    older.write_bytes(_pack({k: v for k, v in meta.items() if k not in ("blocks", "levels")}, arrays)[0])
    assert "levels" not in _header(older.read_bytes())[0]
    n = avatar.model.num_gaussians
    assert read_web_levels(older) == [{"count": n, "psnr_db": None, "psnr_min_db": None}]
    assert read_web_avatar(older).model.num_gaussians == n
    with pytest.raises(WebAvatarError, match=r"older\.webavatar: no level of detail 1: it has 1"):
        read_web_avatar(older, level=1)
    for bad in ([{"count": n - 1}], [{"count": n}, {"count": n}], [{"count": n}, {"count": 0}], []):
        with pytest.raises(WebAvatarError, match="levels of detail"):
            write_web_avatar(reordered, tmp_path / "bad.webavatar", levels=bad)
        broken = tmp_path / "broken.webavatar"
        broken.write_bytes(_pack({k: v for k, v in meta.items() if k != "blocks"} | {"levels": bad or None}, arrays)[0])
        if bad:
            with pytest.raises(WebAvatarError, match=r"broken\.webavatar: levels of detail"):
                read_web_avatar(broken)
    assert not (tmp_path / "bad.webavatar").exists()
    assert struct.unpack_from("<I", path.read_bytes(), 8)[0] == 1  # the format's version is unchanged


def test_without_keep_fractions_the_avatar_is_one_level_as_it_is(cpu_extension):
    avatar = scattered_avatar()
    same, levels = in_level_order(avatar, ())
    assert same is avatar and levels == [{"count": avatar.model.num_gaussians, "psnr_db": None, "psnr_min_db": None}]
