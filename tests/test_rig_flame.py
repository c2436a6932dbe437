"""FLAME loader: our chumpy-free reader + FLAME LBS against smplx.FLAME on a synthetic file in
FLAME's exact layout, plus the safety and error paths."""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import flame_fixture as fx
from avatar.rig.errors import RigFileError
from avatar.rig.flame import load_flame
from avatar.rig.flame_pickle import SafeUnpickler, resolve
from avatar.rig.loaders import load_rig
from avatar.rig.params import RigParams

NUM_SHAPE, NUM_EXPR, FRAMES = 100, 50, 4


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("flame")
    arrays = fx.make_flame_arrays(seed=0)
    lmk = fx.make_landmark_embedding(arrays, seed=1)
    chumpy_dir, static_dir, npz_dir = (root / n for n in ("chumpy", "static_only", "npz"))
    for d in (chumpy_dir, static_dir, npz_dir):
        d.mkdir()
    pkl = fx.write_chumpy_pickle(arrays, chumpy_dir / "generic_model.pkl")
    fx.write_smplx_embeddings(lmk, chumpy_dir)
    fx.write_smplx_embeddings(lmk, static_dir, dynamic=False)
    shutil.copy(pkl, static_dir / "generic_model.pkl")
    return {"root": root, "arrays": arrays, "lmk": lmk, "pkl": pkl,
            "static_pkl": static_dir / "generic_model.pkl",
            "npz": fx.write_npz(arrays, npz_dir / "flame2023.npz"),
            "smplx_dir": fx.write_smplx_folder(arrays, lmk, root / "smplx")}


def _random_params(gen: torch.Generator, dtype: torch.dtype, yaw: bool = True) -> RigParams:
    def r(*shape, scale=0.3):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(dtype)

    rotation = r(FRAMES, 3)
    if not yaw:  # pitch only: smplx then picks the zero-yaw contour row
        rotation[:, 1:] = 0
    return RigParams(shape=r(NUM_SHAPE, scale=1.0), expr=r(FRAMES, NUM_EXPR, scale=1.0),
                     jaw=r(FRAMES, 3), neck=r(FRAMES, 3), rotation=rotation, eyes=r(FRAMES, 6),
                     translation=r(FRAMES, 3, scale=0.1))


def _smplx_forward(folder: Path, p: RigParams, dtype: torch.dtype, contour: bool):
    """smplx.FLAME (the independent oracle; a dev dependency) on the plain-numpy twin file."""
    smplx = pytest.importorskip("smplx")
    model = smplx.FLAME(model_path=str(folder), num_betas=NUM_SHAPE, num_expression_coeffs=NUM_EXPR,
                        batch_size=FRAMES, dtype=dtype, use_face_contour=contour)
    with torch.no_grad():
        out = model(betas=p.shape[None].expand(FRAMES, -1), expression=p.expr, global_orient=p.rotation,
                    neck_pose=p.neck, jaw_pose=p.jaw, leye_pose=p.eyes[:, :3],
                    reye_pose=p.eyes[:, 3:], transl=p.translation)
    return out.vertices, out.joints[:, 5:]  # smplx appends landmarks after the 5 joints


def test_chumpy_is_really_absent():
    assert importlib.util.find_spec("chumpy") is None, "test must run without chumpy installed"
    assert "chumpy" not in sys.modules


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_vertices_and_landmarks_match_smplx(files, dtype, atol):
    rig = load_flame(files["pkl"], num_shape=NUM_SHAPE, num_expr=NUM_EXPR, dtype=dtype)
    assert "chumpy" not in sys.modules
    assert rig.landmark_scheme == "ibug68" and rig.lmk_faces.shape == (68,)
    gen = torch.Generator().manual_seed(3)
    p = _random_params(gen, dtype)
    verts = rig.forward(p)
    ref_verts, ref_lmk = _smplx_forward(files["smplx_dir"], p, dtype, contour=False)
    assert verts.dtype == dtype
    torch.testing.assert_close(verts, ref_verts, atol=atol, rtol=0)
    # smplx's static landmarks are iBUG 17..67; ours put the 17 contour points first.
    torch.testing.assert_close(rig.landmarks(verts)[:, 17:], ref_lmk, atol=atol, rtol=0)


def test_contour_landmarks_match_smplx_at_zero_yaw(files):
    rig = load_flame(files["pkl"], num_shape=NUM_SHAPE, num_expr=NUM_EXPR, dtype=torch.float64)
    p = _random_params(torch.Generator().manual_seed(4), torch.float64, yaw=False)
    _, ref_lmk = _smplx_forward(files["smplx_dir"], p, torch.float64, contour=True)  # static, then contour
    ours = rig.landmarks(rig.forward(p))
    torch.testing.assert_close(ours[:, :17], ref_lmk[:, 51:], atol=1e-10, rtol=0)
    torch.testing.assert_close(ours[:, 17:], ref_lmk[:, :51], atol=1e-10, rtol=0)


