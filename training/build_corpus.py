"""Build the SMPL-24 training corpus from every mocap source in ``../shared/data``.

Each take is read with its format's reader, retargeted onto an SMPL-24 skeleton with the performer's
own proportions, given its feet on the floor (``core/feet/stage.py``, as Import Mocap does: the
truth every reconstruction is measured against stands where the reconstructions put their feet),
resampled to 60 fps with slerp, and saved as a Motion ``.npz`` under ``<out>/<split>/<source>/``. Every performer
has one skeleton: the body figures of all their takes are measured first (``core/mocap/rig_body.measure_take``)
and pooled (``performer_body``: medians over the takes, symmetric limbs). A ``manifest.json`` lists
every clip with its split, performer, frames and body measurements; a summary table (clips, frames
and minutes per source and split) is printed at the end.

Splits are by performer, so no person is in two splits:

- CMU subjects (cmu_bvh, cmu62, cmu_misc_bvh, cmu_fbx) by subject number: ``CMU_SUBJECT_SPLIT``
  (subject 01 appears in both cmu_bvh and cmu_fbx and goes to the same split in both);
- CMU salsa: subjects 60 and 61 dance together in every take, so both partners of a take go to the
  split of that take (``SALSA_TAKE_SPLIT``);
- HDM05 by actor (``HDM05_ACTOR_SPLIT``: the data's own test folder is actor mm);
- the CMU exp-map benchmark keeps its own train/test folders (its performers are not identified).

Mirroring (``--mirror``) adds a left-right mirrored copy of every training clip (``core/kinematics/mirror.py``).

Run from the project root::

    .venv/bin/python -m training.build_corpus --data ../shared/data --out build/corpus
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.io.atomic import atomic_open  # noqa: E402
from sparse_mocap_addon.core.feet.stage import feet_on_floor, feet_summary  # noqa: E402
from sparse_mocap_addon.core.kinematics.mirror import mirror_motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.resample import resample_motion  # noqa: E402
from sparse_mocap_addon.core.mocap.retarget import retarget  # noqa: E402
from sparse_mocap_addon.core.mocap.rig_body import measure_take, performer_body  # noqa: E402

SOURCES = ("cmu_expmap", "hdm05", "cmu_bvh", "cmu_salsa", "cmu62", "cmu_misc_bvh", "cmu_fbx")
SPLITS = ("train", "validation", "test")
TARGET_FPS = 60.0

CMU_SUBJECT_SPLIT = {1: "test", 62: "test", 3: "validation", 49: "validation", 131: "validation"}
SALSA_TAKE_SPLIT = {11: "validation", 12: "test", 13: "test"}
HDM05_ACTOR_SPLIT = {"bd": "train", "bk": "train", "dg": "validation", "mm": "test"}


@dataclass
class Take:
    source: str
    path: Path            # the motion file
    performer: str
    split: str
    name: str             # output file stem
    skeleton_file: Path | None = None   # ASF for AMC takes
    fps: float | None = None            # for formats that do not store it


def _cmu_split(subject: int) -> str:
    return CMU_SUBJECT_SPLIT.get(subject, "train")


def _files(folder: Path, pattern: str):
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def discover(data: Path, sources=SOURCES) -> list[Take]:
    """Every take of the requested sources that exists under ``data``, with its split."""
    data = Path(data)
    takes = []
    if "cmu_expmap" in sources:
        for path in _files(data / "cmu_expmap", "*/*/*.txt*"):
            split, action = path.parent.parent.name, path.parent.name
            stem = path.name.split(".")[0]
            takes.append(Take("cmu_expmap", path, "cmu_expmap", split, f"{split}_{action}_{stem}", fps=120.0))
    if "hdm05" in sources:
        for path in _files(data / "hdm05", "*/HDM_*.amc*"):
            actor = path.name.split("_")[1]
            asf = data / "hdm05" / "skeletons" / f"HDM_{actor}.asf.gz"
            if not asf.exists():
                asf = asf.with_suffix("")
            fps = float(re.search(r"_(\d+)\.amc", path.name).group(1)) if re.search(r"_(\d+)\.amc", path.name) else 120.0
            takes.append(Take("hdm05", path, f"hdm05:{actor}", HDM05_ACTOR_SPLIT.get(actor, "train"),
                              path.name.split(".")[0], skeleton_file=asf, fps=fps))
    if "cmu_bvh" in sources:
        for path in _files(data / "cmu_bvh", "*/*.bvh*"):
            subject = int(path.parent.name)
            takes.append(Take("cmu_bvh", path, f"cmu:{subject:02d}", _cmu_split(subject), path.name.split(".")[0]))
    if "cmu_salsa" in sources:
        for path in _files(data / "cmu_salsa", "*.bvh*"):
            subject, take = (int(x) for x in path.name.split("_")[:2])
            takes.append(Take("cmu_salsa", path, f"cmu:{subject:02d}", SALSA_TAKE_SPLIT.get(take, "train"),
                              path.name.split(".")[0]))
    for source in ("cmu62", "cmu_misc_bvh"):
        if source in sources:
            for path in _files(data / source, "*.bvh*"):
                subject = int(path.name.split("_")[0])
                takes.append(Take(source, path, f"cmu:{subject:02d}", _cmu_split(subject), path.name.split(".")[0]))
    if "cmu_fbx" in sources:
        for path in _files(data / "cmu_fbx", "*.fbx"):
            subject = int(path.name.split("_")[0])
            takes.append(Take("cmu_fbx", path, f"cmu:{subject:02d}", _cmu_split(subject), path.stem))
    return takes


def read_take(take: Take):
    """The take's SourceMotion, with the reader of its format."""
    if take.source == "cmu_expmap":
        from sparse_mocap_addon.core.mocap.formats.cmu_expmap import read_cmu_expmap
        return read_cmu_expmap(take.path, fps=take.fps)
    if take.source == "hdm05":
        from sparse_mocap_addon.core.mocap.formats.acclaim import read_asf_amc
        return read_asf_amc(take.skeleton_file, take.path, fps=take.fps)
    if take.source == "cmu_fbx":
        from sparse_mocap_addon.blender.fbx_source import read_fbx_source
        return read_fbx_source(take.path)
    from sparse_mocap_addon.core.mocap.formats.bvh import read_bvh
    source = read_bvh(take.path)
    if take.source == "cmu_bvh":
        source.metres_per_unit = 0.01   # Character Creator export in centimetres (the file is Y up)
    return source


