"""BVH reader/writer: channel conventions against hand-built rotations, naming, malformed files,
round trips, and the real CMU files in ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import gzip
import itertools
import os
import re
from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.mocap.formats.bvh import read_bvh, write_bvh
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat, euler_to_quat, quat_normalize
from sparse_mocap_addon.core.mocap.source import SourceFormatError, SourceMotion, SourceSkeleton
from tests.conftest import SHARED_DATA

BVH_ORDERS = ["".join(p) for p in itertools.permutations("XYZ")]


# --- helpers -------------------------------------------------------------------------------------

def _rot(axis: str, degrees: float) -> np.ndarray:
    """Elementary rotation matrix, written out by hand (column vectors)."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return {
        "X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


def _channels(order: str) -> str:
    return " ".join(f"{a}rotation" for a in order)


def _write(tmp_path, text: str, name="test.bvh") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _same_rotation(a, b, atol=1e-9):
    dots = np.abs(np.sum(quat_normalize(a) * quat_normalize(b), axis=-1))
    np.testing.assert_allclose(dots, 1.0, atol=atol)


SIMPLE = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.033333
1 2 3 0 0 0 0 0 0
4 5 6 0 0 0 10 20 30
"""
# Line numbers in SIMPLE: 1 HIERARCHY, 2 ROOT, 5 root CHANNELS, 6 JOINT Spine, 7 its '{', 8 its OFFSET,
# 9 its CHANNELS, 13-15 closing braces, 16 MOTION, 17 Frames, 18 Frame Time, 19-20 frame lines.


SPINE_CHANNELS = "CHANNELS 3 Zrotation Xrotation Yrotation"


def _simple(tmp_path, replace=None, name="test.bvh", lines=None):
    text = SIMPLE
    if replace:
        for old, new in replace:
            assert old in text, old
            text = text.replace(old, new)
    if lines is not None:
        text = "\n".join(lines(text.split("\n")))
    return _write(tmp_path, text, name)


def _assert_error(path, line: int, *words):
    with pytest.raises(SourceFormatError) as info:
        read_bvh(path)
    message = str(info.value)
    assert str(path) in message, message
    assert f"line {line}:" in message, message
    for word in words:
        assert word.lower() in message.lower(), message
    assert "\n" not in message and message.endswith("."), message
    return message


# --- conventions ---------------------------------------------------------------------------------

def test_simple_file(tmp_path):
    m = read_bvh(_simple(tmp_path))
    assert m.skeleton.names == ("Hips", "Spine", "Spine_end")
    assert list(m.skeleton.parents) == [-1, 0, 1]
    assert list(m.skeleton.end_site) == [False, False, True]
    np.testing.assert_allclose(m.skeleton.offsets, [[0, 0, 0], [0, 10, 0], [0, 5, 0]])
    np.testing.assert_allclose(m.root_position, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_allclose(m.rotations[0], np.tile([1.0, 0, 0, 0], (3, 1)))
    np.testing.assert_allclose(m.rotations[:, 2], np.tile([1.0, 0, 0, 0], (2, 1)))
    assert m.local_offsets is None
    assert m.fps == 30.0 and m.metadata["frame_time"] == pytest.approx(0.033333)
    assert m.up_axis is None and m.metres_per_unit is None
    assert m.source == str(tmp_path / "test.bvh")


def test_hand_computed_zxy(tmp_path):
    """'Zrotation Xrotation Yrotation' 90 90 0 is Rz(90) @ Rx(90): x -> y, y -> z, z -> x."""
    text = """HIERARCHY
