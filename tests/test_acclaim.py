"""Acclaim ASF/AMC reader: hand-made chains with known answers, the CMU viewer's algorithm on real
HDM05 frames, plausibility of real walking-like takes, and every kind of bad input."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from sparse_mocap_addon.core.mocap.formats.acclaim import read_amc, read_asf, read_asf_amc
from sparse_mocap_addon.core.mocap.source import SourceFormatError
from tests.conftest import SHARED_DATA

HDM05 = SHARED_DATA / "hdm05"
needs_hdm05 = pytest.mark.skipif(not (HDM05 / "skeletons").is_dir(),
                                 reason=f"shared HDM05 data not found at {HDM05}")

CHAIN_ASF = """\
# a hand-made two-bone arm, Acclaim 1.10 as CMU writes it
:version 1.10
:name chain
:units
  mass 1.0
  length 0.45
  angle deg
:documentation
   made for the tests
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name upper
     direction 1 0 0
     length 2
     axis 0 0 90  XYZ
    dof rx ry rz
    limits (-180.0 180.0)
           (-180.0 180.0)
           (-180.0 180.0)
  end
  begin
     id 2
     name lower
     direction 1 0 0
     length 1
     axis 0 0 90 XYZ
    dof rx
    limits (-10.0 170.0)
  end
  begin
     id 3
     name side
     direction 0 1 0
     length 1
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root upper side
    upper lower
  end
