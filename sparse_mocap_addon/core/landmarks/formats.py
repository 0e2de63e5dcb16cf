"""3D landmark file readers: one entry point, :func:`read_landmarks`, for the files that video pose
tools write. Numpy only.

Every reader gives a :class:`~sparse_mocap_addon.core.landmarks.sequence.LandmarkSequence` whose points are
in the **file's own axes** converted to metres (``landmarks.orient`` turns them into the core
frame), with canonical point names and a confidence per point (0 where a point is missing).

Supported files (plain or gzipped text is detected by its bytes, so ``.trc.gz`` works):

- ``.trc`` OpenSim / Pose2Sim marker files. Units m, cm or mm (``Units``), frame rate from
  ``DataRate``. Marker names become canonical (``RHip`` -> ``right_hip``, ``LBigToe`` ->
  ``left_big_toe``, ``Neck``, ``Head`` -> ``head_top``, ``Hip``/``MidHip`` -> ``mid_hip``, ...);
  markers with other names keep their own. Empty cells are missing points. ``NumFrames`` and
  ``NumMarkers`` must match the data.
- ``.json``:
  MediaPipe Pose world landmarks: a list of frames, each a list of 33 ``{x, y, z, visibility
  [, presence]}`` objects (or ``[x, y, z, visibility]`` lists), or an object whose ``"frames"``
  items hold ``"pose_world_landmarks"``, ``"world_landmarks"`` or ``"landmarks"`` (a list, a list
  of people of which the first is kept, or ``{"landmark": [...]}``). An empty or absent list is a
  frame without a person: all points missing. Image-space ``"pose_landmarks"`` are refused. Frames
  may carry ``"timestamp_ms"`` / ``"time"`` / ``"timestamp"`` (frame rate) and ``"frame"``;
  the object may carry ``"fps"``.
  AlphaPose-style records ``{"image_id": "12.jpg", "keypoints": [...], "score": s, "idx": track}``
  with 3D keypoints (``x, y, z, score`` per point, or ``"keypoints_3d"`` with ``x, y, z`` or
  ``x, y, z, score``). 17 points are COCO-17, 26 Halpe-26. 2D keypoints (``x, y, score``) are
  refused. With several people, the track (``idx``) seen in the most frames is kept (ties: the
  highest mean score); without ``idx``, the best-scoring person of each frame. The frame number is
  the last group of digits of ``image_id`` (or the record order); skipped frames are missing.
- ``.csv`` (MediaPipe): a header, then one row per frame. Named columns ``nose_x, nose_y, nose_z,
  nose_visibility, ...`` (any subset and order; ``_presence``, ``_score`` and ``_confidence`` are
  confidences too) or indexed ``x0, y0, z0, v0, ...`` / ``x_0, ...`` (layout from the count).
  Optional ``frame`` (skipped frame numbers are missing frames) and ``time`` / ``timestamp``
  columns (frame rate). Empty cells are missing values.
- ``.npy`` arrays (frames, points, 3) or (frames, points, 4) with a confidence last; a leading
  axis of 1 (MotionBERT's (1, T, 17, 3)) is dropped.
- ``.npz`` with ``joints``, ``positions`` or ``joints3d`` (as ``.npy``), optional ``confidence``
  (frames, points) and ``fps``.

Layouts: ``layout="auto"`` picks from the number of points: 33 MediaPipe, 26 Halpe, 24 SMPL; 17 is
ambiguous (COCO-17 or Human3.6M-17) and must be chosen, except in AlphaPose records (COCO-17). ``"smpl24"`` with more
than 24 points (regressor outputs with extra joints) keeps the first 24. Files that name their
points (TRC, named CSV columns) keep their own points and order (layout ``"named"``) unless a
layout is given, in which case the points are put in that layout's order (the ones the file lacks
are missing).

Confidence: MediaPipe visibility, or min(visibility, presence) when both exist; AlphaPose scores;
a 4th array channel; else 1 for every finite point.

Units and scale: ``metres_per_unit`` overrides the file's unit (TRC) or the default of metres.
Human3.6M-17 output of MotionBERT / VideoPose3D is not metric: ``height`` (the performer's stature,
metres) is required and the points are scaled so that ``landmark_scale.landmark_stature`` equals
it. ``height`` given for any other file scales it the same way (MediaPipe's metric scale comes
from an average body); the factor is in ``metadata["scale_to_height"]``.

Frame rate: ``fps`` overrides the file's. Files without one (MediaPipe, AlphaPose, arrays) get
30 fps and ``metadata["fps_assumed"] = True``; time stamps give the rate (time stamps whose median
step is 1 or more, or a column or key named ``*_ms``, are milliseconds).

Axes hint (``up_axis``): "-Y" for MediaPipe world landmarks and Human3.6M-17 camera-space output
(y points down), None otherwise (``orient`` then finds the up axis from the body).

Plausibility (``formats/plausible.py``): a frame rate the file states must be a number from 0.1 to
1000 (a missing one is assumed and said so, a wrong one refused, never replaced); infinite values,
points over 10 km away and points jumping over 5 m between frames faster than 100 m/s are refused
with the frame and the point; a body whose estimated stature is outside 0.5-2.6 m is refused naming
the unit the file probably uses ("the file's unit looks like millimetres").

Errors: one sentence naming the file and, where there is one, the line (text files) or frame
(JSON frames and records count from 0), raised as :class:`LandmarkError`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..body.measurements import HEIGHT_RANGE_M
from .scale import landmark_stature, scale_to_height
from .sequence import CANONICAL_NAMES, LAYOUTS, SMPL_LAYOUT, LandmarkError, LandmarkSequence
from ..kinematics.skeleton import JOINT_NAMES
from ..io.textio import FormatError
from ..io import plausible
from ..io.names import side_and_key
from ..io.textio import read_text

__all__ = ["read_landmarks", "canonical_name", "LANDMARK_EXTENSIONS", "LAYOUT_NAMES", "DEFAULT_VIDEO_FPS"]

LANDMARK_EXTENSIONS = (".trc", ".json", ".csv", ".npy", ".npz")
DEFAULT_VIDEO_FPS = 30.0
LAYOUT_NAMES = {**LAYOUTS, SMPL_LAYOUT: JOINT_NAMES}     # layout -> point names in array order
_AUTO_LAYOUT_BY_COUNT = {33: "mediapipe33", 26: "halpe26", 24: SMPL_LAYOUT}
_CAMERA_SPACE_LAYOUTS = ("mediapipe33", "h36m17")         # y points down in these tools' output


# --- names ---------------------------------------------------------------------------------------

_KNOWN_NAMES = frozenset(CANONICAL_NAMES) | (frozenset(JOINT_NAMES) - {"head"})
# Body parts that come in pairs, keyed by the part's letters without separators.
_SIDED_PARTS = {
    "eyeinner": "eye_inner", "innereye": "eye_inner", "eyeouter": "eye_outer", "outereye": "eye_outer",
    "eye": "eye", "ear": "ear", "mouth": "mouth", "shoulder": "shoulder", "elbow": "elbow",
    "wrist": "wrist", "pinky": "pinky", "index": "index", "thumb": "thumb", "hip": "hip",
    "knee": "knee", "ankle": "ankle", "heel": "heel", "footindex": "foot_index", "bigtoe": "big_toe",
    "smalltoe": "small_toe", "collar": "collar", "foot": "foot", "hand": "hand",
}
# Points on the midline.
_MIDLINE = {
    "nose": "nose", "neck": "neck", "head": "head_top", "headtop": "head_top", "tophead": "head_top",
    "topofhead": "head_top", "vertex": "head_top", "thorax": "thorax", "spine": "spine",
    "midhip": "mid_hip", "hip": "mid_hip", "hips": "mid_hip", "chip": "mid_hip", "mhip": "mid_hip",
    "hipcenter": "mid_hip", "hipcentre": "mid_hip", "centerhip": "mid_hip", "pelvis": "pelvis",
    "spine1": "spine1", "spine2": "spine2", "spine3": "spine3",
}


def canonical_name(name: str) -> str | None:
    """The canonical landmark name for a tool's point name, or None when it is not one of them.

    Case, separators and camel case do not matter and the side may be a prefix or a suffix:
    "RHip", "r_hip", "Right Hip", "RightHip", "right-hip", "hip_r" -> "right_hip"; "LEFT_ANKLE" ->
    "left_ankle"; "LBigToe" -> "left_big_toe"; "Head" (Pose2Sim, Halpe) -> "head_top"; "Hip" /
    "MidHip" -> "mid_hip". SMPL joint names other than "head" are returned as they are.
    """
    side, key = side_and_key(name)
    if key is None:
        return None
    if side is None:
        result = _MIDLINE.get(key)
    elif key in _SIDED_PARTS:
        part = _SIDED_PARTS[key]
        result = f"mouth_{side}" if part == "mouth" else f"{side}_{part}"
    else:
        result = None
    return result if result in _KNOWN_NAMES else None


# --- shared helpers ------------------------------------------------------------------------------

@dataclass
class _Parsed:
    """What a format reader found, before units, frame rate and scale are settled."""

    names: tuple
    points: np.ndarray            # (T, K, 3) file units, NaN where missing
    confidence: np.ndarray        # (T, K)
    layout: str
    fps: float | None = None
    up_axis: str | None = None
    metres_per_unit: float = 1.0
    metadata: dict = field(default_factory=dict)


def _fail(where, reason: str) -> LandmarkError:
    return LandmarkError(f"{where}: {reason}")


def _text(path: Path) -> str:
    try:
        text = read_text(path)
    except FormatError as exc:
        raise LandmarkError(str(exc)) from None
    return text.lstrip("\ufeff")


def _positive(value) -> float | None:
    """A positive finite float, or None."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _stated_rate(where, value, label: str = "array \"fps\"") -> float:
    """A frame rate the file states: a plausible one, or a LandmarkError (never silently replaced)."""
    rate, why = plausible.frame_rate(value)
    if why is not None:
        raise _fail(f"{where}, {label}", f"{why}; expected the file's frames per second, or no frame rate at all "
                    f"(then {DEFAULT_VIDEO_FPS:g} fps is assumed).")
    return rate