ROOT R
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT A
  {
    OFFSET 1 0 0
    CHANNELS 0
  }
  JOINT B
  {
    OFFSET 0 1 0
  }
  JOINT C
  {
    OFFSET 0 0 1
  }
}
MOTION
Frames: 1
Frame Time: 0.1
10 20 30 90 90 0
"""
    m = read_bvh(_write(tmp_path, text))
    np.testing.assert_allclose(m.rotations[0, 0], [0.5, 0.5, 0.5, 0.5], atol=1e-12)
    pos, _ = m.global_transforms()
    np.testing.assert_allclose(pos[0], [[10, 20, 30], [10, 21, 30], [10, 20, 31], [11, 20, 30]], atol=1e-12)
    # The same rotation in Blender's order meaning: BVH "ZXY" is Blender "YXZ" with angles (y, x, z).
    _same_rotation(m.rotations[0, 0], euler_to_quat(np.radians([0.0, 90.0, 90.0]), "YXZ"))
    np.testing.assert_allclose(m.rotations[:, 1:], np.tile([1.0, 0, 0, 0], (1, 3, 1)))


@pytest.mark.parametrize("order", BVH_ORDERS)
def test_every_channel_order(tmp_path, order):
    rng = np.random.default_rng(len(order) + ord(order[0]) * 7 + ord(order[1]))
    angles = rng.uniform(-170, 170, size=(5, 2, 3))
    angles[0] = [[0, 0, 0], [90, -45, 30]]
    rows = []
    for t in range(5):
        rows.append(" ".join(f"{v:.9f}" for v in [0, 0, 0, *angles[t, 0], *angles[t, 1]]))
    text = f"""HIERARCHY
ROOT Root
{{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition {_channels(order)}
\tJOINT Arm
\t{{
\t\tOFFSET 0.3 0.2 0.1
\t\tCHANNELS 3 {_channels(order)}
\t\tEnd Site
\t\t{{
\t\t\tOFFSET 1 2 3
\t\t}}
\t}}
}}
MOTION
Frames: 5
Frame Time: 0.01
""" + "\n".join(rows) + "\n"
    m = read_bvh(_write(tmp_path, text))
    pos, _ = m.global_transforms()
    for t in range(5):
        root = _rot(order[0], angles[t, 0, 0]) @ _rot(order[1], angles[t, 0, 1]) @ _rot(order[2], angles[t, 0, 2])
        arm = _rot(order[0], angles[t, 1, 0]) @ _rot(order[1], angles[t, 1, 1]) @ _rot(order[2], angles[t, 1, 2])
        np.testing.assert_allclose(pos[t, 1], root @ [0.3, 0.2, 0.1], atol=1e-9)
        np.testing.assert_allclose(pos[t, 2], root @ [0.3, 0.2, 0.1] + root @ arm @ [1, 2, 3], atol=1e-9)
    # Blender's order string is the BVH one reversed, with the angles reversed too.
    expected = euler_to_quat(np.radians(angles[..., ::-1]), order[::-1])
    _same_rotation(m.rotations[:, :2], expected)
    assert m.metadata["rotation_orders"] == {"Root": order, "Arm": order}


def test_partial_rotation_channels_and_none(tmp_path):
    text = """HIERARCHY
