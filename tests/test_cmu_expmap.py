"""CMU motion-prediction benchmark reader: row-vector FK parity, T-pose frame, file listing, bad input."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from sparse_mocap_addon.core.mocap.formats import cmu_expmap as cm
from sparse_mocap_addon.core.mocap.source import SourceFormatError
from tests.conftest import SHARED_DATA

DATA = SHARED_DATA / "cmu_expmap"
needs_data = pytest.mark.skipif(not (DATA / "skeleton.json").is_file(),
                                reason=f"shared CMU exp-map data not found at {DATA}")


# --- a direct transcription of the benchmark's row-vector forward kinematics ----------------------

def _rodrigues(r):
    # The benchmark's code divides by (theta + float32 eps); exact division is used here so the
    # comparison can be 1e-9 (the eps changes rotations by at most about 1e-7 rad).
    theta = np.linalg.norm(r)
    if theta == 0.0:
        return np.eye(3)
    axis = r / theta
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * (k @ k)


def _row_vector_fk(line, offsets, parents):
    """R_global[j] = R_local[j] @ R_global[parent]; p[j] = offsets[j] @ R_global[parent] + p[parent]."""
    n = len(parents)
    rot = [None] * n
    pos = np.zeros((n, 3))
    for j in range(n):
        local = _rodrigues(line[3 + 3 * j:6 + 3 * j])
        if parents[j] < 0:
            rot[j] = local
            pos[j] = line[:3] + offsets[j]
        else:
            rot[j] = local @ rot[parents[j]]
            pos[j] = offsets[j] @ rot[parents[j]] + pos[parents[j]]
    return pos


def _line(values):
    return ",".join(repr(float(v)) for v in values)


def _write(path, lines, gz=False):
    text = "\n".join(lines) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


# --- synthetic files ------------------------------------------------------------------------------

def test_skeleton_table():
    sk = cm.skeleton()
    assert sk.num_joints == 38 and cm.VALUES_PER_LINE == 117
    assert sk.names[0] == "root" and sk.parents[0] == -1
    assert list(np.flatnonzero(sk.end_site)) == [i for i, n in enumerate(sk.names) if n.endswith("_end")]
    assert cm.METRES_PER_UNIT == pytest.approx(0.05644, abs=1e-5)


def test_random_frames_match_row_vector_fk(tmp_path):
    rng = np.random.default_rng(3)
    rows = rng.normal(scale=0.9, size=(6, 117))
    rows[:, :3] = rng.normal(scale=20.0, size=(6, 3))
    motion = cm.read_cmu_expmap(_write(tmp_path / "walking_1.txt", [_line(r) for r in rows]), fps=50.0)
    assert motion.fps == 50.0 and motion.up_axis == "Y" and motion.num_frames == 6
    positions, _ = motion.global_transforms()
    for t in range(6):
        ref = _row_vector_fk(rows[t], cm.OFFSETS, cm.PARENTS)
        np.testing.assert_allclose(positions[t], ref, atol=1e-9)


def test_single_rotation_by_hand(tmp_path):
    # Root turned +90 degrees about Y (benchmark sense: a row vector times rodrigues(e)).
    row = np.zeros(117)
    row[:3] = (1.0, 2.0, 3.0)
    row[3:6] = (0.0, np.pi / 2, 0.0)
    motion = cm.read_cmu_expmap(_write(tmp_path / "a_1.txt", [_line(row)]))
    positions, _ = motion.global_transforms()
    lfemur = cm.NAMES.index("lfemur")
    offset = cm.OFFSETS[lfemur]
    # row vector @ Ry(90): (x, y, z) -> (-z, y, x); lhipjoint sits on the root with a zero offset.
    expected = np.array([1.0, 2.0, 3.0]) + np.array([-offset[2], offset[1], offset[0]])
    np.testing.assert_allclose(positions[0, lfemur], expected, atol=1e-12)


def test_gzip_and_plain_agree_and_blank_lines_are_skipped(tmp_path):
    rng = np.random.default_rng(0)
    rows = [_line(r) for r in rng.normal(size=(3, 117))]
    plain = cm.read_cmu_expmap(_write(tmp_path / "x_1.txt", rows[:1] + [""] + rows[1:]))
    packed = cm.read_cmu_expmap(_write(tmp_path / "x_1.txt.gz", rows, gz=True))
    assert plain.num_frames == packed.num_frames == 3
    np.testing.assert_array_equal(plain.rotations, packed.rotations)
    np.testing.assert_array_equal(plain.root_position, packed.root_position)


@pytest.mark.parametrize("bad, line, words", [
    ("short", 3, "116 comma-separated values"),
    ("long", 3, "118 comma-separated values"),
    ("nan", 3, "non-finite"),
    ("inf", 3, "non-finite"),
    ("word", 3, "'abc' is not a number"),
    ("empty", 3, "'' is not a number"),
])
def test_malformed_lines(tmp_path, bad, line, words):
    good = _line(np.zeros(117))
    values = ["0.5"] * 117
    if bad == "short":
        values = values[:-1]
    elif bad == "long":
        values = values + ["1"]
    elif bad == "nan":
        values[40] = "nan"
    elif bad == "inf":
        values[7] = "-inf"
    elif bad == "word":
        values[12] = "abc"
    elif bad == "empty":
        values[12] = ""
    path = _write(tmp_path / "bad_1.txt", [good, good, ",".join(values), good])
    with pytest.raises(SourceFormatError) as info:
        cm.read_cmu_expmap(path)
    message = str(info.value)
    assert str(path) in message and f"line {line}" in message and words in message
    assert message.count(".") >= 1 and "\n" not in message


def test_empty_missing_and_damaged_files(tmp_path):
    with pytest.raises(SourceFormatError, match="no frames"):
        cm.read_cmu_expmap(_write(tmp_path / "e_1.txt", [""]))
    with pytest.raises(SourceFormatError, match="cannot be read"):
        cm.read_cmu_expmap(tmp_path / "missing_1.txt")
    damaged = tmp_path / "d_1.txt.gz"
    damaged.write_bytes(gzip.compress(b"1,2,3\n" * 100)[:30])
    with pytest.raises(SourceFormatError, match="gzip"):
        cm.read_cmu_expmap(damaged)
    with pytest.raises(ValueError):
        cm.read_cmu_expmap(_write(tmp_path / "f_1.txt", [_line(np.zeros(117))]), fps=0.0)


def test_benchmark_files_on_a_small_tree(tmp_path):
    for split, action, name in [("train", "walking", "walking_10.txt.gz"), ("train", "walking", "walking_2.txt"),
                                ("test", "jumping", "jumping_1.txt.gz"),
                                ("train", "walking_extra", "walking_13.txt.gz"), ("train", "walking", "notes.md")]:
        folder = tmp_path / split / action
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("")
    found = cm.benchmark_files(tmp_path)
    assert [(s, a, p.name) for s, a, p in found] == [
        ("train", "walking", "walking_2.txt"), ("train", "walking", "walking_10.txt.gz"),
        ("train", "walking_extra", "walking_13.txt.gz"), ("test", "jumping", "jumping_1.txt.gz")]
    with pytest.raises(FileNotFoundError):
        cm.benchmark_files(tmp_path / "nowhere")


# --- the real benchmark files ---------------------------------------------------------------------

@needs_data
def test_embedded_table_equals_skeleton_json():
    ref = json.loads((DATA / "skeleton.json").read_text())
    assert list(cm.NAMES) == ref["names"]
    assert cm.PARENTS.tolist() == ref["parents"]
    np.testing.assert_array_equal(cm.OFFSETS, np.array(ref["offsets"]))


@needs_data
def test_benchmark_listing_on_shared_data():
    found = cm.benchmark_files(DATA)
    assert len(found) == 96
    splits = {s for s, _, _ in found}
    assert splits == {"train", "test"}
    assert sum(1 for s, a, _ in found if a == "walking_extra") == 58
    assert all(p.parent.name == a and p.parent.parent.name == s for s, a, p in found)


@needs_data
@pytest.mark.parametrize("rel", ["test/walking/walking_1.txt.gz", "train/soccer/soccer_2.txt.gz",
                                 "test/washwindow/washwindow_1.txt.gz"])
def test_real_frames_match_row_vector_fk(rel):
    path = DATA / rel
    if not path.is_file():
        pytest.skip(f"{path} is not in this copy of the data")
    rows = cm.read_values(path)
    motion = cm.read_cmu_expmap(path)
    frames = np.unique(np.linspace(0, len(rows) - 1, 12).astype(int))
    positions, _ = motion.global_transforms()
    for t in frames:
        np.testing.assert_allclose(positions[t], _row_vector_fk(rows[t], cm.OFFSETS, cm.PARENTS), atol=1e-9)


@needs_data
def test_first_walking_frame_is_a_t_pose_y_up_x_left():
    motion = cm.read_cmu_expmap(DATA / "test/walking/walking_1.txt.gz")
    assert motion.metres_per_unit == pytest.approx(0.0254 / 0.45)
    p, _ = motion.global_transforms()
    p = p[0] * motion.metres_per_unit
    at = {name: p[i] for i, name in enumerate(motion.skeleton.names)}
    # Y up: head above the pelvis, feet well below it.
    assert at["head_end"][1] > at["head"][1] > at["thorax"][1] > at["root"][1]
    assert at["root"][1] - at["lfoot"][1] > 0.75 and at["root"][1] - at["rfoot"][1] > 0.75
    height = at["head_end"][1] - min(at["ltoes"][1], at["rtoes"][1])
    assert 1.4 < height < 2.1
    # +X is the subject's left, for hips, hands and feet.
    for left, right in [("lfemur", "rfemur"), ("lwrist", "rwrist"), ("lfoot", "rfoot")]:
        assert at[left][0] - at[right][0] > 0.1
    # Arms out: wrists about at shoulder height and far apart; legs straight down.
    for side in "lr":
        assert abs(at[f"{side}wrist"][1] - at[f"{side}humerus"][1]) < 0.1
        shin = at[f"{side}foot"] - at[f"{side}tibia"]
        thigh = at[f"{side}tibia"] - at[f"{side}femur"]
        for bone in (shin, thigh):
            assert bone[1] < -0.95 * np.linalg.norm(bone)
        # +Z is forward: toes ahead of the ankles.
        assert at[f"{side}toes_end"][2] - at[f"{side}foot"][2] > 0.1
    assert at["lwrist"][0] - at["rwrist"][0] > 1.2
