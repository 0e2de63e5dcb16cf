"""Long recordings in bounded memory (issue 17, item 4): each stage that runs a long take in chunks
gives what one pass over the whole take gives.

Tolerances: the chunked causal network carries its LSTM states from chunk to chunk, and the
bidirectional offline one runs each chunk with ``OFFLINE_CONTEXT_FRAMES`` more on either side, so
either is the one pass up to the lanes' tolerance on the recurrent state (``nn.LSTM.forward``):
<= 1e-3 rad on every joint rotation and <= 1 mm on the root (measured on the real TransPose
example: about 1e-6 rad and 3e-7 m with the offline model). That is compared before the feet stage:
its contact decisions are thresholds on heights, so a float-level change of its input can flip one
and re-solve a leg over a contact run (1.3 deg on one run of this example with the offline model);
the feet stage's own chunks are compared bitwise below. The root filter's and the feet stage's
chunks are the same arithmetic frame by frame: bitwise equal.
The real recording comes from ../shared/data; those tests skip when it is absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.feet import stage as feet_stage
from sparse_mocap_addon.core.imu import root as imu_root
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements
from sparse_mocap_addon.core.feet.stage import FeetOptions, feet_on_floor
from sparse_mocap_addon.core.imu.recording import ImuRecording
from sparse_mocap_addon.core.imu.synth import features
from sparse_mocap_addon.pipelines import imu as imu_pipeline
from sparse_mocap_addon.inference import imu_poser
from sparse_mocap_addon.pipelines.imu import ImuSolveOptions, load_poser, reconstruct_imu

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT.parent / "shared" / "data" / "imu_real" / "transpose_example"
needs_example = pytest.mark.skipif(not EXAMPLE.is_dir(), reason=f"the real TransPose example is not in {EXAMPLE}")
MEASUREMENTS = BodyMeasurements(height=1.75, sex="male")
MAX_ANGLE_RAD = 1e-3
MAX_ROOT_M = 1e-3


@pytest.fixture(scope="module")
def long_example() -> ImuRecording:
    """The real TransPose example played forwards, backwards and forwards again (5,280 frames), as
    benchmarks/long_recording.py makes its hour."""
    from sparse_mocap_addon.core.imu.formats import read_imu

    example = read_imu(EXAMPLE)
    index = np.concatenate((np.arange(example.num_frames), np.arange(example.num_frames)[::-1],
                            np.arange(example.num_frames)))
    return ImuRecording(sensors=example.sensors, orientation=example.orientation[index],
                        acceleration=example.acceleration[index], fps=example.fps, world="core", source="long example")


@pytest.fixture(scope="module")
def raw_motion(long_example):
    """The long example reconstructed without the feet stage, in one pass."""
    return reconstruct_imu(long_example, MEASUREMENTS, ImuSolveOptions(feet=FeetOptions(enabled=False)))[0]


def rotation_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dots = np.abs(np.sum(a * b, axis=-1)).clip(0.0, 1.0)
    return 2.0 * np.arccos(dots)


@needs_example
@pytest.mark.parametrize("offline_model", [True, False])
def test_chunked_reconstruction_equals_one_pass(long_example, monkeypatch, offline_model):
    options = ImuSolveOptions(feet=FeetOptions(enabled=False), offline_model=offline_model)
    whole, whole_report = reconstruct_imu(long_example, MEASUREMENTS, options)
    monkeypatch.setattr(imu_pipeline, "CHUNK_FRAMES", 1500)     # four chunks of at least two lanes each
    chunked, chunked_report = reconstruct_imu(long_example, MEASUREMENTS, options)
    assert chunked_report["offline_model"] == whole_report["offline_model"] == offline_model
    assert chunked.num_frames == whole.num_frames == long_example.num_frames
    assert rotation_angles(chunked.rotations, whole.rotations).max() <= MAX_ANGLE_RAD
    assert np.abs(chunked.translation - whole.translation).max() <= MAX_ROOT_M
    assert chunked_report["contact_fraction"] == whole_report["contact_fraction"]


@needs_example
def test_the_offline_models_context_is_what_makes_its_chunks_join(long_example, monkeypatch):
    """A bidirectional chunk without frames on either side starts and ends its recurrent passes
    from rest at the cut: far more than the tolerance off there."""
    poser = load_poser("full", offline=True)
    options = ImuSolveOptions(feet=FeetOptions(enabled=False), offline_model=True)
    whole, _ = reconstruct_imu(long_example, MEASUREMENTS, options, poser=poser)
    monkeypatch.setattr(imu_pipeline, "CHUNK_FRAMES", 1500)
    monkeypatch.setattr(poser, "context", 0)
    cut, _ = reconstruct_imu(long_example, MEASUREMENTS, options, poser=poser)
    assert rotation_angles(cut.rotations, whole.rotations).max() > 10 * MAX_ANGLE_RAD


@needs_example
def test_the_smoothing_overlap_is_what_makes_chunks_join(long_example, raw_motion, monkeypatch):
    """Without the overlap each chunk's zero-phase filter sees its own edges: the joins differ by far
    more than the tolerance (the test above would catch a chunking that forgot the overlap)."""
    whole = raw_motion
    monkeypatch.setattr(imu_pipeline, "CHUNK_FRAMES", 1500)
    monkeypatch.setattr(imu_pipeline, "SMOOTHING_MARGIN_S", 0.0)
    cut, _ = reconstruct_imu(long_example, MEASUREMENTS, ImuSolveOptions(feet=FeetOptions(enabled=False)))
    assert rotation_angles(cut.rotations, whole.rotations).max() > 10 * MAX_ANGLE_RAD


@needs_example
def test_poser_chunks_carry_the_recurrent_state(long_example, monkeypatch):
    poser = load_poser("full")
    x, valid = features(long_example)[:2640], long_example.valid[:2640]
    sequential = poser.run(x, valid, MEASUREMENTS, lanes=1)
    session = poser.chunked(MEASUREMENTS)
    parts = [session.run(x[a:a + 900], valid[a:a + 900]) for a in range(0, len(x), 900)]
    assert np.abs(np.concatenate([p.pose_6d for p in parts]) - sequential.pose_6d).max() < 1e-3
    assert np.abs(np.concatenate([p.contact for p in parts]) - sequential.contact).max() < 1e-3
    # A fresh session per chunk (the state not carried) starts each chunk from rest: far off.
    restarted = np.concatenate([poser.chunked(MEASUREMENTS).run(x[a:a + 900], valid[a:a + 900]).pose_6d
                                for a in range(0, len(x), 900)])
    assert np.abs(restarted - sequential.pose_6d).max() > 0.05
    # run() chunks an input longer than CHUNK_FRAMES the same way (chunks of two lanes here).
    monkeypatch.setattr(imu_poser, "CHUNK_FRAMES", 1300)
    run = poser.run(x, valid, MEASUREMENTS)
    assert run.pose_6d.shape == sequential.pose_6d.shape and run.joints.shape == sequential.joints.shape
    assert np.abs(run.pose_6d - sequential.pose_6d).max() < 1e-3


def test_root_translation_in_chunks_is_bitwise_the_one_pass(monkeypatch):
    rng = np.random.default_rng(3)
    frames = 3000
    relative = rng.normal(scale=0.3, size=(frames, 24, 3))
    contact = rng.uniform(size=(frames, 2))
    acceleration = rng.normal(size=(frames, 3))
    options = imu_root.RootOptions()
    whole = imu_root.root_translation(relative, contact, 60.0, acceleration, options)
    monkeypatch.setattr(imu_root, "ROOT_CHUNK_FRAMES", 701)
    assert np.array_equal(imu_root.root_translation(relative, contact, 60.0, acceleration, options), whole)
    monkeypatch.setattr(imu_root, "ROOT_CHUNK_FRAMES", 10**6)
    no_acc = imu_root.root_translation(relative, contact, 60.0, None, options)
    monkeypatch.setattr(imu_root, "ROOT_CHUNK_FRAMES", 701)
    assert np.array_equal(imu_root.root_translation(relative, contact, 60.0, None, options), no_acc)
    assert imu_root.root_translation(relative[:1], contact[:1], 60.0, acceleration[:1], options).shape == (1, 3)


@needs_example
@pytest.mark.parametrize("case", ["same body, floor zero", "another body", "floor estimated"])
def test_feet_stage_in_chunks_is_bitwise_the_one_pass(raw_motion, monkeypatch, case):
    raw = raw_motion
    target = skeleton_from_measurements(BodyMeasurements(height=1.60, sex="female")) if case == "another body" else None
    options = FeetOptions(floor="zero") if case == "same body, floor zero" else FeetOptions()
    whole, whole_report = feet_on_floor(raw, target, options)
    monkeypatch.setattr(feet_stage, "CHUNK_FRAMES", 977)
    chunked, chunked_report = feet_on_floor(raw, target, options)
    assert np.array_equal(chunked.rotations, whole.rotations)
    assert np.array_equal(chunked.translation, whole.translation)
    assert chunked_report == whole_report
    assert whole_report["contact_runs"] > 10                     # the stage did plant feet


@needs_example
def test_benchmark_prints_its_figures_last(tmp_path):
    """benchmarks/long_recording.py on a short take: the last stdout line is the JSON the issue asks
    for (frames, seconds, peak memory, seconds per stage), from a real CLI run that wrote an FBX."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "long_recording.py"), "--minutes", "0.1"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["frames"] == 360
    assert result["seconds"] > 0 and result["peak_rss_mb"] > 0 and result["fbx_mb"] > 0
    assert {"read", "calibrate", "reconstruct", "bake", "export"} <= set(result["stages"])
    assert result["stage_peak_rss_mb"]["export"] <= result["peak_rss_mb"]
