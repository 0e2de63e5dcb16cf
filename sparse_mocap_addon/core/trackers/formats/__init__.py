"""VR / positional tracker recordings: :func:`read_trackers` and :func:`write_trackers` for one
documented layout in three containers (CSV, JSON, npz), in the coordinate convention the user's
tool writes (numpy only).

Every reader gives a :class:`~sparse_mocap_addon.core.trackers.recording.TrackerRecording` in the core frame
(right-handed, Y up, metres, quaternions wxyz device-to-world) on a uniform time grid.

Trackers
--------
Any subset of the ``TRACKER_JOINTS`` body sites: pelvis, head, left/right hand, foot, elbow, knee.
Names are matched loosely: case, separators and a side word at either end are free, and the words
tools use are understood (``HMD``, ``headset``, ``CenterEye`` -> head; ``left_controller``,
``Controller (left)``, ``LeftHand`` -> left_hand; ``waist``, ``hip`` -> pelvis;
``left_foot_tracker``, ``RightFoot``, ``ankle_l`` -> left/right_foot). Columns or entries for other
sites (a chest tracker, a camera rig) are skipped and listed in ``metadata["ignored_trackers"]``.

Layout
------
Per tracker and sample: ``time`` (seconds), position ``px, py, pz`` and orientation quaternion
``qw, qx, qy, qz`` (device to world), in the file's convention and length unit. A missing sample
(tracking lost) leaves all seven values empty / null / NaN.

- **CSV** (``.csv`` or ``.csv.gz``), wide, one row per frame::

      # sparse_mocap trackers CSV 1
      # convention: unity
      # units: m
      # fps: 90
      time,head_px,head_py,head_pz,head_qx,head_qy,head_qz,head_qw,left_hand_px,...
      0.0,0.01,1.62,0.03,0,0.0872,0,0.9962,...

  or long, one row per tracker sample (what a per-device logger writes)::

      time,tracker,px,py,pz,qx,qy,qz,qw
      0.000,HMD,0.01,1.62,0.03,0,0.0872,0,0.9962
      0.000,Controller (left),0.2,1.1,0.3,0,0,0,1

  ``#`` lines before the header are optional ``key: value`` metadata (``convention``, ``units``,
  ``fps``). Components are named, so their column order is free; ``pos_x`` / ``position_x`` and
  ``rot_w`` / ``rotation_w`` / ``quat_w`` spell the same components. ``time`` may be left out when
  ``fps`` is given (in the file or as an argument): row k is then at k / fps.
- **JSON** (``.json``)::

      {"format": "sparse_mocap trackers", "version": 1, "convention": "unity", "units": "m",
       "fps": 90, "quaternion_order": "xyzw",
       "trackers": {"head": {"time": [0.0, 0.0111, ...],
                             "position": [[0.01, 1.62, 0.03], ...],
                             "rotation": [[0, 0.0872, 0, 0.9962], ...]}, ...}}

  or per frame: ``{"frames": [{"time": 0.0, "head": {"position": ..., "rotation": ...}, ...}]}``
  (the tracker objects may also sit under ``"trackers"`` in each frame). A position is a list of 3
  numbers or ``{"x":..,"y":..,"z":..}``; a rotation a list of 4 numbers in ``quaternion_order``
  (default: the convention's, below) or ``{"x":..,"y":..,"z":..,"w":..}`` (Unity's JsonUtility
  writes that). Each tracker has its own time stamps.
- **npz**: ``names`` (K,) strings, ``positions`` (T, K, 3), ``orientations`` (T, K, 4) in
  ``quaternion_order``, ``time`` (T,) or (T, K) seconds or ``fps``; optional ``valid`` (T, K),
  ``convention``, ``units``, ``quaternion_order`` (0-d strings).

Conventions (``convention=``; :mod:`.conventions` derives the maths)
--------------------------------------------------------------------
``unity`` (left-handed, Y up, +Z forward, +X right, m, quaternions printed x, y, z, w),
``unreal`` (left-handed, Z up, +X forward, +Y right, cm, x, y, z, w), ``openxr`` and ``steamvr``
(right-handed, Y up, -Z forward, +X right, m; x, y, z, w for OpenXR, w, x, y, z for OpenVR),
``blender`` (right-handed, Z up, -Y forward, m, w, x, y, z), ``core``. Positions
``p_core = s A p``, quaternions ``q_core = (w, det(A) A u)``; the source's forward axis becomes +Z;
the heading (where the wearer faced) is aligned later by ``core.trackers.calibration``.

Time
----
Trackers that share one uniform clock are taken as they are; otherwise everything is put on a
uniform grid at ``fps`` (default: the file's stated rate, else the median sample step) over the
span any tracker covers, by linear interpolation and slerp; frames outside a tracker's samples or
in a gap over 3.5 periods are missing (``valid`` False, NaN). ``metadata["times"]`` holds the
grid on the file's clock.

A wrong choice caught early
---------------------------
After the conversion :func:`read_trackers` refuses (one sentence) a head tracker below the feet or
the pelvis, a head whose median height is outside 1.0-2.3 m above the lowest tracker (with feet
tracked), a head below both hands, and trackers whose median spread is outside 5 cm - 4 m (units
off by 100: a 170 m person or a 1.7 cm one). The sentence names the convention or unit that would
pass when one does (``the convention 'unreal' passes these checks``). ``check=False`` skips this.

Before those checks, trackers over 10 km away are refused, and after them trackers jumping more than
5 m between frames faster than 100 m/s (``formats/plausible.py``); a stated fps must be 0.1-1000.

Errors: one sentence naming the file and the line (CSV), the element (JSON, ``trackers.head.
rotation[12]``) or the frame (npz), raised as :class:`~sparse_mocap_addon.core.trackers.recording.TrackerError`.
"""

from __future__ import annotations

from .checks import HEAD_ABOVE_LOWEST_M, SPAN_M
from .common import tracker_name
from .conventions import CONVENTIONS, UNITS, convention, positions_from_core, positions_to_core, quats_from_core, \
    quats_to_core
from .csv_io import CSV_MAGIC
from .dispatch import TRACKER_KINDS, read_trackers, write_trackers
from .json_io import JSON_FORMAT

__all__ = ["read_trackers", "write_trackers", "tracker_name", "convention", "CONVENTIONS", "UNITS", "TRACKER_KINDS",
           "positions_to_core", "positions_from_core", "quats_to_core", "quats_from_core", "CSV_MAGIC",
           "JSON_FORMAT", "HEAD_ABOVE_LOWEST_M", "SPAN_M"]
