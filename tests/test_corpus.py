"""The training corpus builder: discovery, splits by performer, conversion, manifest, mirroring."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.mocap.formats.bvh import write_bvh
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.mocap.source import SourceMotion
from tests.conftest import SHARED_DATA
from training.build_corpus import SOURCES, build, discover, format_summary


@pytest.fixture
def tiny_data(tmp_path):
    """A data folder with two SMPL-rig BVH takes in the cmu62 and cmu_misc_bvh places, at 120 fps."""
    walk = demo_motion(seconds=1.0, fps=120.0)
    for folder, name in (("cmu62", "62_01.bvh"), ("cmu_misc_bvh", "131_01.bvh")):
        (tmp_path / folder).mkdir()
        write_bvh(tmp_path / folder / name, SourceMotion.from_motion(walk, name))
    return tmp_path


def test_build_writes_60fps_clips_a_manifest_and_a_summary(tiny_data, tmp_path):
    out = tmp_path / "corpus"
    lines = []
    manifest = build(tiny_data, out, jobs=1, log=lines.append)
    assert [c["file"] for c in manifest["clips"]] == ["test/cmu62/62_01.npz", "validation/cmu_misc_bvh/131_01.npz"]
    clip = Motion.load(out / "test/cmu62/62_01.npz")
    assert clip.fps == 60.0 and clip.num_frames == 60          # 1 s at 120 fps -> 60 frames
    assert clip.metadata["performer"] == "cmu:62" and clip.metadata["split"] == "test"
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["summary"]["all/all"]["clips"] == 2
    assert on_disk["failures"] == []
    assert "cmu62" in lines[-2] or "cmu62" in "\n".join(lines)
    assert "minutes" in format_summary(manifest["summary"])


def test_mirrored_copies_only_for_training_clips(tiny_data, tmp_path):
    (tiny_data / "cmu62" / "62_01.bvh").rename(tiny_data / "cmu62" / "07_01.bvh")   # subject 7: train
    manifest = build(tiny_data, tmp_path / "corpus", jobs=1, mirror=True, log=lambda *_: None)
    files = sorted(c["file"] for c in manifest["clips"])
    assert files == ["train/cmu62/07_01.npz", "train/cmu62/07_01_mirrored.npz",
                     "validation/cmu_misc_bvh/131_01.npz"]
    plain = Motion.load(tmp_path / "corpus" / files[0]).joint_positions()
    mirrored = Motion.load(tmp_path / "corpus" / files[1]).joint_positions()
    from sparse_mocap_addon.core.kinematics.skeleton import MIRROR
    np.testing.assert_allclose(mirrored, plain[:, MIRROR] * [-1.0, 1.0, 1.0], atol=1e-9)


def test_a_bad_take_is_listed_not_fatal(tiny_data, tmp_path):
    (tiny_data / "cmu62" / "62_02.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    manifest = build(tiny_data, tmp_path / "corpus", jobs=1, log=lambda *_: None)
    assert len(manifest["clips"]) == 2
    assert len(manifest["failures"]) == 1 and "62_02.bvh" in manifest["failures"][0]


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data folder {SHARED_DATA} is absent")
def test_no_performer_is_in_two_splits_of_the_real_data():
    takes = discover(SHARED_DATA, SOURCES)
    assert {t.source for t in takes} == set(SOURCES)
    splits = defaultdict(set)
    for take in takes:
        if take.source not in ("cmu_expmap", "cmu_salsa"):
            splits[take.performer].add(take.split)
    assert all(len(s) == 1 for s in splits.values()), {p: s for p, s in splits.items() if len(s) > 1}
    # Both salsa partners of a take share its split.
    salsa = defaultdict(set)
    for take in takes:
        if take.source == "cmu_salsa":
            salsa[take.name.split("_")[1]].add(take.split)
    assert salsa and all(len(s) == 1 for s in salsa.values())
    assert {t.split for t in takes if t.performer == "hdm05:mm"} == {"test"}
    assert {t.split for t in takes if t.source == "cmu_expmap"} == {"train", "test"}


def test_leading_reference_frames_are_dropped():
    """A rest frame before the take (CMU exp-map, CMU BVH conversions) is cut; a take starting
    straight away keeps every frame."""
    from training.build_corpus import drop_leading_reference_frames
    walk = demo_motion(seconds=1.0, fps=120.0)
    kept, dropped = drop_leading_reference_frames(walk)
    assert dropped == 0 and kept.num_frames == walk.num_frames
    rest = Motion(walk.fps, np.concatenate(([[1.0, 0, 0, 0]] * 24 * np.ones((1, 24, 1)), walk.rotations)),
                  np.concatenate((walk.translation[:1] + [0.0, 0.0, 0.6], walk.translation)), walk.skeleton)
    kept, dropped = drop_leading_reference_frames(rest)
    assert dropped == 1 and np.allclose(kept.rotations, walk.rotations)


def test_one_skeleton_per_performer(tmp_path):
    """Two takes of one performer whose rigs disagree on the body get the same, pooled skeleton."""
    from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements
    for name, height in (("62_01.bvh", 1.70), ("62_02.bvh", 1.80)):
        rig = skeleton_from_measurements(BodyMeasurements(height=height))
        (tmp_path / "cmu62").mkdir(exist_ok=True)
        write_bvh(tmp_path / "cmu62" / name, SourceMotion.from_motion(demo_motion(rig, seconds=1.0, fps=120.0), name))
    manifest = build(tmp_path, tmp_path / "corpus", jobs=1, log=lambda *_: None)
    clips = [Motion.load(tmp_path / "corpus" / c["file"]) for c in manifest["clips"]]
    assert len(clips) == 2
    np.testing.assert_allclose(clips[0].skeleton.offsets, clips[1].skeleton.offsets)
    assert manifest["performers"]["cmu:62"]["takes"] == 2
    assert 1.70 < clips[0].skeleton.stature() < 1.80