MAX_LEADING_DROPPED = 6          # source frames at most
TELEPORT_SPEED_M_S = 8.0         # a joint faster than this between two of the first frames ...
TELEPORT_RATIO = 5.0             # ... and this many times the take's median top joint speed


def drop_leading_reference_frames(motion):
    """The motion without the reference frames some sources put first (CMU exp-map clips, the
    CMU BVH conversions and the salsa takes start with a rest or T-pose frame, then jump 0.3-1.1 m
    into the take), and how many were dropped: every frame up to the last jump among the first
    ``MAX_LEADING_DROPPED`` in which some joint moves faster than ``TELEPORT_SPEED_M_S`` and
    ``TELEPORT_RATIO`` times the take's median top joint speed. Such jumps turn into huge
    synthetic accelerations and fake root motion in everything trained on the corpus."""
    if motion.num_frames < 2 * MAX_LEADING_DROPPED + 4:
        return motion, 0
    positions = motion.joint_positions()
    speed = np.linalg.norm(np.diff(positions, axis=0), axis=-1).max(axis=1) * motion.fps     # (T-1,) m/s
    typical = float(np.median(speed[MAX_LEADING_DROPPED:]))
    jumps = np.flatnonzero(speed[:MAX_LEADING_DROPPED] > max(TELEPORT_SPEED_M_S, TELEPORT_RATIO * typical))
    dropped = int(jumps[-1]) + 1 if jumps.size else 0      # everything up to the last early jump
    if not dropped:
        return motion, 0
    trimmed = Motion(motion.fps, motion.rotations[dropped:], motion.translation[dropped:], motion.skeleton,
                     dict(motion.metadata))
    return trimmed, dropped


def convert(take: Take, out: Path, mirror: bool, skeleton, body: dict) -> list[dict]:
    """Read, retarget onto the performer's ``skeleton``, ground, resample and save one take (and its
    mirror); the manifest entries."""
    source = read_take(take)
    motion, dropped = drop_leading_reference_frames(retarget(source, skeleton))
    motion, feet = feet_on_floor(motion)
    motion = resample_motion(motion, TARGET_FPS)
    motion.metadata.update({"corpus_source": take.source, "performer": take.performer, "split": take.split,
                            "body": body, "leading_frames_dropped": dropped, "feet_stage": feet_summary(feet)})
    variants = [(take.name, motion)]
    if mirror and take.split == "train":
        variants.append((take.name + "_mirrored", mirror_motion(motion)))
    entries = []
    for name, clip in variants:
        path = out / take.split / take.source / f"{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        clip.save(path)
        entries.append({
            "file": str(path.relative_to(out)), "source": take.source, "original": str(take.path),
            "performer": take.performer, "split": take.split, "mirrored": name.endswith("_mirrored"),
            "frames": clip.num_frames, "seconds": clip.duration, "source_fps": source.fps,
            "measurements": body["measurements"], "reference": motion.metadata["retarget"]["reference"],
            "neutral": motion.metadata["retarget"]["neutral"], "units": body["units"],
        })
    return entries


def _measure_safely(take: Take):
    try:
        return measure_take(read_take(take)), None
    except Exception as exc:  # one bad take must not stop the corpus; it is listed in the manifest
        return None, f"{take.path}: {type(exc).__name__}: {exc}"


def _convert_safely(args):
    take, out, mirror, skeleton, body = args
    try:
        return convert(take, out, mirror, skeleton, body), None
    except Exception as exc:  # one bad take must not stop the corpus; it is listed in the manifest
        return [], f"{take.path}: {type(exc).__name__}: {exc}"