def _snap_rate(fps: float) -> float:
    """A rate within 0.05 % of a whole number becomes that number (29.97 stays 29.97)."""
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) <= 5e-4 * fps else float(fps)


def _as_seconds(times: np.ndarray, in_ms: bool) -> np.ndarray:
    """Time stamps in seconds: milliseconds when said so or when the median step is 1 or more."""
    steps = np.diff(times[np.isfinite(times)])
    if in_ms or (len(steps) and np.median(steps) >= 1.0):
        return times / 1000.0
    return times


def _frames_from_times(where, times: np.ndarray, labels) -> tuple[np.ndarray, float | None]:
    """(frame number of every row, frame rate) from increasing time stamps in seconds."""
    if len(times) < 2:
        return np.zeros(len(times), dtype=np.int64), None
    steps = np.diff(times)
    bad = np.flatnonzero(~(steps > 0))
    if len(bad):
        raise _fail(f"{where}, {labels[bad[0] + 1]}", f"the time stamp {times[bad[0] + 1]:g} s does not "
                    f"come after the previous one ({times[bad[0]]:g} s); time stamps must increase.")
    # Frame steps per time step, counted one gap at a time so that rounded time stamps never drift.
    per_step = np.maximum(np.rint(steps / np.median(steps)), 1).astype(np.int64)
    frames = np.concatenate([[0], np.cumsum(per_step)])
    return frames, _rate_from(times, frames)


