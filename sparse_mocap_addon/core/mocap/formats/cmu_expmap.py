"""CMU motion-prediction benchmark files (exponential maps), numpy only.

The files of the human-motion-prediction benchmark on CMU mocap (Li et al., CVPR 2018; used by LTD,
PGBIG, KSOF, siMLPe): ``{train,test}/<action>/<action>_<n>.txt[.gz]``, 120 fps, one frame a line of
117 comma-separated floats: the root position (3, CMU units: 1 unit = 1/0.45 inch = 56.44 mm), then
38 exponential maps (axis * angle, radians), joint ``j`` at columns ``3 + 3 j``; joint 0's map is the
root orientation, end sites and fixed joints are zero.

The benchmark's forward kinematics is written with *row* vectors::

    R_local[j] = rodrigues(e[j])                       (the usual matrix of axis e/|e|, angle |e|)
    R_global[j] = R_local[j] @ R_global[parent[j]]
    p[j] = offsets[j] @ R_global[parent[j]] + p[parent[j]],   p[0] = root position (+ offsets[0])

A row vector times ``R`` is the column vector ``R^T v``, so with column vectors the global rotation is
``G[j] = R_global[j]^T = G[parent] R_local[j]^T`` and ``p[j] = p[parent] + G[parent] offsets[j]``:
exactly the project's rest-identity form with local rotation ``R_local^T = rodrigues(-e)``, i.e. the
quaternion of the axis-angle ``-e``, and the benchmark's offsets used as they are (the test suite
checks positions against a direct row-vector implementation to 1e-9). The zero pose of these offsets
is the CMU ASF rest pose (arms out, legs down and slightly apart), Y up, +X the subject's left, +Z
forward; the reference code then swaps y and z for display only, which is not done here.

The 38-joint skeleton (names in CMU ASF style, parents, offsets in CMU units) is public benchmark data
and is carried here as a table, so no side file is needed.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ...kinematics.rotations import axis_angle_to_quat
from ..source import SourceFormatError, SourceMotion, SourceSkeleton
from ...io import plausible
from ...io.textio import read_text

__all__ = ["NAMES", "PARENTS", "OFFSETS", "METRES_PER_UNIT", "VALUES_PER_LINE", "skeleton",
           "expmap_to_local_quat", "read_values", "read_cmu_expmap", "benchmark_files"]

# name, parent index, offset from the parent in the zero pose (CMU units)
_TABLE = (
    ('root',          -1, (0.0, 0.0, 0.0)),
    ('lhipjoint',      0, (0.0, 0.0, 0.0)),
    ('lfemur',         1, (1.65674, -1.80282, 0.62477)),
    ('ltibia',         2, (2.5972, -7.13576, 0.0)),
    ('lfoot',          3, (2.49236, -6.8477, 0.0)),
    ('ltoes',          4, (0.19704, -0.54136, 2.14581)),
    ('ltoes_end',      5, (0.0, 0.0, 1.11249)),
    ('rhipjoint',      0, (0.0, 0.0, 0.0)),
    ('rfemur',         7, (-1.6107, -1.80282, 0.62476)),
    ('rtibia',         8, (-2.59502, -7.12977, 0.0)),
    ('rfoot',          9, (-2.4678, -6.78024, 0.0)),
    ('rtoes',         10, (-0.23024, -0.63258, 2.13368)),
    ('rtoes_end',     11, (0.0, 0.0, 1.11569)),
    ('lowerback',      0, (0.0, 0.0, 0.0)),
    ('upperback',     13, (0.01961, 2.0545, -0.14112)),
    ('thorax',        14, (0.01021, 2.06436, -0.05921)),
    ('lowerneck',     15, (0.0, 0.0, 0.0)),
    ('upperneck',     16, (0.00713, 1.56711, 0.14968)),
    ('head',          17, (0.03429, 1.56041, -0.10006)),
    ('head_end',      18, (0.01305, 1.6256, -0.05265)),
    ('lclavicle',     15, (0.0, 0.0, 0.0)),
    ('lhumerus',      20, (3.54205, 0.90436, -0.17364)),
    ('lradius',       21, (4.86513, 0.0, 0.0)),
    ('lwrist',        22, (3.35554, 0.0, 0.0)),
    ('lhand',         23, (0.0, 0.0, 0.0)),
    ('lfingers',      24, (0.66117, 0.0, 0.0)),
    ('lfingers_end',  25, (0.53306, 0.0, 0.0)),
    ('lthumb',        23, (0.0, 0.0, 0.0)),
    ('lthumb_end',    27, (0.5412, 0.0, 0.5412)),
    ('rclavicle',     15, (0.0, 0.0, 0.0)),
    ('rhumerus',      29, (-3.49802, 0.75994, -0.32616)),
    ('rradius',       30, (-5.02649, 0.0, 0.0)),
    ('rwrist',        31, (-3.36431, 0.0, 0.0)),
    ('rhand',         32, (0.0, 0.0, 0.0)),
    ('rfingers',      33, (-0.73041, 0.0, 0.0)),
    ('rfingers_end',  34, (-0.58887, 0.0, 0.0)),
    ('rthumb',        32, (0.0, 0.0, 0.0)),
    ('rthumb_end',    36, (-0.59786, 0.0, 0.59786)),
)

NAMES = tuple(row[0] for row in _TABLE)
PARENTS = np.array([row[1] for row in _TABLE], dtype=np.int64)
OFFSETS = np.array([row[2] for row in _TABLE], dtype=np.float64)
NUM_JOINTS = len(NAMES)
VALUES_PER_LINE = 3 + 3 * NUM_JOINTS      # 117
METRES_PER_UNIT = 0.0254 / 0.45          # 1 CMU unit = 1/0.45 inch
SPLITS = ("train", "test")
_FILE_NAME = re.compile(r"^(?P<stem>.+)_(?P<take>\d+)\.txt(?:\.gz)?$")


def skeleton() -> SourceSkeleton:
    """The benchmark's 38-joint skeleton; joints named ``*_end`` are flagged as end sites."""
    end_site = np.array([name.endswith("_end") for name in NAMES])
    return SourceSkeleton(NAMES, PARENTS.copy(), OFFSETS.copy(), end_site)