"""


def _amc(frames, header=":FULLY-SPECIFIED\n:DEGREES\n"):
    """frames: list of dicts bone -> values (root first)."""
    out = ["#!OML:ASF chain.asf", header.rstrip("\n")]
    for i, frame in enumerate(frames, start=1):
        out.append(str(i))
        out.extend(f"{bone} {' '.join(repr(float(v)) for v in vals)}" for bone, vals in frame.items())
    return "\n".join(out) + "\n"


def _frame(root=(0, 0, 0, 0, 0, 0), upper=(0, 0, 0), lower=(0,)):
    return {"root": root, "upper": upper, "lower": lower}


def _write(path, text, gz=False):
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _positions(motion, t=0):
    p, _ = motion.global_transforms()
    return {name: p[t, i] for i, name in enumerate(motion.skeleton.names)}


@pytest.fixture
def chain_asf(tmp_path):
    return _write(tmp_path / "chain.asf", CHAIN_ASF)


# --- the skeleton ---------------------------------------------------------------------------------

def test_asf_fields(chain_asf):
    asf = read_asf(chain_asf)
    assert asf.name == "chain" and asf.version == "1.10" and asf.angle == "deg"
    assert asf.mass == 1.0 and asf.length == 0.45
    assert asf.metres_per_unit == pytest.approx(0.0254 / 0.45)
    assert asf.root_order == ("TX", "TY", "TZ", "RX", "RY", "RZ") and asf.root_axis == "XYZ"
    upper = asf.bones["upper"]
    assert upper.id == 1 and upper.dof == ("rx", "ry", "rz") and upper.axis_order == "XYZ"
    np.testing.assert_allclose(upper.axis, [0, 0, np.pi / 2])
    np.testing.assert_allclose(upper.limits, np.full((3, 2), [-np.pi, np.pi]))
    np.testing.assert_allclose(asf.bones["lower"].limits, [np.radians([-10.0, 170.0])])
    assert asf.bones["side"].dof == ()
    assert asf.children == {"root": ["upper", "side"], "upper": ["lower"]}
    assert "made for the tests" in asf.documentation


def test_joints_at_bone_starts_with_end_sites(chain_asf):
    sk = read_asf(chain_asf).source_skeleton()
    assert sk.names == ("root", "upper", "lower", "lower_end", "side", "side_end")
    assert sk.parents.tolist() == [-1, 0, 1, 2, 0, 4]
    assert sk.end_site.tolist() == [False, False, False, True, False, True]
    np.testing.assert_allclose(sk.offsets, [[0, 0, 0], [0, 0, 0], [2, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0]])


# --- hand-made motions with known answers ----------------------------------------------------------

def test_zero_frame_is_the_rest_pose(tmp_path, chain_asf):
    motion = read_asf_amc(chain_asf, _write(tmp_path / "m.amc", _amc([_frame()])))
    assert motion.num_frames == 1 and motion.fps == 120.0 and motion.up_axis == "Y"
    assert motion.metres_per_unit == pytest.approx(0.05644, abs=1e-5)
    np.testing.assert_allclose(motion.rotations[0], np.tile([1.0, 0, 0, 0], (6, 1)), atol=1e-15)
    at = _positions(motion)
    np.testing.assert_allclose(at["lower_end"], [3, 0, 0], atol=1e-12)


def test_rotations_about_the_bone_axes(tmp_path, chain_asf):
    frames = [
        # lower rx=90: the lower bone's local x is world +Y (axis 0 0 90), so it turns about +Y.
        _frame(lower=(90,)),
        # upper rz=90: local z is world z, so the whole arm turns about +Z.
        _frame(upper=(0, 0, 90)),
        _frame(upper=(0, 0, 90), lower=(90,)),
        # upper rx=90 is about world +Y as well: the arm points to -Z.
        _frame(upper=(90, 0, 0)),
        # root: translation, then a turn of 90 degrees about world Y.
        _frame(root=(1, 2, 3, 0, 90, 0)),
    ]
    motion = read_asf_amc(chain_asf, _write(tmp_path / "m.amc", _amc(frames)), fps=30)
    assert motion.fps == 30
    expected = [
        {"lower": [2, 0, 0], "lower_end": [2, 0, -1]},
        {"lower": [0, 2, 0], "lower_end": [0, 3, 0]},
        {"lower": [0, 2, 0], "lower_end": [0, 2, -1]},
        {"lower": [0, 0, -2], "lower_end": [0, 0, -3]},
        {"root": [1, 2, 3], "lower": [1, 2, 1], "lower_end": [1, 2, 0], "side_end": [1, 3, 3]},
    ]
    for t, want in enumerate(expected):
        at = _positions(motion, t)
        for name, pos in want.items():
            np.testing.assert_allclose(at[name], pos, atol=1e-12, err_msg=f"frame {t} {name}")


def test_dof_order_is_the_order_of_application(tmp_path):
    asf_text = CHAIN_ASF.replace("dof rx ry rz", "dof ry rx").replace(
        "    limits (-180.0 180.0)\n           (-180.0 180.0)\n           (-180.0 180.0)\n", "")
    asf_text = asf_text.replace("direction 1 0 0\n     length 2\n     axis 0 0 90",
                                "direction 0 1 0\n     length 2\n     axis 0 0 0")
    asf = read_asf(_write(tmp_path / "o.asf", asf_text))
    assert asf.bones["upper"].dof == ("ry", "rx")
    # dof "ry rx" with values (ry=90, rx=90): Ry first, then Rx. The bone points along +Y:
    # Ry(90) leaves +Y alone, then Rx(90) turns it to +Z.
    motion = read_amc(_write(tmp_path / "o.amc", _amc([_frame(upper=(90, 90))])), asf)
    np.testing.assert_allclose(_positions(motion)["lower"], [0, 0, 2], atol=1e-12)
    # The default order "rx ry rz": Rx(90) turns +Y to +Z, then Ry(90) turns +Z to +X.
    asf2 = read_asf(_write(tmp_path / "p.asf", asf_text.replace("dof ry rx", "dof rx ry")))
    motion2 = read_amc(_write(tmp_path / "p.amc", _amc([_frame(upper=(90, 90))])), asf2)
    np.testing.assert_allclose(_positions(motion2)["lower"], [2, 0, 0], atol=1e-12)


def test_axis_euler_order_and_root_order(tmp_path):
    # "axis 0 90 90 XYZ" is C = Rz(90) Ry(90) (x first); the other reading, Ry(90) Rz(90), would
    # put the lower bone's hinge on world +Y instead of -Z.
    text = CHAIN_ASF.replace("axis 0 0 90 XYZ\n    dof rx\n", "axis 0 90 90 XYZ\n    dof rx\n")
    text = text.replace("order TX TY TZ RX RY RZ", "order RZ TX RY TY TZ RX")
    asf = read_asf(_write(tmp_path / "a.asf", text))
    assert asf.root_order == ("RZ", "TX", "RY", "TY", "TZ", "RX")
    # C e_x: Ry(90) gives (0, 0, -1), Rz(90) keeps it, so lower rx=90 turns +X about -Z to -Y.
    frame = {"root": (0, 5, 0, 6, 7, 0), "upper": (0, 0, 0), "lower": (90,)}
    motion = read_amc(_write(tmp_path / "a.amc", _amc([frame])), asf)
    np.testing.assert_allclose(motion.root_position[0], [5, 6, 7])
    at = _positions(motion)
    np.testing.assert_allclose(at["lower_end"] - at["lower"] + at["root"], [5, 5, 7], atol=1e-12)
    # Root rotations in token order: RZ first then RY (both about fixed axes): Ry(90) Rz(90).
    frame = {"root": (90, 0, 90, 0, 0, 0), "upper": (0, 0, 0), "lower": (0,)}
    motion = read_amc(_write(tmp_path / "b.amc", _amc([frame])), asf)
    at = _positions(motion)
    # +X -> Rz(90) -> +Y -> Ry(90) -> +Y.
    np.testing.assert_allclose(at["lower_end"], [0, 3, 0], atol=1e-12)
    frame = {"root": (0, 0, 90, 0, 0, 0), "upper": (0, 0, 0), "lower": (0,)}
    at = _positions(read_amc(_write(tmp_path / "c.amc", _amc([frame])), asf))
    np.testing.assert_allclose(at["lower_end"], [0, 0, -3], atol=1e-12)


def test_radians_header_and_asf_unit_fallback(tmp_path, chain_asf):
    asf = read_asf(chain_asf)
    rad = read_amc(_write(tmp_path / "r.amc", _amc([_frame(lower=(np.pi / 2,))], ":RADIANS\n")), asf)
    np.testing.assert_allclose(_positions(rad)["lower_end"], [2, 0, -1], atol=1e-12)
    # No angle header: the ASF's 'angle deg' applies.
    deg = read_amc(_write(tmp_path / "d.amc", _amc([_frame(lower=(90,))], "")), asf)
    np.testing.assert_allclose(_positions(deg)["lower_end"], [2, 0, -1], atol=1e-12)
    assert deg.metadata["amc_angle_unit"] == "deg" and not deg.metadata["fully_specified"]
    asf_rad = read_asf(_write(tmp_path / "r.asf", CHAIN_ASF.replace("angle deg", "angle rad")
                              .replace("axis 0 0 90", f"axis 0 0 {np.pi / 2!r}")
                              .replace("(-10.0 170.0)", "(-1 1)")))
    rad2 = read_amc(_write(tmp_path / "r2.amc", _amc([_frame(lower=(np.pi / 2,))], "")), asf_rad)
    np.testing.assert_allclose(_positions(rad2)["lower_end"], [2, 0, -1], atol=1e-12)


def test_translation_dofs_become_animated_offsets(tmp_path):
    text = CHAIN_ASF.replace("    dof rx\n    limits (-10.0 170.0)\n", "    dof rx tx l\n")
    asf = read_asf(_write(tmp_path / "t.asf", text))
    motion = read_amc(_write(tmp_path / "t.amc", _amc([_frame(lower=(0, 0, 0)), _frame(lower=(90, 0.5, 2))])), asf)
    assert motion.local_offsets is not None and motion.local_offsets.shape == (2, 6, 3)
    at = _positions(motion, 0)
    np.testing.assert_allclose(at["lower_end"], [3, 0, 0], atol=1e-12)
    at = _positions(motion, 1)
    # tx=0.5 along the bone frame's x = world +Y moves the joint; l=2 makes the bone 3 long.
    np.testing.assert_allclose(at["lower"], [2, 0.5, 0], atol=1e-12)
    np.testing.assert_allclose(at["lower_end"], [2, 0.5, -3], atol=1e-12)
    # Without translation dofs there are no animated offsets.
    plain = read_amc(_write(tmp_path / "u.amc", _amc([_frame()])), read_asf(_write(tmp_path / "u.asf", CHAIN_ASF)))
    assert plain.local_offsets is None


def test_gzip_and_plain_agree(tmp_path):
    frames = [_frame(root=(1, 2, 3, 10, 20, 30), upper=(5, 6, 7), lower=(40,))] * 3
    plain = read_asf_amc(_write(tmp_path / "c.asf", CHAIN_ASF), _write(tmp_path / "m.amc", _amc(frames)))
    packed = read_asf_amc(_write(tmp_path / "c.asf.gz", CHAIN_ASF, gz=True),
                          _write(tmp_path / "m.AMC.gz", _amc(frames), gz=True))
    np.testing.assert_array_equal(plain.rotations, packed.rotations)
    np.testing.assert_array_equal(plain.root_position, packed.root_position)


def test_frames_in_any_bone_order_with_comments_and_blank_lines(tmp_path, chain_asf):
    text = (":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\nupper 0 0 90\nlower 90\n\n# note\n"
            "2\nlower 90\nupper 0 0 90\nroot 0 0 0 0 0 0\n\n")
    motion = read_amc(_write(tmp_path / "m.amc", text), read_asf(chain_asf))
    assert motion.num_frames == 2
    np.testing.assert_allclose(_positions(motion, 1)["lower_end"], [0, 2, -1], atol=1e-12)


# --- bad input ------------------------------------------------------------------------------------

GOOD_AMC = (":FULLY-SPECIFIED\n:DEGREES\n"
            "1\nroot 0 0 0 0 0 0\nupper 0 0 0\nlower 0\n"
            "2\nroot 0 0 0 0 0 0\nupper 0 0 0\nlower 0\n")


@pytest.mark.parametrize("text, line, words", [
    (GOOD_AMC.replace("lower 0\n2", "elbow 0\n2"), 6, "'elbow' is not a bone of the skeleton"),
    (GOOD_AMC.replace("lower 0\n2", "side 0\n2"), 6, "'side' is a bone without dof"),
    (GOOD_AMC.replace("upper 0 0 0\nlower 0\n2", "upper 0 0\nlower 0\n2"), 5,
     "has 2 values but its dof 'rx ry rz' needs 3"),
    (GOOD_AMC.replace("\nroot 0 0 0 0 0 0\nupper", "\nroot 0 0 0 0 0\nupper", 1), 4, "has 5 values"),
    (GOOD_AMC[: GOOD_AMC.rindex("lower 0")], 7, "frame 2 has no line for bone 'lower' (the last frame is truncated)"),
    (GOOD_AMC + "3\n", 11, "frame 3 has no line for bone 'root'"),
    (GOOD_AMC.replace("upper 0 0 0\nlower 0\n2", "upper 0 nan 0\nlower 0\n2"), 5, "non-finite value"),
    (GOOD_AMC.replace("lower 0\n2", "lower inf\n2"), 6, "non-finite value"),
    (GOOD_AMC.replace("lower 0\n2", "lower x1\n2"), 6, "'x1' where a number was expected"),
    (GOOD_AMC.replace("lower 0\n2", "lower 0\nlower 0\n2"), 7, "bone 'lower' appears twice in frame 1"),
    (GOOD_AMC.replace("\n2\n", "\n5\n"), 7, "frame number 5 does not follow frame 1"),
    (":DEGREES\nroot 0 0 0 0 0 0\n", 2, "expected a frame number"),
    (":FULLY-SPECIFIED\n:DEGREES\n", None, "no frames"),
])
def test_malformed_amc(tmp_path, chain_asf, text, line, words):
    path = _write(tmp_path / "bad.amc", text)
    with pytest.raises(SourceFormatError) as info:
        read_amc(path, read_asf(chain_asf))
    message = str(info.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message
    if line is not None:
        assert re.search(rf"\bline {line}\b", message), message


@pytest.mark.parametrize("edit, line, words", [
    (lambda t: t.replace(":bonedata", ":bones"), None, "no ':bonedata' section"),
    (lambda t: t[: t.index(":hierarchy")], None, "no ':hierarchy' section"),
    (lambda t: t.replace("upper lower\n", "upper lower elbow\n"), 46, "'elbow', which is not a bone"),
    (lambda t: t.replace("root upper side\n", "root upper\n"), 36, "bone 'side' is not connected to the root"),
    (lambda t: t.replace("upper lower\n", "upper lower\n    side upper\n"), 47, "'upper' is given a second parent"),
    (lambda t: t.replace("direction 1 0 0\n     length 2", "direction 1 zero 0\n     length 2"), 19,
     "'zero' where a number"),
    (lambda t: t.replace("direction 1 0 0\n     length 2", "direction 1 0\n     length 2"), 19,
     "'direction' needs 3 numbers"),
    (lambda t: t.replace("axis 0 0 90  XYZ", "axis 0 0 90 XYQ"), 21, "rotation order 'XYQ'"),
    (lambda t: t.replace("dof rx ry rz", "dof rx ry rw"), 22, "'dof' must list distinct tokens"),
    (lambda t: t.replace("dof rx ry rz", "dof rx rx rz"), 22, "'dof' must list distinct tokens"),
    (lambda t: t.replace("(-10.0 170.0)", "(-10.0)"), 34, "limits of 1 dof' needs 2 numbers"),
    (lambda t: t.replace("name lower", "name upper"), 27, "bone name 'upper' is used twice"),
    (lambda t: t.replace("angle deg", "angle grad"), 7, "angle unit 'grad'"),
    (lambda t: t.replace("length 0.45", "length -1"), 6, "must be a positive number"),
    (lambda t: t.replace("order TX TY TZ RX RY RZ", "order TX TY TQ"), 11, "root 'order' must list"),
    (lambda t: t.replace("     length 1\n     axis 0 0 90 XYZ", "     axis 0 0 90 XYZ"), 27, "has no 'length'"),
    (lambda t: t.replace("    dof rx\n    limits (-10.0 170.0)\n  end", "    dof rx\n"), 27, "no matching 'end'"),
    (lambda t: t.replace("name side", "name side_x").replace("root upper side", "root upper side_x")
     .replace("upper lower\n", "upper lower\n    side_x lower_end\n")
     .replace("  begin\n     id 3", "  begin\n     id 4\n     name lower_end\n     direction 1 0 0\n"
                                     "     length 1\n  end\n  begin\n     id 3"),
     None, "occurs twice"),
])
def test_malformed_asf(tmp_path, edit, line, words):
    path = _write(tmp_path / "bad.asf", edit(CHAIN_ASF))
    with pytest.raises(SourceFormatError) as info:
        read_asf(path)
    message = str(info.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message
    if line is not None:
        assert re.search(rf"\bline {line}\b", message), message


def test_unreadable_files(tmp_path, chain_asf):
    with pytest.raises(SourceFormatError, match="cannot be read"):
        read_asf(tmp_path / "nope.asf")
    damaged = tmp_path / "m.amc.gz"
    damaged.write_bytes(gzip.compress(GOOD_AMC.encode() * 50)[:40])
    with pytest.raises(SourceFormatError, match="gzip"):
        read_amc(damaged, read_asf(chain_asf))
    with pytest.raises(TypeError):
        read_amc(damaged, "not a skeleton")


# --- real HDM05 data ------------------------------------------------------------------------------

def _hdm05_files(pattern):
    return sorted(p for p in HDM05.glob(f"*/{pattern}") if p.is_file())


def _asf_for(path):
    actor = path.name.split("_")[1]
    return read_asf(HDM05 / "skeletons" / f"HDM_{actor}.asf.gz")


def _rot(axis, degrees):
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def _viewer_positions(asf, frame):
    """Bone start/end positions the way the CMU/USC ASF/AMC viewer computes them, one frame.

    Each bone has a local frame C = Rz Ry Rx (axis); its direction is taken into that frame; the
    transform down the tree is M_child = M_parent * (C_parent^T C_child) * Rz(rz) Ry(ry) Rx(rx); the
    root is a translation then Rz Ry Rx of its AMC angles. Written with matrices and no quaternions.
    """
    def axis_matrix(bone):
        ax, ay, az = np.degrees(bone.axis)
        return _rot(2, az) @ _rot(1, ay) @ _rot(0, ax)

    def amc_matrix(dof, values):
        angle = dict(zip(dof, values))
        return _rot(2, angle.get("rz", 0.0)) @ _rot(1, angle.get("ry", 0.0)) @ _rot(0, angle.get("rx", 0.0))

    root = dict(zip(asf.root_order, frame["root"]))
    transform = {"root": amc_matrix(("rx", "ry", "rz"), (root["RX"], root["RY"], root["RZ"]))}
    axes = {"root": np.eye(3)}
    end = {"root": np.array([root["TX"], root["TY"], root["TZ"]])}
    start = {}
    todo = ["root"]
    while todo:
        parent = todo.pop(0)
        for name in asf.children.get(parent, []):
            bone = asf.bones[name]
            axes[name] = axis_matrix(bone)
            local = amc_matrix(bone.dof, frame.get(name, ()))
            transform[name] = transform[parent] @ (axes[parent].T @ axes[name]) @ local
            start[name] = end[parent]
            end[name] = start[name] + transform[name] @ (bone.length * (axes[name].T @ bone.direction))
            todo.append(name)
    return start, end, end["root"]


def _raw_frames(path, wanted):
    """Frame number -> {bone: values} for a few frames, parsed independently of the reader."""
    text = gzip.decompress(path.read_bytes()).decode("latin-1") if path.suffix == ".gz" else path.read_text()
    frames, current = {}, None
    for line in text.splitlines():
        tokens = line.split()
        if not tokens or tokens[0].startswith((":", "#")):
            continue
        if tokens[0].isdigit() and len(tokens) == 1:
            current = int(tokens[0]) if int(tokens[0]) in wanted else None
            if current is not None:
                frames[current] = {}
        elif current is not None:
            frames[current][tokens[0]] = [float(v) for v in tokens[1:]]
    return frames


@needs_hdm05
def test_hdm05_rest_pose_is_a_t_pose_x_left_z_forward():
    for asf_path in sorted((HDM05 / "skeletons").glob("HDM_*.asf.gz")):
        asf = read_asf(asf_path)
        assert asf.metres_per_unit == pytest.approx(0.0254 / 0.45) and asf.angle == "deg"
        sk = asf.source_skeleton()
        p = sk.rest_positions() * asf.metres_per_unit
        at = {n: p[i] for i, n in enumerate(sk.names)}
        assert len(sk.names) == 38 and sk.end_site.sum() == 7
        for side, sign in (("l", 1.0), ("r", -1.0)):
            thigh, shin = at[f"{side}tibia"] - at[f"{side}femur"], at[f"{side}foot"] - at[f"{side}tibia"]
            assert thigh[1] < -0.9 * np.linalg.norm(thigh) and shin[1] < -0.9 * np.linalg.norm(shin)  # legs down
            arm = at[f"{side}wrist"] - at[f"{side}humerus"]
            assert sign * arm[0] > 0.95 * np.linalg.norm(arm) and np.linalg.norm(arm) > 0.4  # arms out
            assert sign * at[f"{side}femur"][0] > 0.05  # +X is the left
            assert at[f"{side}toes_end"][2] - at[f"{side}foot"][2] > 0.1  # +Z is forward
        assert at["head_end"][1] - at["ltoes"][1] > 1.4


@needs_hdm05
@pytest.mark.parametrize("pattern", ["HDM_bd_jog*", "HDM_mm_sneak*", "HDM_*_rotateArms*", "HDM_dg_kick*",
                                     "HDM_bk_lieDownFloor*"])
def test_hdm05_matches_the_cmu_viewer_algorithm(pattern):
    files = _hdm05_files(pattern)
    if not files:
        pytest.skip(f"no HDM05 file matches {pattern}")
    path = files[0]
    asf = _asf_for(path)
    motion = read_amc(path, asf)
    wanted = [1, 2, motion.num_frames // 3, motion.num_frames // 2, motion.num_frames]
    raw = _raw_frames(path, set(wanted))
    positions, _ = motion.global_transforms()
    index = {n: i for i, n in enumerate(motion.skeleton.names)}
    first = motion.metadata["first_frame"]
    for number in wanted:
        start, end, root = _viewer_positions(asf, raw[number])
        t = number - first
        np.testing.assert_allclose(positions[t, 0], root, atol=1e-9)
        for name in asf.bones:
            np.testing.assert_allclose(positions[t, index[name]], start[name], atol=1e-9, err_msg=name)
            if f"{name}_end" in index:
                np.testing.assert_allclose(positions[t, index[f"{name}_end"]], end[name], atol=1e-9)


def _gait_measures(motion):
    p, _ = motion.global_transforms()
    p = p * motion.metres_per_unit
    at = {n: p[:, i] for i, n in enumerate(motion.skeleton.names)}
    left = at["lfemur"] - at["rfemur"]
    left /= np.linalg.norm(left, axis=1, keepdims=True)
    feet = np.stack([at["lfoot"], at["ltoes"], at["rfoot"], at["rtoes"]], axis=1)[..., 1]
    lowest = feet.min(axis=1)
    floor = np.percentile(lowest, 2)

    def knee(side):  # > 0 when the shank swings back relative to the thigh (a normal knee bend)
        thigh = at[f"{side}tibia"] - at[f"{side}femur"]
        shin = at[f"{side}foot"] - at[f"{side}tibia"]
        c = np.einsum("ij,ij->i", np.cross(thigh, shin), left)
        return c / (np.linalg.norm(thigh, axis=1) * np.linalg.norm(shin, axis=1))

    return {
        "near_floor": np.mean(lowest - floor < 0.05),
        "knee_min": min(knee("l").min(), knee("r").min()),
        "left_foot_left": np.mean(np.einsum("ij,ij->i", at["lfoot"] - at["rfoot"], left) > 0),
        "head_up": np.mean(at["head"][:, 1] - at["root"][:, 1] > 0.3),
        "pelvis_height": np.median(at["root"][:, 1] - floor),
    }


@needs_hdm05
def test_hdm05_walking_like_takes_are_plausible():
    files = _hdm05_files("*sneak*") + _hdm05_files("*jog*")
    if not files:
        pytest.skip("no HDM05 sneaking or jogging takes in this copy of the data")
    near = {"jog": [], "sneak": []}
    for path in files:
        m = _gait_measures(read_amc(path, _asf_for(path)))
        jog = "jog" in path.name
        near["jog" if jog else "sneak"].append(m["near_floor"])
        # Feet stay near the floor (jogging has flight phases), knees never bend backwards, the
        # left foot is on the body's left most of the time (jogging in a circle crosses a little).
        assert m["near_floor"] > (0.65 if jog else 0.85), (path.name, m)
        assert m["knee_min"] > -0.05, (path.name, m)
        assert m["left_foot_left"] > (0.75 if jog else 0.95), (path.name, m)
        assert m["head_up"] == 1.0 and 0.75 < m["pelvis_height"] < 1.15, (path.name, m)
    for kind, low in (("jog", 0.83), ("sneak", 0.95)):
        if near[kind]:
            assert np.mean(near[kind]) > low, (kind, near[kind])


@needs_hdm05
def test_every_hdm05_take_reads():
    files = _hdm05_files("*.amc.gz") + _hdm05_files("*.AMC.gz")
    assert files
    skeletons = {}
    for path in files:
        actor = path.name.split("_")[1]
        if actor not in skeletons:
            skeletons[actor] = read_asf(HDM05 / "skeletons" / f"HDM_{actor}.asf.gz")
        motion = read_amc(path, skeletons[actor])
        assert motion.num_frames > 50 and np.all(np.isfinite(motion.rotations))
        np.testing.assert_allclose(np.linalg.norm(motion.rotations, axis=-1), 1.0, atol=1e-12)