def _rate_from(times: np.ndarray, frames: np.ndarray) -> float | None:
    if len(times) < 2 or not times[-1] - times[0] > 0 or frames[-1] == frames[0]:
        return None
    span = times[-1] - times[0]
    return _snap_rate((frames[-1] - frames[0]) / span)


def _place_frames(where, frame_numbers: np.ndarray, labels) -> tuple[np.ndarray, int]:
    """Row -> frame index (first frame 0) from frame numbers; skipped numbers become missing frames."""
    order = np.argsort(frame_numbers, kind="stable")
    repeated = np.flatnonzero(np.diff(frame_numbers[order]) == 0)
    if len(repeated):
        row = order[repeated[0] + 1]
        raise _fail(f"{where}, {labels[row]}", f"frame {frame_numbers[row]} appears twice.")
    index = frame_numbers - frame_numbers.min()
    return index, int(index.max()) + 1


def _scatter(index: np.ndarray, count: int, points: np.ndarray, confidence: np.ndarray):
    """Rows placed at their frame index; frames without a row are missing."""
    full_points = np.full((count,) + points.shape[1:], np.nan)
    full_conf = np.zeros((count,) + confidence.shape[1:])
    full_points[index] = points
    full_conf[index] = confidence
    return full_points, full_conf


def _layout_for_count(where, count: int, layout: str, ambiguous_17: bool = True) -> str:
    """The layout of an unnamed array with ``count`` points per frame."""
    if layout == "auto":
        if count == 17 and ambiguous_17:
            raise _fail(where, "17 points per frame could be COCO-17 (AlphaPose, ViTPose) or Human3.6M-17 "
                        "(MotionBERT, VideoPose3D); choose the layout coco17 or h36m17.")
        if count == 17:
            return "coco17"
        if count in _AUTO_LAYOUT_BY_COUNT:
            return _AUTO_LAYOUT_BY_COUNT[count]
        raise _fail(where, f"{count} points per frame match no known layout (33 MediaPipe, 26 Halpe, "
                    "24 SMPL, 17 COCO or Human3.6M); choose a layout.")
    expected = len(LAYOUT_NAMES[layout])
    if count == expected or (layout == SMPL_LAYOUT and count > expected):
        return layout
    raise _fail(where, f"{count} points per frame but the {layout} layout has {expected}.")


def _from_layout(where, points, confidence, layout: str, fps=None, metadata=None,
                 ambiguous_17: bool = True) -> _Parsed:
    """An unnamed (T, K, 3) block in a layout's order (``layout`` "auto" or a layout name)."""
    layout = _layout_for_count(where, points.shape[1], layout, ambiguous_17)
    names = LAYOUT_NAMES[layout]
    points, confidence = points[:, :len(names)], confidence[:, :len(names)]
    up = "-Y" if layout in _CAMERA_SPACE_LAYOUTS else None
    return _Parsed(names, points, confidence, layout, fps=fps, up_axis=up, metadata=metadata or {})


def _arrange_named(where, names, points, confidence, layout: str):
    """(names, points, confidence, layout) for a file that names its points."""
    canonical, seen = [], set()
    for name in names:
        new = canonical_name(name)
        if new is None or new in seen:
            new = name
        if new in seen:
            raise _fail(where, f"the point name {name!r} appears twice.")
        seen.add(new)
        canonical.append(new)
    if layout == "auto":
        return tuple(canonical), points, confidence, "named"
    target = LAYOUT_NAMES[layout]
    foreign = [n for n in canonical if n not in target]
    if foreign:
        raise _fail(where, f"the points {', '.join(foreign)} are not in the {layout} layout; read with "
                    "layout 'auto' to keep the file's own points.")
    index = np.array([target.index(n) for n in canonical], dtype=np.int64)
    full_points = np.full((points.shape[0], len(target), 3), np.nan)
    full_conf = np.zeros((points.shape[0], len(target)))
    full_points[:, index] = points
    full_conf[:, index] = confidence
    return tuple(target), full_points, full_conf, layout


def _floats(where, rows: list, labels, columns) -> np.ndarray:
    """Equal-length rows of text cells as a float array; empty cells are NaN."""
    try:
        return np.array(rows, dtype=np.float64)          # fast path: no empty or bad cells
    except ValueError:
        pass
    values = np.empty((len(rows), len(columns)))
    for r, row in enumerate(rows):
        try:
            values[r] = [float(cell) if cell.strip() else np.nan for cell in row]
        except ValueError:
            c = next(c for c, cell in enumerate(row) if cell.strip() and not _is_number(cell))
            raise _fail(f"{where}, {labels[r]}", f"{row[c].strip()!r} in column {columns[c]} is not a "
                        "number.") from None
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _finite_confidence(points: np.ndarray) -> np.ndarray:
    return np.isfinite(points).all(axis=-1).astype(np.float64)