def expmap_to_local_quat(expmaps: np.ndarray) -> np.ndarray:
    """Benchmark exponential maps (..., 3) to rest-identity local quaternions (..., 4), wxyz.

    The benchmark applies ``rodrigues(e)`` to row vectors, which is ``rodrigues(-e)`` on columns.
    """
    return axis_angle_to_quat(-np.asarray(expmaps, dtype=np.float64))


def _fail(path, line, reason) -> SourceFormatError:
    return SourceFormatError(f"{path}, line {line}: {reason}.")


def read_values(path) -> np.ndarray:
    """The file's numbers as a (frames, 117) array, every line checked (count, numbers, finite)."""
    path = str(path)
    lines = read_text(path).splitlines()
    numbers = [i + 1 for i, ln in enumerate(lines) if ln.strip()]
    if len(numbers) != len(lines):
        lines = [lines[i - 1] for i in numbers]
    if not lines:
        raise SourceFormatError(f"{path}: the file has no frames.")
    line_of = np.asarray(numbers, dtype=np.int64)
    commas = np.fromiter((ln.count(",") for ln in lines), np.int64, len(lines))
    wrong = np.flatnonzero(commas != VALUES_PER_LINE - 1)
    if len(wrong):
        k = int(wrong[0])
        raise _fail(path, line_of[k], f"has {commas[k] + 1} comma-separated values, expected "
                                      f"{VALUES_PER_LINE} (root position + {NUM_JOINTS} exponential maps)")
    expected = len(lines) * VALUES_PER_LINE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # numpy's "could not be read to its end"
            flat = np.fromstring(",".join(lines), dtype=np.float64, sep=",")
    except (DeprecationWarning, ValueError):
        flat = None
    if flat is None or flat.size != expected:
        # Find the offending token with Python's strict float() for an exact message.
        for k, ln in enumerate(lines):
            for token in ln.split(","):
                try:
                    float(token)
                except ValueError:
                    raise _fail(path, line_of[k], f"'{token.strip()}' is not a number") from None
        flat = np.fromiter(map(float, ",".join(lines).split(",")), np.float64, expected)
    values = flat.reshape(len(lines), VALUES_PER_LINE)
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise _fail(path, line_of[k], "has a non-finite value (NaN or inf)")
    big = plausible.large_angle(values[:, 3:], 180.0 / np.pi)
    if big is not None:
        raise _fail(path, line_of[big[0]], plausible.angle_clause(float(values[:, 3:][big]), "radians"))
    return values


def read_cmu_expmap(path, fps: float = 120.0) -> SourceMotion:
    """Read one benchmark file as a rest-identity SourceMotion (Y up, CMU units, 38 joints)."""
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"read_cmu_expmap: fps must be positive, got {fps!r}")
    values = read_values(path)
    T = len(values)
    rotations = expmap_to_local_quat(values[:, 3:].reshape(T, NUM_JOINTS, 3))
    root_position = values[:, :3] + OFFSETS[0]
    return SourceMotion(
        skeleton=skeleton(), fps=float(fps), rotations=rotations, root_position=root_position,
        up_axis="Y", metres_per_unit=METRES_PER_UNIT, source=str(path),
        metadata={"format": "cmu_expmap", "path": str(path)},
    )


def benchmark_files(root) -> list:
    """``(split, action, path)`` for every ``<split>/<action>/<name>_<n>.txt[.gz]`` under ``root``.

    The action is the folder's name: the file stem usually repeats it, but ``walking_extra`` holds
    ``walking_<n>`` files. Sorted by split (train, test), action, then take number.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"benchmark_files: {root} is not a folder")
    found = []
    for split_rank, split in enumerate(SPLITS):
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        for action_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            for path in action_dir.iterdir():
                m = _FILE_NAME.match(path.name)
                if m and path.is_file():
                    found.append((split_rank, action_dir.name, int(m["take"]), split, path))
    found.sort(key=lambda row: row[:3])
    return [(split, action, path) for _, action, _, split, path in found]