def test_static_only_embedding_gives_ibug51(files):
    rig = load_flame(files["static_pkl"], num_shape=NUM_SHAPE, num_expr=NUM_EXPR, dtype=torch.float64)
    assert rig.landmark_scheme == "ibug51" and rig.lmk_faces.shape == (51,)
    p = _random_params(torch.Generator().manual_seed(5), torch.float64)
    _, ref_lmk = _smplx_forward(files["smplx_dir"], p, torch.float64, contour=False)
    torch.testing.assert_close(rig.landmarks(rig.forward(p)), ref_lmk, atol=1e-10, rtol=0)


@pytest.mark.parametrize("with_full", [True, False])
def test_deca_embedding_matches_smplx_style(files, with_full, tmp_path):
    shutil.copy(files["pkl"], tmp_path / "generic_model.pkl")
    fx.write_deca_embedding(files["lmk"], tmp_path, with_full=with_full)
    deca = load_flame(tmp_path / "generic_model.pkl")
    smplx_style = load_flame(files["pkl"])
    assert deca.landmark_scheme == "ibug68"
    assert torch.equal(deca.lmk_faces, smplx_style.lmk_faces)
    assert torch.equal(deca.lmk_bary, smplx_style.lmk_bary)


def test_npz_and_protocol0_load_identically(files, tmp_path):
    ref = load_flame(files["pkl"])
    p0 = fx.write_chumpy_pickle(files["arrays"], tmp_path / "flame2020_p0.pkl", protocol=0)
    for other in (load_flame(files["npz"]), load_flame(p0)):
        for key in ("v_template", "faces", "shapedirs", "exprdirs", "posedirs", "j_regressor",
                    "lbs_weights", "parents"):
            assert torch.equal(getattr(other, key), getattr(ref, key)), key


def test_metadata_and_component_counts(files):
    rig = load_flame(files["pkl"], num_shape=500, num_expr=500)
    assert (rig.num_shape, rig.num_expr) == (300, 100)  # clamped to what the file has
    assert rig.name == "flame2020" and not rig.embeddable and rig.expr_names is None
    assert load_flame(files["npz"]).name == "flame2023"  # "2023" in the file name
    assert rig.parents.tolist() == [-1, 0, 1, 1, 1]
    arrays = files["arrays"]
    np.testing.assert_array_equal(rig.j_regressor.numpy(), arrays["J_regressor"].toarray().astype(np.float32))
    np.testing.assert_array_equal(rig.exprdirs.numpy(), arrays["shapedirs"][:, :, 300:400].astype(np.float32))


def test_sparse_formats_resolve_to_dense():
    m = sp.random(5, 40, density=0.2, random_state=0, format="csr")
    for fmt in ("csc", "csr", "coo"):
        blob = pickle.dumps({"J": m.asformat(fmt)}, protocol=2)
        got = resolve(SafeUnpickler(io.BytesIO(blob)).load())["J"]
        np.testing.assert_array_equal(got, m.toarray())


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_flame(tmp_path / "nope.pkl")
    assert isinstance(e.value, RigFileError)
    assert "nope.pkl" in str(e.value) and "flame.is.tue.mpg.de" in str(e.value)


def test_truncated_pickle(files, tmp_path):
    bad = tmp_path / "generic_model.pkl"
    bad.write_bytes(files["pkl"].read_bytes()[: files["pkl"].stat().st_size // 2])
    with pytest.raises(RigFileError, match="truncated or corrupt"):
        load_flame(bad)


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "generic_model.pkl"
    bad.write_bytes(pickle.dumps({"v_template": _Exploit(marker)}, protocol=2))
    with pytest.raises(RigFileError, match=r"refusing to load global '(posix|os|nt)\.system'") as e:
        load_flame(bad)
    assert str(bad) in str(e.value)
    assert not marker.exists()


def test_missing_key_and_bad_shape(files, tmp_path):
    arrays = dict(files["arrays"])
    del arrays["shapedirs"]
    fx.write_chumpy_pickle(arrays, tmp_path / "generic_model.pkl")
    with pytest.raises(RigFileError, match="missing key.*shapedirs"):
        load_flame(tmp_path / "generic_model.pkl")
    arrays = dict(files["arrays"], posedirs=np.zeros((300, 3, 35)))
    fx.write_npz(arrays, tmp_path / "bad.npz")
    with pytest.raises(RigFileError, match="'posedirs' has shape"):
        load_flame(tmp_path / "bad.npz")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(RigFileError, match="not FLAME's dict"):
        load_flame(tmp_path / "list.pkl")


def test_load_rig_specs(files, monkeypatch):
    assert load_rig(f"flame:{files['pkl']}").num_vertices == 300
    monkeypatch.setenv("AVATAR_FLAME_PATH", str(files["npz"]))
    assert load_rig("flame").name == "flame2023"
    monkeypatch.delenv("AVATAR_FLAME_PATH")
    with pytest.raises(RigFileError, match="AVATAR_FLAME_PATH"):
        load_rig("flame")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_rig(f"flame:{files['root'] / 'missing.pkl'}")
    with pytest.raises(RigFileError, match="accepted rig specs"):
        load_rig("smpl:/x")


def test_load_rig_builtin_dispatches():
    pytest.importorskip("avatar.rig.builtin", reason="the builtin head is written separately")
    rig = load_rig("builtin")
    assert rig.name == "builtin" and rig.num_vertices > 0