def performer_bodies(takes: list[Take], measured: dict) -> dict:
    """performer -> (Skeleton, report) pooled over the performer's measured takes."""
    by_performer = defaultdict(list)
    for take in takes:
        if measured.get(take.path) is not None:
            by_performer[take.performer].append(measured[take.path])
    return {performer: performer_body(bodies) for performer, bodies in by_performer.items()}


def summarise(entries: list[dict]) -> dict:
    table = defaultdict(lambda: {"clips": 0, "frames": 0, "minutes": 0.0})
    for e in entries:
        for key in ((e["source"], e["split"]), ("all", e["split"]), (e["source"], "all"), ("all", "all")):
            row = table[key]
            row["clips"] += 1
            row["frames"] += e["frames"]
            row["minutes"] += e["seconds"] / 60.0
    return {f"{source}/{split}": row for (source, split), row in sorted(table.items())}


def format_summary(summary: dict) -> str:
    lines = [f"{'source':<14}{'split':<12}{'clips':>7}{'frames':>10}{'minutes':>10}"]
    for key, row in summary.items():
        source, split = key.split("/")
        lines.append(f"{source:<14}{split:<12}{row['clips']:>7}{row['frames']:>10}{row['minutes']:>10.1f}")
    return "\n".join(lines)


def _write_json(path: Path, data) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=1) + "\n")


def build(data: Path, out: Path, sources=SOURCES, mirror: bool = False, jobs: int = 2, log=print) -> dict:
    data, out = Path(data), Path(out)
    takes = discover(data, sources)
    if not takes:
        raise SystemExit(f"no mocap takes found under {data} for sources {', '.join(sources)}")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    entries, failures = [], []
    # Blender's FBX importer runs in this process; the numpy readers in worker processes.
    in_process = [t for t in takes if t.source == "cmu_fbx"]
    pooled = [t for t in takes if t.source != "cmu_fbx"]

    def run(function, jobs_args, tasks):
        if jobs > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                yield from zip(tasks, pool.map(function, jobs_args(tasks)))
        else:
            for task, arg in zip(tasks, jobs_args(tasks)):
                yield task, function(arg)

    # Pass 1: what every take says about its performer's body; one skeleton per performer.
    measured = {}
    for take, (body, failure) in list(run(_measure_safely, lambda ts: ts, pooled)) + \
            [(t, _measure_safely(t)) for t in in_process]:
        measured[take.path] = body
        if failure:
            failures.append(failure)
            log(f"FAILED to measure {failure}")
    bodies = performer_bodies(takes, measured)
    log(f"{len(bodies)} performers measured from {sum(b is not None for b in measured.values())} takes")

    # Pass 2: retarget every take onto its performer's skeleton.
    done = 0
    convertible = [t for t in pooled if measured.get(t.path) is not None]
    args_of = lambda ts: [(t, out, mirror, *bodies[t.performer]) for t in ts]  # noqa: E731
    for take, (new, failure) in list(run(_convert_safely, args_of, convertible)) + \
            [(t, _convert_safely(a)) for t, a in zip(in_process, args_of(in_process)) if measured.get(t.path) is not None]:
        entries.extend(new)
        done += 1
        if failure:
            failures.append(failure)
            log(f"[{done}/{len(takes)}] FAILED {failure}")
        elif done % 25 == 0 or done == len(takes):
            log(f"[{done}/{len(takes)}] {take.source}/{take.name}")

    entries.sort(key=lambda e: e["file"])
    manifest = {
        "fps": TARGET_FPS,
        "data": str(data),
        "sources": list(sources),
        "mirrored_train_copies": mirror,
        "split_rules": {
            "cmu_subjects": {str(k): v for k, v in CMU_SUBJECT_SPLIT.items()}, "cmu_subjects_default": "train",
            "cmu_salsa_takes": {str(k): v for k, v in SALSA_TAKE_SPLIT.items()}, "cmu_salsa_default": "train",
            "hdm05_actors": HDM05_ACTOR_SPLIT, "cmu_expmap": "the benchmark's own train/test folders",
        },
        "performers": {p: {"takes": b[1]["takes"], "measurements": b[1]["measurements"]} for p, b in sorted(bodies.items())},
        "clips": entries,
        "failures": failures,
        "summary": summarise(entries),
        "seconds_to_build": time.perf_counter() - started,
    }
    _write_json(out / "manifest.json", manifest)
    log(format_summary(manifest["summary"]))
    log(f"{len(entries)} clips written to {out} in {manifest['seconds_to_build']:.0f} s; "
        f"{len(failures)} take(s) failed{': see manifest.json' if failures else ''}")
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "corpus", help="output folder")
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    parser.add_argument("--mirror", action="store_true", help="add a mirrored copy of every training clip")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the numpy readers")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"{args.data} is not a folder (the shared mocap data)")
    manifest = build(args.data, args.out, args.sources, args.mirror, args.jobs)
    return 1 if manifest["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
