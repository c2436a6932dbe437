"""atomic_path: the target appears only complete; a failed write leaves neither it nor the partial."""

import pytest

from avatar.data.atomic import atomic_path


def test_a_completed_write_replaces_the_target(tmp_path):
    target = tmp_path / "out" / "a.json"
    with atomic_path(target) as partial:
        partial.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new" and not partial.exists()


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as partial:
        partial.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