def _split_array(where, array, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(points, confidence) from a (T, K, 3|4) numeric array (a leading axis of 1 dropped)."""
    array = np.asarray(array)
    if array.dtype.kind not in "iuf":
        raise _fail(where, f"{what} holds {array.dtype} values; numbers are expected.")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise _fail(where, f"{what} has shape {tuple(array.shape)}; expected (frames, points, 3) or "
                    "(frames, points, 4) with x, y, z and a confidence.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise _fail(where, f"{what} has no frames or no points (shape {tuple(array.shape)}).")
    array = array.astype(np.float64)
    points = array[..., :3]
    confidence = array[..., 3] if array.shape[2] == 4 else _finite_confidence(points)
    return points, confidence


# --- TRC -----------------------------------------------------------------------------------------

_TRC_UNITS = {
    "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
    "cm": 0.01, "centimeter": 0.01, "centimeters": 0.01, "centimetre": 0.01, "centimetres": 0.01,
    "mm": 0.001, "millimeter": 0.001, "millimeters": 0.001, "millimetre": 0.001, "millimetres": 0.001,
}


def _trc_cells(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def _read_trc(path: Path, layout: str, metres_per_unit) -> _Parsed:
    lines = _text(path).splitlines()
    if len(lines) < 5:
        raise _fail(path, f"a TRC file starts with 5 header lines (PathFileType, the header names and "
                    f"values, the marker names, X1 Y1 Z1) but this one has {len(lines)} lines.")
    if not lines[0].strip().lower().startswith("pathfiletype"):
        raise _fail(f"{path}, line 1", "expected \"PathFileType\", the first word of an OpenSim TRC file.")
    keys = [c.strip() for c in _trc_cells(lines[1]) if c.strip()]
    values = [c.strip() for c in _trc_cells(lines[2])]
    if len(values) < len(keys):
        raise _fail(f"{path}, line 3", f"{len(values)} header values for the {len(keys)} header names on line 2.")
    header = {k.lower(): v for k, v in zip(keys, values)}

    def count(key):
        try:
            value = int(header[key.lower()])
        except (KeyError, ValueError):
            raise _fail(f"{path}, line 3", f"{key} must be a whole number, got "
                        f"{header.get(key.lower(), 'nothing')!r}.") from None
        if value < 0:
            raise _fail(f"{path}, line 3", f"{key} must not be negative, got {value}.")
        return value

    num_frames, num_markers = count("NumFrames"), count("NumMarkers")
    if metres_per_unit is None:
        unit = header.get("units", "")
        if unit.lower() not in _TRC_UNITS:
            raise _fail(f"{path}, line 3", f"Units {unit!r} is not m, cm or mm; expected the unit of the file's "
                        "coordinates there.")
        metres_per_unit = _TRC_UNITS[unit.lower()]
    rate_key = next((k for k in ("datarate", "camerarate") if k in header), None)
    fps = _stated_rate(f"{path}, line 3", header[rate_key], keys[[k.lower() for k in keys].index(rate_key)]) \
        if rate_key else None

    name_cells = _trc_cells(lines[3])
    if len(name_cells) < 2 or not name_cells[0].strip().lower().startswith("frame"):
        raise _fail(f"{path}, line 4", "expected the marker names after \"Frame#\" and \"Time\".")
    markers = [c.strip() for c in name_cells[2:] if c.strip()]
    if len(markers) != num_markers:
        raise _fail(f"{path}, line 4", f"{len(markers)} marker names but NumMarkers on line 3 says {num_markers}.")
    if not re.match(r"^[XYZ]\d+$", lines[4].strip().split()[0] if lines[4].strip() else "", re.IGNORECASE):
        raise _fail(f"{path}, line 5", "expected the coordinate labels X1 Y1 Z1 X2 ...")

    expected = 2 + 3 * num_markers
    rows, labels = [], []
    for number, line in enumerate(lines[5:], start=6):
        if not line.strip():
            continue
        cells = _trc_cells(line)
        if len(cells) > expected and not "".join(cells[expected:]).strip():
            cells = cells[:expected]                      # trailing tabs
        if len(cells) != expected:
            raise _fail(f"{path}, line {number}", f"{len(cells)} values but the header promises "
                        f"{num_markers} markers ({expected} values).")
        if len(rows) == num_frames:
            raise _fail(f"{path}, line {number}", f"frame row {num_frames + 1} but NumFrames on line 3 says "
                        f"{num_frames}.")
        rows.append(cells)
        labels.append(f"line {number}")
    if len(rows) != num_frames:
        raise _fail(f"{path}, line 3", f"NumFrames says {num_frames} but the file has {len(rows)} frame rows "
                    "(is it truncated?).")
    if not rows:
        raise _fail(path, "the file has no frames.")
    columns = ["Frame#", "Time"] + [f"{axis}{i + 1} ({m})" for i, m in enumerate(markers) for axis in "XYZ"]
    values = _floats(path, rows, labels, columns)
    points = values[:, 2:].reshape(len(rows), num_markers, 3)
    if fps is None:
        times = values[:, 1]
        fps = _rate_from(times, np.arange(len(times))) if np.isfinite(times).all() else None
    names, points, confidence, layout = _arrange_named(f"{path}, line 4", markers, points,
                                                       _finite_confidence(points), layout)
    first = float(values[0, 0])
    metadata = {"format": "trc", "marker_names": markers, "units": header.get("units"),
                "first_frame": int(first) if first.is_integer() else first, "start_time": float(values[0, 1])}
    return _Parsed(names, points, confidence, layout, fps=fps, metres_per_unit=metres_per_unit,
                   metadata=metadata)


# --- CSV -----------------------------------------------------------------------------------------

_CONFIDENCE_WORDS = {"v": "visibility", "vis": "visibility", "visibility": "visibility",
                     "p": "presence", "presence": "presence", "c": "score", "conf": "score",
                     "confidence": "score", "score": "score"}
_INDEXED_COLUMN = re.compile(r"^(x|y|z|v|vis|visibility|p|presence|c|conf|confidence|score)_?(\d+)$", re.I)
_NAMED_COLUMN = re.compile(r"^(.+?)[_.\s-](x|y|z|v|vis|visibility|presence|score|conf|confidence)$", re.I)
_FRAME_COLUMNS = ("frame", "frame_index", "frame_idx", "frame_id", "frame_number", "frame#", "frame_num")
_TIME_COLUMNS = ("time", "timestamp", "time_s", "seconds", "timestamp_ms", "time_ms")


def _confidence_from(points: np.ndarray, visibility, presence, score) -> np.ndarray:
    """min(visibility, presence) where both exist, else whichever exists, else 1 where finite."""
    found = [c for c in (visibility, presence, score) if c is not None]
    if not found:
        return _finite_confidence(points)
    stack = np.stack(found)
    with np.errstate(invalid="ignore"):
        conf = np.nanmin(np.where(np.isfinite(stack), stack, np.inf), axis=0)
    conf[np.isinf(conf)] = 1.0      # no confidence value given for this point: trust it if finite
    return conf


def _read_csv(path: Path, layout: str) -> _Parsed:
    lines = _text(path).splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise _fail(path, "the file is empty; expected a header line and one row per frame.")
    header_line, header = numbered[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    columns = [c.strip().strip('"').strip() for c in header.split(delimiter)]
    where_header = f"{path}, line {header_line}"

    frame_col = time_col = None
    indexed, named, ignored = {}, {}, []
    for c, column in enumerate(columns):
        low = column.lower()
        if low in _FRAME_COLUMNS:
            frame_col = c
        elif low in _TIME_COLUMNS:
            time_col = c
        elif m := _INDEXED_COLUMN.match(column):
            indexed.setdefault(int(m.group(2)), {})[_CONFIDENCE_WORDS.get(m.group(1).lower(), m.group(1).lower())] = c
        elif m := _NAMED_COLUMN.match(column):
            named.setdefault(m.group(1), {})[_CONFIDENCE_WORDS.get(m.group(2).lower(), m.group(2).lower())] = c
        else:
            ignored.append(column)
    if indexed and named:
        raise _fail(where_header, "the columns mix point names (nose_x) and point numbers (x0); use one kind.")
    if not indexed and not named:
        raise _fail(where_header, "no landmark columns: expected nose_x, nose_y, nose_z, nose_visibility, ... "
                    "or x0, y0, z0, v0, ...")
    groups = named or indexed
    for key, group in groups.items():
        lacking = [a for a in "xyz" if a not in group]
        if lacking:
            label = f"{key}_{{}}" if named else "{}" + str(key)
            raise _fail(where_header, f"the column {label.format(lacking[0])} is missing (point {key} has "
                        f"{', '.join(sorted(group))}).")

    rows, labels = [], []
    for number, line in numbered[1:]:
        cells = line.split(delimiter)
        if len(cells) != len(columns):
            raise _fail(f"{path}, line {number}", f"{len(cells)} values but the header (line {header_line}) "
                        f"has {len(columns)} columns.")
        rows.append(cells)
        labels.append(f"line {number}")
    if not rows:
        raise _fail(path, "the file has a header but no frame rows.")
    values = _floats(path, rows, labels, columns)

    keys = list(named) if named else list(range(max(indexed) + 1))
    points = np.full((len(rows), len(keys), 3), np.nan)
    conf_parts = {w: np.full((len(rows), len(keys)), np.nan) for w in ("visibility", "presence", "score")}
    for k, key in enumerate(keys):
        group = groups.get(key, {})
        for a, axis in enumerate("xyz"):
            if axis in group:
                points[:, k, a] = values[:, group[axis]]
        for what, part in conf_parts.items():
            if what in group:
                part[:, k] = values[:, group[what]]
    present = [w for w in conf_parts if any(w in g for g in groups.values())]
    confidence = _confidence_from(points, *(conf_parts[w] if w in present else None for w in conf_parts))

    metadata = {"format": "csv"}
    if ignored:
        metadata["ignored_columns"] = ignored
    fps = None
    frames = None
    if time_col is not None:
        times = _as_seconds(values[:, time_col], columns[time_col].lower().endswith("_ms"))
        if not np.isfinite(times).all():
            bad = int(np.flatnonzero(~np.isfinite(times))[0])
            raise _fail(f"{path}, {labels[bad]}", f"the {columns[time_col]} column has no number.")
        frames, fps = _frames_from_times(path, times, labels)
    if frame_col is not None:
        numbers = values[:, frame_col]
        bad = np.flatnonzero(~np.isfinite(numbers) | (numbers != np.round(numbers)))
        if len(bad):
            raise _fail(f"{path}, {labels[bad[0]]}", f"the frame number {numbers[bad[0]]:g} is not a whole number.")
        numbers = numbers.astype(np.int64)
        if time_col is not None:
            fps = _rate_from(times, numbers) or fps
        frames = numbers
        metadata["first_frame"] = int(numbers.min())
    if frames is not None:
        index, count = _place_frames(path, frames, labels)
        points, confidence = _scatter(index, count, points, confidence)

    if named:
        names, points, confidence, layout = _arrange_named(where_header, keys, points, confidence, layout)
        mediapipe = set(names) <= set(LAYOUTS["mediapipe33"])
        up = "-Y" if layout in _CAMERA_SPACE_LAYOUTS or (layout == "named" and mediapipe) else None
        return _Parsed(names, points, confidence, layout, fps=fps, up_axis=up, metadata=metadata)
    return _from_layout(where_header, points, confidence, layout, fps=fps, metadata=metadata)


# --- JSON ----------------------------------------------------------------------------------------

_WORLD_KEYS = ("pose_world_landmarks", "world_landmarks", "poseWorldLandmarks", "worldLandmarks", "landmarks")
_IMAGE_KEYS = ("pose_landmarks", "poseLandmarks", "normalized_landmarks")
_RECORD_KEYS = ("keypoints_3d", "keypoints")


def _read_json(path: Path, layout: str) -> _Parsed:
    try:
        data = json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise _fail(f"{path}, line {exc.lineno}", f"not valid JSON ({exc.msg}).") from None
    fps = None
    if isinstance(data, dict):
        key = next((k for k in ("fps", "frame_rate") if k in data), None)
        fps = _stated_rate(path, data[key], f"key \"{key}\"") if key else None
        if "frames" not in data:
            keys = ", ".join(list(map(str, data))[:6]) or "none"
            raise _fail(path, "expected a list of frames, a list of AlphaPose records or an object with a "
                        f"\"frames\" list; the object has the keys {keys}.")
        items = data["frames"]
    else:
        items = data
    if not isinstance(items, list):
        raise _fail(path, f"expected a list of frames, found {type(items).__name__}.")
    if not items:
        raise _fail(path, "the file has no frames.")
    first = next((item for item in items if item), None)
    if isinstance(first, dict) and any(k in first for k in _RECORD_KEYS):
        parsed = _alphapose_records(path, items, layout)
    else:
        parsed = _mediapipe_frames(path, items, layout)
    parsed.fps = fps or parsed.fps
    return parsed


def _landmark_list(where, item):
    """The landmark list of one MediaPipe frame item ([] when no person was found)."""
    if isinstance(item, dict):
        key = next((k for k in _WORLD_KEYS if k in item), None)
        if key is None:
            image = next((k for k in _IMAGE_KEYS if k in item), None)
            if image is not None:
                raise _fail(where, f"\"{image}\" are image-space landmarks; world landmarks "
                            "(\"pose_world_landmarks\") in metres are needed.")
            return []
        item = item[key]
    if isinstance(item, dict):                  # protobuf JSON: {"landmark": [...]}
        item = item.get("landmark", [])
    if item is None:
        return []
    if not isinstance(item, list):
        raise _fail(where, f"expected a list of landmarks, found {type(item).__name__}.")
    if item and isinstance(item[0], list) and item[0] and isinstance(item[0][0], (dict, list)):
        return item[0]                           # one list per person: keep the first
    return item


def _landmark_values(where, landmark) -> tuple:
    """(x, y, z, visibility, presence) of one landmark object or list; NaN for an absent confidence."""
    if isinstance(landmark, dict):
        try:
            xyz = [float(landmark[a]) for a in "xyz"]
        except KeyError as exc:
            raise _fail(where, f"the landmark has no {exc.args[0]!r}; expected x, y, z and visibility.") from None
        except (TypeError, ValueError):
            raise _fail(where, "x, y and z must be numbers.") from None
        extra = [landmark.get("visibility"), landmark.get("presence")]
    elif isinstance(landmark, (list, tuple)) and 3 <= len(landmark) <= 5:
        xyz, extra = list(landmark[:3]), list(landmark[3:]) + [None, None]
    else:
        raise _fail(where, "expected a landmark {x, y, z, visibility} or [x, y, z, visibility], "
                    f"found {landmark!r:.60}.")
    try:
        return tuple(float(v) for v in xyz) + tuple(np.nan if v is None else float(v) for v in extra[:2])
    except (TypeError, ValueError):
        raise _fail(where, f"the landmark values {landmark!r:.60} are not numbers.") from None


def _frame_time(item):
    """(time stamp, whether it is in milliseconds) of a frame item; (None, None) without one."""
    if isinstance(item, dict):
        for key in ("timestamp_ms", "time_ms", "time", "timestamp"):
            value = item.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value), key.endswith("_ms")
    return None, None


def _frame_values(where, marks: list) -> np.ndarray:
    """(K, 5) x, y, z, visibility, presence of one frame's landmarks (NaN for absent confidences)."""
    try:      # fast path: well-formed landmark objects
        return np.array([(m["x"], m["y"], m["z"], m.get("visibility", np.nan), m.get("presence", np.nan))
                         for m in marks], dtype=np.float64)
    except (KeyError, TypeError, ValueError, AttributeError):
        return np.array([_landmark_values(f"{where}, landmark {k}", m) for k, m in enumerate(marks)])


def _mediapipe_frames(path: Path, items: list, layout: str) -> _Parsed:
    blocks, count, count_frame = {}, None, None
    for i, item in enumerate(items):
        marks = _landmark_list(f"{path}, frame {i}", item)
        if not marks:
            continue
        if count is None:
            count, count_frame = len(marks), i
        elif len(marks) != count:
            raise _fail(f"{path}, frame {i}", f"{len(marks)} landmarks but frame {count_frame} has {count}.")
        blocks[i] = _frame_values(f"{path}, frame {i}", marks)
    if count is None:
        raise _fail(path, "no frame has any landmarks (no person was detected, or the frames have no "
                    "\"pose_world_landmarks\").")
    values = np.full((len(items), count, 5), np.nan)
    detected = np.zeros(len(items), dtype=bool)
    detected[list(blocks)] = True
    values[detected] = np.stack(list(blocks.values()))
    points = values[..., :3]
    visibility, presence = values[..., 3], values[..., 4]
    confidence = _confidence_from(points, visibility if np.isfinite(visibility).any() else None,
                                  presence if np.isfinite(presence).any() else None, None)
    confidence[~detected] = 0.0

    labels = [f"frame {i}" for i in range(len(items))]
    metadata = {"format": "mediapipe_json", "frames_without_person": int((~detected).sum())}
    fps = None
    numbers = [item.get("frame", item.get("frame_index")) if isinstance(item, dict) else None for item in items]
    stamps = [_frame_time(item) for item in items]
    index = None
    if all(isinstance(n, int) for n in numbers):
        index, total = _place_frames(path, np.array(numbers, dtype=np.int64), labels)
        metadata["first_frame"] = int(min(numbers))
    if all(t is not None for t, _ in stamps):
        times = _as_seconds(np.array([t for t, _ in stamps]), stamps[0][1])
        frames, fps = _frames_from_times(path, times, labels)
        if index is None:
            index, total = frames - frames.min(), int(frames.max() - frames.min()) + 1
        else:
            fps = _rate_from(times, index) or fps
    if index is not None:
        points, confidence = _scatter(index, total, points, confidence)
    return _from_layout(path, points, confidence, layout, fps=fps, metadata=metadata)


def _frame_number(image_id):
    """The frame number in an AlphaPose image_id: the int itself, or the last digits of the name."""
    if isinstance(image_id, bool):
        return None
    if isinstance(image_id, int):
        return image_id
    if isinstance(image_id, float) and image_id.is_integer():
        return int(image_id)
    if isinstance(image_id, str):
        digits = re.findall(r"\d+", Path(image_id).stem)
        return int(digits[-1]) if digits else None
    return None


def _record_points(where, record, layout: str):
    """(K, 4) x, y, z, score of one AlphaPose record."""
    key = next(k for k in _RECORD_KEYS if k in record)
    try:
        values = np.asarray(record[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise _fail(where, f"\"{key}\" must be a list of numbers.") from None
    known = (len(LAYOUT_NAMES[layout]),) if layout != "auto" else (17, 26, 33, 24)
    if values.ndim == 2 and values.shape[1] in (3, 4):
        nested = values
    elif values.ndim == 1:
        n = len(values)
        if n % 4 == 0 and n // 4 in known:
            nested = values.reshape(-1, 4)
        elif n % 3 == 0 and n // 3 in known and key == "keypoints_3d":
            nested = values.reshape(-1, 3)
        elif n % 3 == 0 and key == "keypoints":
            raise _fail(where, f"\"keypoints\" holds {n} numbers, {n // 3} points of (x, y, score): 2D image "
                        "keypoints cannot be used; 3D landmarks (x, y, z, score per point) are needed, e.g. "
                        "lifted by MotionBERT.")
        else:
            raise _fail(where, f"\"{key}\" holds {n} numbers, which is not x, y, z, score for a known number "
                        "of points (17, 24, 26 or 33).")
    else:
        raise _fail(where, f"\"{key}\" has shape {values.shape}; expected a flat list or (points, 3|4).")
    if nested.shape[1] == 3:
        nested = np.concatenate([nested, _finite_confidence(nested)[:, None]], axis=1)
    return nested


def _alphapose_records(path: Path, records: list, layout: str) -> _Parsed:
    blocks, numbers, scores, tracks = [], [], [], []
    for r, record in enumerate(records):
        where = f"{path}, record {r}"
        if not isinstance(record, dict) or not any(k in record for k in _RECORD_KEYS):
            raise _fail(where, "expected an object with \"keypoints\" (AlphaPose) like the other records.")
        block = _record_points(where, record, layout)
        if blocks and len(block) != len(blocks[0]):
            raise _fail(where, f"{len(block)} points but record 0 has {len(blocks[0])}.")
        blocks.append(block)
        numbers.append(_frame_number(record.get("image_id")))
        score = _positive(record.get("score"))
        scores.append(score if score is not None else float(np.nanmean(block[:, 3])))
        idx = record.get("idx")
        tracks.append(json.dumps(idx) if idx is not None else None)
    blocks = np.stack(blocks)
    scores = np.array(scores)

    if all(n is not None for n in numbers):
        frames = np.array(numbers, dtype=np.int64)
    else:   # frame = order of first appearance of each image_id (or each record without one)
        ids = [json.dumps(rec.get("image_id", f"#{r}")) for r, rec in enumerate(records)]
        frames = np.array([list(dict.fromkeys(ids)).index(i) for i in ids], dtype=np.int64)
    metadata, notes = {"format": "alphapose_json"}, []

    keep = np.ones(len(records), dtype=bool)
    named_tracks = sorted({t for t in tracks if t is not None})
    if len(named_tracks) > 1:
        track_array = np.array([t if t is not None else "" for t in tracks])
        seen = [len(np.unique(frames[track_array == t])) for t in named_tracks]
        mean_score = [float(scores[track_array == t].mean()) for t in named_tracks]
        best = max(range(len(named_tracks)), key=lambda k: (seen[k], mean_score[k]))
        keep = track_array == named_tracks[best]
        metadata.update(people=len(named_tracks), track=json.loads(named_tracks[best]))
        notes.append(f"kept track {named_tracks[best]} (seen in {seen[best]} frames) of {len(named_tracks)} people")
    # One record per frame: the best-scoring one of the kept records.
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((-scores[rows], frames[rows]))]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = frames[rows][1:] != frames[rows][:-1]
    if not first.all():
        notes.append("frames with several people: kept the best-scoring one")
    if notes:
        metadata["note"] = "; ".join(notes)
    rows = rows[first]
    points, confidence = blocks[rows, :, :3], blocks[rows, :, 3]
    labels = [f"record {r}" for r in rows]
    index, total = _place_frames(path, frames[rows], labels)
    metadata["first_frame"] = int(frames[rows].min())
    points, confidence = _scatter(index, total, points, confidence)
    return _from_layout(path, points, confidence, layout, ambiguous_17=False, metadata=metadata)


# --- arrays --------------------------------------------------------------------------------------

_NPZ_POINT_KEYS = ("joints", "positions", "joints3d")


def _read_npy(path: Path, layout: str) -> _Parsed:
    try:
        array = np.load(path, allow_pickle=False)
    except Exception:      # numpy raises many kinds (ValueError, SyntaxError, EOFError...) for a damaged header
        raise _fail(path, plausible.damaged_array_file(".npy") + ".") from None
    points, confidence = _split_array(path, array, "the array")
    return _from_layout(path, points, confidence, layout, metadata={"format": "npy"})


def _read_npz(path: Path, layout: str) -> _Parsed:
    try:
        with np.load(path, allow_pickle=False) as archive:
            key = next((k for k in _NPZ_POINT_KEYS if k in archive.files), None)
            if key is None:
                raise _fail(path, f"no point array: expected one named {', '.join(_NPZ_POINT_KEYS)}; the file "
                            f"has {', '.join(archive.files) or 'none'}.")
            array = archive[key]
            extra_confidence = archive["confidence"] if "confidence" in archive.files else None
            fps = _stated_rate(path, archive["fps"]) if "fps" in archive.files else None
    except LandmarkError:
        raise
    except Exception:      # zipfile, zlib and numpy raise many kinds for a damaged archive
        raise _fail(path, plausible.damaged_array_file(".npz") + ".") from None
    points, confidence = _split_array(path, array, f"\"{key}\"")
    if extra_confidence is not None:
        extra_confidence = np.asarray(extra_confidence, dtype=np.float64)
        if extra_confidence.ndim == 3 and extra_confidence.shape[0] == 1:
            extra_confidence = extra_confidence[0]
        if extra_confidence.shape != points.shape[:2]:
            raise _fail(path, f"\"confidence\" has shape {extra_confidence.shape} but \"{key}\" has "
                        f"{points.shape[0]} frames of {points.shape[1]} points.")
        confidence = extra_confidence
    return _from_layout(path, points, confidence, layout, fps=fps, metadata={"format": "npz", "array": key})


# --- entry point ---------------------------------------------------------------------------------

_READERS = {".trc": "trc", ".json": "json", ".csv": "csv", ".npy": "npy", ".npz": "npz"}


def _extension(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
        if suffixes and suffixes[-1] in (".npy", ".npz"):
            raise _fail(path, "gzipped arrays cannot be read; use .npz (compressed) instead.")
    ext = suffixes[-1] if suffixes else ""
    if ext not in _READERS:
        raise _fail(path, f"unknown landmark file type {ext or '(no extension)'!r}; expected "
                    f"{', '.join(LANDMARK_EXTENSIONS)} (text files may be gzipped).")
    return ext


def _check_options(layout, fps, metres_per_unit, height):
    layouts = ("auto",) + tuple(LAYOUT_NAMES)
    if layout not in layouts:
        raise LandmarkError(f"layout must be one of {', '.join(layouts)}, got {layout!r}.")
    for label, value in (("fps", fps), ("metres_per_unit", metres_per_unit)):
        if value is not None and _positive(value) is None:
            raise LandmarkError(f"{label} must be a positive number, got {value!r}.")
    if height is not None:
        lo, hi = HEIGHT_RANGE_M
        value = _positive(height)
        if value is None or not lo <= value <= hi:
            raise LandmarkError(f"height {height!r} is not a plausible stature: expected the performer's height "
                                f"in metres, {lo:.2f} to {hi:.2f}.")


def _check_points(path: Path, parsed: _Parsed, unit: float, fps: float, stature_checked: bool = False) -> None:
    """Infinite values and points kilometres away are refused (file, frame, point); impossible jumps
    too, once the body's size has been checked (a body in the wrong unit is named as such first)."""
    def label(k):
        return f"point {parsed.names[k]}"

    if not np.isfinite(parsed.points).all(axis=-1).any():
        raise _fail(path, "no point has a value in any frame; expected at least one frame with landmarks.")
    why = plausible.infinite_values(parsed.points, label) or plausible.far_positions(parsed.points, label, unit)
    if why is None and stature_checked:
        why = plausible.fast_steps(parsed.points, fps, label, unit)
    if why is not None:
        raise _fail(path, why + ".")


def _unit_name(unit: float) -> str:
    return next((name for name, m in plausible.UNITS.items() if m == unit), f"units of {unit:g} m")


def _check_stature(path: Path, seq: LandmarkSequence, unit: float) -> None:
    """A body far from a person's height is a unit mistake: say which unit the file probably uses."""
    try:
        stature = landmark_stature(seq)
    except LandmarkError:          # too few confident points to measure; the solver says so later
        return
    why = plausible.stature_problem(stature, unit, _unit_name(unit))
    if why is not None:
        raise _fail(path, why + ".")


def read_landmarks(path, layout: str = "auto", fps: float | None = None, metres_per_unit: float | None = None,
                   height: float | None = None) -> LandmarkSequence:
    """Read a 3D landmark file (.trc, .json, .csv, .npy, .npz) into a :class:`LandmarkSequence`.

    ``layout``: "auto" or one of ``LAYOUT_NAMES`` (mediapipe33, h36m17, coco17, halpe26, smpl24).
    ``fps`` overrides the file's frame rate (30 is assumed when a file has none).
    ``metres_per_unit`` overrides the file's unit (default: the TRC ``Units``, else metres).
    ``height``: the performer's stature in metres; required for Human3.6M-17 (not metric), and
    when given for any file the points are scaled to it. The module docstring lists the formats.
    """
    _check_options(layout, fps, metres_per_unit, height)
    path = Path(path)
    kind = _READERS[_extension(path)]
    if not path.is_file():
        raise _fail(path, "no such file.")
    if kind == "trc":
        parsed = _read_trc(path, layout, metres_per_unit)
    else:
        parsed = {"json": _read_json, "csv": _read_csv, "npy": _read_npy, "npz": _read_npz}[kind](path, layout)

    metadata = dict(parsed.metadata)
    if fps is not None:
        rate = float(fps)
    elif parsed.fps is not None:
        rate = float(parsed.fps)
    else:
        rate = DEFAULT_VIDEO_FPS
    metadata["fps_assumed"] = fps is None and parsed.fps is None
    unit = float(metres_per_unit) if metres_per_unit is not None else parsed.metres_per_unit
    metadata["metres_per_unit"] = unit
    if parsed.layout == "h36m17" and height is None:
        raise _fail(path, "Human3.6M-17 landmarks (MotionBERT, VideoPose3D) are not in metres; give the "
                    "performer's height to scale them.")
    if fps is None and parsed.fps is not None:
        rate, why = plausible.frame_rate(rate)
        if why is not None:
            raise _fail(path, f"{why}, as the time stamps give it; expected time stamps in seconds (or a "
                        "column named *_ms for milliseconds).")
    _check_points(path, parsed, unit, rate)
    seq = LandmarkSequence(names=parsed.names, points=parsed.points * unit, confidence=parsed.confidence,
                           fps=rate, layout=parsed.layout, source=str(path), up_axis=parsed.up_axis,
                           metadata=metadata)
    if height is None and parsed.layout != "h36m17":
        _check_stature(path, seq, unit)
    _check_points(path, parsed, unit, rate, stature_checked=True)
    if height is not None:
        seq = scale_to_height(seq, float(height))
    return seq