ROOT Root
{
  OFFSET 0 0 0
  CHANNELS 3 Xposition Yposition Zposition
  JOINT One
  {
    OFFSET 1 0 0
    CHANNELS 1 Yrotation
    JOINT Two
    {
      OFFSET 1 0 0
      CHANNELS 2 Xrotation Zrotation
      JOINT Fixed
      {
        OFFSET 1 0 0
        CHANNELS 0
        JOINT Bare
        {
          OFFSET 0 1 0
        }
      }
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.02
0 0 0 90 30 40
"""
    m = read_bvh(_write(tmp_path, text))
    assert m.skeleton.num_joints == 5 and not m.skeleton.end_site.any()
    _same_rotation(m.rotations[0, 0], [1, 0, 0, 0])
    _same_rotation(m.rotations[0, 1], axis_angle_to_quat(np.radians(90) * np.array([0, 1.0, 0])))
    two = _rot("X", 30) @ _rot("Z", 40)
    pos, _ = m.global_transforms()
    ry = _rot("Y", 90)
    np.testing.assert_allclose(pos[0, 2], ry @ [1, 0, 0] + [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(pos[0, 3], pos[0, 2] + ry @ two @ [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(pos[0, 4], pos[0, 3] + ry @ two @ [0, 1, 0], atol=1e-12)
    _same_rotation(m.rotations[0, 3:], [[1, 0, 0, 0]] * 2)


def test_root_without_position_channels_uses_its_offset(tmp_path):
    path = _simple(tmp_path, [("OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition",
                               "OFFSET 7 8 9\n  CHANNELS 3"),
                              ("1 2 3 0 0 0 0 0 0", "0 0 0 0 0 0"), ("4 5 6 0 0 0 10 20 30", "0 0 0 10 20 30")])
    m = read_bvh(path)
    np.testing.assert_allclose(m.root_position, [[7, 8, 9], [7, 8, 9]])


def test_root_position_channels_replace_the_offset(tmp_path):
    m = read_bvh(_simple(tmp_path, [("OFFSET 0 0 0", "OFFSET 100 200 300")]))
    np.testing.assert_allclose(m.root_position, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_allclose(m.skeleton.offsets[0], [100, 200, 300])


def test_position_channels_below_the_root(tmp_path):
    text = """HIERARCHY
ROOT Root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT Slider
  {
    OFFSET 1 2 3
    CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
    JOINT Lift
    {
      OFFSET 4 5 6
      CHANNELS 2 Yposition Xrotation
      End Site
      {
        OFFSET 0 1 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
0 0 0 0 0 0 10 20 30 0 0 0 7 0
0 0 0 0 0 0 11 21 31 0 90 0 8 0
"""
    m = read_bvh(_write(tmp_path, text))
    assert m.fps == 2.0
    assert m.local_offsets.shape == (2, 4, 3)
    np.testing.assert_allclose(m.local_offsets[:, 1], [[10, 20, 30], [11, 21, 31]])
    np.testing.assert_allclose(m.local_offsets[:, 2], [[4, 7, 6], [4, 8, 6]])   # only Y animated
    np.testing.assert_allclose(m.local_offsets[:, 3], [[0, 1, 0], [0, 1, 0]])
    pos, _ = m.global_transforms()
    np.testing.assert_allclose(pos[1, 1], [11, 21, 31])
    np.testing.assert_allclose(pos[1, 2], [11, 21, 31] + _rot("X", 90) @ [4, 8, 6], atol=1e-12)


def test_end_site_and_duplicate_names(tmp_path):
    text = """HIERARCHY
ROOT Hand
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  End Site
  {
    OFFSET 0 1 0
  }
  JOINT Hand_end
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site Tip
    {
      OFFSET 1 0 0
    }
  }
  JOINT Left Finger
  {
    OFFSET 0 0 1
    CHANNELS 3 Zrotation Xrotation Yrotation
  }
  JOINT Left_Finger
  {
    OFFSET 0 0 1
    CHANNELS 3 Zrotation Xrotation Yrotation
  }
}
MOTION
Frames: 1
Frame Time: 0.01
0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
"""
    m = read_bvh(_write(tmp_path, text))
    assert m.skeleton.names == ("Hand", "Hand_end.001", "Hand_end", "Hand_end_end", "Left_Finger", "Left_Finger.001")
    assert list(m.skeleton.end_site) == [False, True, False, True, False, False]
    assert list(m.skeleton.parents) == [-1, 0, 0, 2, 0, 0]


def test_gzip_detected_by_content(tmp_path):
    plain = _simple(tmp_path)
    packed = tmp_path / "packed.bvh"                       # gzip data without a .gz name
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    misnamed = tmp_path / "plain.bvh.gz"                   # plain text with a .gz name
    misnamed.write_bytes(plain.read_bytes())
    ref = read_bvh(plain)
    for path in (packed, misnamed):
        m = read_bvh(path)
        np.testing.assert_array_equal(m.rotations, ref.rotations)
        np.testing.assert_array_equal(m.root_position, ref.root_position)
        assert m.source == str(path)


def test_line_endings_tabs_and_trailing_blank_lines(tmp_path):
    text = SIMPLE.replace("  ", "\t").replace("\n", " \r\n") + "\r\n\r\n   \n"
    path = tmp_path / "crlf.bvh"
    path.write_bytes(text.encode())
    m = read_bvh(path)
    ref = read_bvh(_simple(tmp_path))
    np.testing.assert_array_equal(m.rotations, ref.rotations)
    assert m.skeleton.names == ref.skeleton.names


@pytest.mark.parametrize("printed, fps", [("0.0083333", 120.0), (".0083333", 120.0), ("0.008333", 120.0),
                                          ("0.016667", 60.0), ("0.04", 25.0), ("0.0333667", 1 / 0.0333667),
                                          ("0.033", 1 / 0.033), ("0.3", 1 / 0.3),
                                          ("8.333333e-03", 1 / 8.333333e-03)])
def test_fps_from_frame_time(tmp_path, printed, fps):
    m = read_bvh(_simple(tmp_path, [("Frame Time: 0.033333", f"Frame Time: {printed}")]))
    assert m.fps == pytest.approx(fps, rel=1e-12)
    assert m.metadata["frame_time"] == float(printed)


def test_zero_frames(tmp_path):
    m = read_bvh(_simple(tmp_path, lines=lambda ls: ls[:16] + ["Frames: 0"] + ls[17:18]))
    assert m.num_frames == 0 and m.rotations.shape == (0, 3, 4)


# --- malformed files -----------------------------------------------------------------------------

def test_truncated_motion_block(tmp_path):
    path = _simple(tmp_path, lines=lambda ls: ls[:19] + [""])
    _assert_error(path, 19, "truncated", "Frames: 2", "only 1")


def test_wrong_number_of_values(tmp_path):
    path = _simple(tmp_path, [("4 5 6 0 0 0 10 20 30", "4 5 6 0 0 0 10 20")])
    message = _assert_error(path, 20, "expected 9", "found 8")
    assert "frame 2" in message


def test_extra_value_on_first_line(tmp_path):
    _assert_error(_simple(tmp_path, [("1 2 3 0 0 0 0 0 0", "1 2 3 0 0 0 0 0 0 0")]), 19, "expected 9, found 10")


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf"])
def test_non_finite_values(tmp_path, bad):
    path = _simple(tmp_path, [("4 5 6 0 0 0 10 20 30", f"4 5 6 0 0 0 10 {bad} 30")])
    _assert_error(path, 20, "not finite", "value 8")


def test_not_a_number(tmp_path):
    _assert_error(_simple(tmp_path, [("1 2 3 0 0 0 0 0 0", "1 2 3 0 0 0 0 x 0")]), 19, "not a number", "'x'")


def test_more_frame_lines_than_declared_is_refused(tmp_path):
    path = _simple(tmp_path, [("Frames: 2", "Frames: 1")])
    _assert_error(path, 20, "more frame lines", "Frames: 1")


def test_unknown_keyword(tmp_path):
    _assert_error(_simple(tmp_path, [("    OFFSET 0 10 0", "    OFSET 0 10 0")]), 8, "unknown keyword", "OFSET")


def test_missing_frame_time(tmp_path):
    _assert_error(_simple(tmp_path, [("Frame Time: 0.033333\n", "")]), 18, "Frame Time")


def test_bad_frame_time(tmp_path):
    _assert_error(_simple(tmp_path, [("Frame Time: 0.033333", "Frame Time: 0")]), 18, "Frame Time", "positive")


def test_missing_frames_line(tmp_path):
    _assert_error(_simple(tmp_path, [("Frames: 2", "Frame: 2")]), 17, "Frames:")


@pytest.mark.parametrize("bad", ["Xrot", "Wrotation", "position"])
def test_bad_channel_name(tmp_path, bad):
    _assert_error(_simple(tmp_path, [(SPINE_CHANNELS, f"CHANNELS 3 Zrotation {bad} Yrotation")]),
                  9, "bad channel name", bad)


def test_channel_count_mismatch(tmp_path):
    _assert_error(_simple(tmp_path, [(SPINE_CHANNELS, "CHANNELS 4 Zrotation Xrotation Yrotation")]),
                  9, "CHANNELS says 4", "lists 3")


def test_repeated_channel(tmp_path):
    _assert_error(_simple(tmp_path, [(SPINE_CHANNELS, "CHANNELS 3 Zrotation Xrotation Zrotation")]),
                  9, "listed twice")


def test_unbalanced_braces_missing_close(tmp_path):
    path = _simple(tmp_path, lines=lambda ls: ls[:13] + ls[14:])       # drop the '}' closing Spine
    _assert_error(path, 15, "unbalanced braces", "'Hips'", "line 2")     # MOTION is now line 15


def test_unbalanced_braces_extra_close(tmp_path):
    path = _simple(tmp_path, lines=lambda ls: ls[:15] + ["}"] + ls[15:])
    _assert_error(path, 16, "unbalanced braces", "'}'")


def test_missing_open_brace(tmp_path):
    path = _simple(tmp_path, lines=lambda ls: ls[:6] + ls[7:])         # drop Spine's '{'
    _assert_error(path, 7, "expected '{'", "'Spine'", "found 'OFFSET'")


def test_bad_offset(tmp_path):
    _assert_error(_simple(tmp_path, [("OFFSET 0 10 0", "OFFSET 0 10")]), 8, "OFFSET needs 3")
    _assert_error(_simple(tmp_path, [("OFFSET 0 10 0", "OFFSET 0 nan 0")]), 8, "OFFSET needs 3")


def test_missing_offset(tmp_path):
    _assert_error(_simple(tmp_path, [("    OFFSET 0 10 0\n", "")]), 13, "'Spine'", "no OFFSET")


def test_second_root(tmp_path):
    _assert_error(_simple(tmp_path, lines=lambda ls: ls[:15] + ["ROOT Other", "{", "OFFSET 0 0 0", "}"] + ls[15:]),
                  16, "second ROOT")


def test_no_motion_section(tmp_path):
    _assert_error(_simple(tmp_path, lines=lambda ls: ls[:15]), 15, "no MOTION")
    _assert_error(_simple(tmp_path, lines=lambda ls: ls[:15] + ls[18:]), 16, "expected MOTION", "'1'")


def test_not_a_bvh_file(tmp_path):
    _assert_error(_write(tmp_path, "hello world\nMOTION\n"), 1, "HIERARCHY")
    _assert_error(_write(tmp_path, "", name="empty.bvh"), 1, "empty")


def test_damaged_gzip(tmp_path):
    path = tmp_path / "broken.bvh.gz"
    path.write_bytes(gzip.compress(SIMPLE.encode())[:40])
    _assert_error(path, 1, "gzip")


def test_error_is_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        read_bvh(_simple(tmp_path, [("Frames: 2", "Frames: 3")]))


def _long_file(tmp_path, frames=5000):
    """A file long enough to be parsed by several threads, and its frame lines' first line number."""
    path = tmp_path / "long.bvh"
    write_bvh(path, _random_motion(frames=frames, seed=5))
    lines = path.read_text().split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("Frame Time:")) + 2
    return path, lines, first


def test_long_file_with_blank_lines(tmp_path):
    path, lines, first = _long_file(tmp_path)
    ref = read_bvh(path)
    lines[first + 2999:first + 2999] = ["", "   "]          # blank lines inside the MOTION block
    path.write_text("\n".join(lines) + "\n\n\n")
    m = read_bvh(path)
    assert m.num_frames == 5000
    np.testing.assert_array_equal(m.rotations, ref.rotations)


@pytest.mark.parametrize("frame", [0, 2600, 4999])
def test_long_file_errors_name_the_line(tmp_path, frame):
    path, lines, first = _long_file(tmp_path)
    lines[first - 1 + frame] += " 1.0"
    path.write_text("\n".join(lines))
    _assert_error(path, first + frame, f"frame {frame + 1}", "expected 27, found 28")
    lines[first - 1 + frame] = lines[first - 1 + frame].replace(" 1.0", "").replace("0", "n", 1)
    path.write_text("\n".join(lines))
    _assert_error(path, first + frame, f"frame {frame + 1}", "not a number")


def test_long_file_truncated(tmp_path):
    path, lines, first = _long_file(tmp_path)
    path.write_text("\n".join(lines[:first - 1 + 4000]))
    _assert_error(path, first + 3999, "truncated", "Frames: 5000", "only 4000")


# --- writing -------------------------------------------------------------------------------------

def _random_motion(frames=30, seed=0, local_offsets=False, near_lock=False):
    """A branching skeleton with end sites and large random rotations."""
    names = ["hips", "spine", "head", "head_end", "l_arm", "l_hand", "l_hand_end", "r_leg", "r_foot", "r_toe"]
    parents = [-1, 0, 1, 2, 1, 4, 5, 0, 7, 8]
    end = [False, False, False, True, False, False, True, False, False, False]
    rng = np.random.default_rng(seed)
    offsets = rng.normal(scale=0.3, size=(len(names), 3))
    offsets[0] = [0.1, 0.9, 0.0]
    rotations = axis_angle_to_quat(rng.normal(scale=1.2, size=(frames, len(names), 3)))
    if near_lock:
        # Middle angle at and within 1e-9 .. 1e-3 rad of +-90 degrees, for every order used below.
        for j, order in zip(range(len(names)), itertools.cycle(BVH_ORDERS)):
            a = rng.uniform(-3, 3, size=(frames, 3))
            a[:, 1] = np.sign(rng.normal(size=frames)) * (np.pi / 2 - 10.0 ** rng.uniform(-9, -3, frames))
            a[::5, 1] = np.pi / 2
            rotations[:, j] = euler_to_quat(a, order[::-1])
    root = rng.normal(scale=2.0, size=(frames, 3))
    sk = SourceSkeleton(names, parents, offsets, end)
    lo = None
    if local_offsets:
        lo = np.tile(offsets, (frames, 1, 1))
        lo[:, [1, 4, 8]] += rng.normal(scale=0.05, size=(frames, 3, 3))
    return SourceMotion(sk, 60.0, rotations, root, local_offsets=lo, source="random")


def _assert_same_motion(a: SourceMotion, b: SourceMotion):
    idx = [b.skeleton.index(n) for n in a.skeleton.names]
    pa, _ = a.global_transforms()
    pb, _ = b.global_transforms()
    scale = np.abs(pa).max()
    np.testing.assert_allclose(pb[:, idx], pa, atol=1e-5 * scale, rtol=0)
    keep = ~a.skeleton.end_site
    _same_rotation(b.rotations[:, idx][:, keep], a.rotations[:, keep], atol=1e-10)
    assert b.fps == a.fps
    assert list(b.skeleton.end_site[idx]) == list(a.skeleton.end_site)


@pytest.mark.parametrize("order", BVH_ORDERS)
def test_round_trip_every_order(tmp_path, order):
    m = _random_motion(seed=len(tmp_path.name))
    path = tmp_path / "out.bvh"
    write_bvh(path, m, rotation_order=order)
    back = read_bvh(path)
    _assert_same_motion(m, back)
    assert set(back.metadata["rotation_orders"].values()) == {order}
    assert back.local_offsets is None


@pytest.mark.parametrize("order", BVH_ORDERS)
def test_round_trip_near_gimbal_lock(tmp_path, order):
    m = _random_motion(frames=200, seed=3, near_lock=True)
    write_bvh(tmp_path / "lock.bvh", m, rotation_order=order, precision=9)
    _assert_same_motion(m, read_bvh(tmp_path / "lock.bvh"))


def test_round_trip_local_offsets_and_gzip(tmp_path):
    m = _random_motion(local_offsets=True)
    path = tmp_path / "moving.bvh.gz"
    write_bvh(path, m)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    back = read_bvh(path)
    _assert_same_motion(m, back)
    idx = [back.skeleton.index(n) for n in m.skeleton.names]
    np.testing.assert_allclose(back.local_offsets[:, idx][:, 1:], m.local_offsets[:, 1:], atol=1e-6)


def test_write_read_write_is_stable(tmp_path):
    m = _random_motion()
    write_bvh(tmp_path / "a.bvh", m)
    write_bvh(tmp_path / "b.bvh", read_bvh(tmp_path / "a.bvh"))
    assert (tmp_path / "a.bvh").read_text() == (tmp_path / "b.bvh").read_text()


def test_written_file_layout(tmp_path):
    write_bvh(tmp_path / "x.bvh", _random_motion(frames=3), rotation_order="zyx", precision=4)
    text = (tmp_path / "x.bvh").read_text()
    assert text.startswith("HIERARCHY\nROOT hips\n{\n")
    assert text.count("CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation") == 1
    assert text.count("CHANNELS 3 Zrotation Yrotation Xrotation") == 7
    assert text.count("End Site") == 2 and "head_end" not in text
    assert re.search(r"^Frames: 3$", text, re.M) and re.search(r"^Frame Time: 0\.01666", text, re.M)
    frame_lines = text.split("Frame Time:")[1].strip().split("\n")[1:]
    assert len(frame_lines) == 3 and all(len(line.split()) == 6 + 3 * 7 for line in frame_lines)
    assert re.fullmatch(r"-?\d+\.\d{4}", frame_lines[0].split()[0])


def test_end_site_with_children_is_refused(tmp_path):
    m = _random_motion()
    m.skeleton.end_site[1] = True          # 'spine' has children
    with pytest.raises(ValueError, match="spine"):
        write_bvh(tmp_path / "bad.bvh", m)
    assert list(tmp_path.iterdir()) == []


def test_bad_rotation_order(tmp_path):
    with pytest.raises(ValueError, match="rotation_order"):
        write_bvh(tmp_path / "bad.bvh", _random_motion(), rotation_order="XXY")


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.bvh"
    path.write_text("old contents")
    bad = _random_motion()
    bad.rotations[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_bvh(path, bad)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_bvh(path, _random_motion())
    assert path.read_text() == "old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bvh"]


def test_names_with_spaces_are_written_with_underscores(tmp_path):
    m = _random_motion()
    names = list(m.skeleton.names)
    names[4] = "left arm"
    m.skeleton.names = tuple(names)
    write_bvh(tmp_path / "s.bvh", m)
    assert "left_arm" in read_bvh(tmp_path / "s.bvh").skeleton.names


# --- real files ----------------------------------------------------------------------------------

REAL = ["cmu_bvh/001/001_01.bvh.gz", "cmu_salsa/60_01_scaled.bvh.gz", "cmu62/62_10.bvh.gz",
        "cmu_misc_bvh/131_01.bvh.gz"]


def _header_counts(path: Path):
    text = gzip.decompress(path.read_bytes()).decode("latin-1")
    frames = int(re.search(r"^\s*Frames:\s*(\d+)", text, re.M).group(1))
    channel_joints = len(re.findall(r"^\s*CHANNELS", text, re.M))
    end_sites = len(re.findall(r"^\s*End Site", text, re.M))
    return frames, channel_joints, end_sites


@pytest.mark.parametrize("relpath", REAL)
def test_real_files(relpath):
    path = SHARED_DATA / relpath
    if not path.exists():
        pytest.skip(f"real BVH data not available: {path} is absent")
    frames, channel_joints, end_sites = _header_counts(path)
    m = read_bvh(path)
    assert m.num_frames == frames
    assert m.skeleton.num_joints == channel_joints + end_sites
    assert int(m.skeleton.end_site.sum()) == end_sites
    assert m.fps in (60.0, 120.0)
    assert np.isfinite(m.rotations).all() and np.isfinite(m.root_position).all()
    np.testing.assert_allclose(np.linalg.norm(m.rotations, axis=-1), 1.0, atol=1e-12)
    pos, rot = m.global_transforms()
    assert np.isfinite(pos).all() and np.isfinite(rot).all()
    # Rigid: every bone keeps its length (the OFFSET's) in every frame.
    parents = m.skeleton.parents
    lengths = np.linalg.norm(pos[:, 1:] - pos[:, parents[1:]], axis=-1)
    rest = np.linalg.norm(m.skeleton.offsets[1:], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(rest, lengths.shape), atol=1e-9 * np.abs(pos).max())
    # The body moves: not a frozen pose.
    assert np.ptp(pos[:, 0], axis=0).max() > 0


def test_real_file_round_trip(tmp_path):
    path = SHARED_DATA / "cmu_salsa" / "60_01_scaled.bvh.gz"
    if not path.exists():
        pytest.skip(f"real BVH data not available: {path} is absent")
    m = read_bvh(path)
    write_bvh(tmp_path / "salsa.bvh", m)
    _assert_same_motion(m, read_bvh(tmp_path / "salsa.bvh"))
