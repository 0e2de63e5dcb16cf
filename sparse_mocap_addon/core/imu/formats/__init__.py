"""Real IMU recordings: one entry point, :func:`read_imu`, for the files body-worn IMU systems
write, a documented generic CSV (:func:`write_imu_csv` writes it), and :func:`resample_imu`.
Numpy only (``.pt`` files import torch lazily, when it is installed).

Every reader gives an :class:`~sparse_mocap_addon.core.imu.recording.ImuRecording`: per frame and sensor the
orientation (a rotation matrix taking sensor-frame vectors to the world frame,
``v_world = R @ v_sensor``) and the *free* acceleration (gravity removed, world frame, m/s^2), on a
uniform time grid. ``world`` names the frame the values are in ("core" when they already are in
the core frame, else the device's own earth frame) and ``metadata["up_axis"]`` says which world
axis points up ("+Y" in the core frame, "+Z" in the vendors' earth frames); calibration (a later
step) brings device frames into the core frame.

Formats (``kind``; "auto" tells them apart by the path and the first lines):

- ``"tensors"`` TransPose / PIP / DIP-style arrays: ``acc`` (T, 6, 3) free acceleration (m/s^2)
  and ``ori`` (T, 6, 3, 3) sensor-to-world rotation matrices (or (T, 6, 9)), already calibrated into
  a Y-up world with gravity removed; sensor order ``SIX_SENSORS`` (left forearm, right forearm,
  left lower leg, right lower leg, head, pelvis). A folder with ``acc.pt`` and ``ori.pt`` (either
  file may be given; torch loads them and is only imported then), a ``.pt`` holding a dict with
  ``acc`` and ``ori``, or a ``.npz`` with arrays ``acc`` and ``ori`` (optional ``fps`` and
  ``sensors``). No time stamps: the rate is ``fps`` (default 60). ``world="core"``.
- ``"csv"`` the generic CSV (plain or gzipped)::

      # sparse_mocap IMU CSV 1
      # world: core
      # up: +Y
      # gravity: removed
      # fps: 60
      time,pelvis_qw,pelvis_qx,pelvis_qy,pelvis_qz,pelvis_ax,pelvis_ay,pelvis_az,head_qw,...
      0.0,1,0,0,0,0.01,-0.02,0.00,...

  ``#`` lines before the header are ``key: value`` metadata, all optional: ``world`` (default
  "core"), ``up`` (the world's up axis, ``+X`` ... ``-Z``; default ``+Y`` for the core frame),
  ``gravity`` (``removed``, the default, or ``included``), ``fps`` (the nominal rate; else from the
  time stamps). Columns: ``time`` in seconds (required, increasing) and per sensor
  ``<name>_qw, _qx, _qy, _qz`` (unit quaternion w, x, y, z, sensor to world) and ``<name>_ax,
  _ay, _az`` (acceleration in the world frame, m/s^2); optional ``frame`` (ignored) and
  ``gravity_included`` (0/1 per row). When gravity is included the acceleration columns are the
  accelerometer reading rotated into the world frame (at rest: +9.81 along up) and
  ``9.80665 * up`` is subtracted. Empty cells make that sensor's sample missing.
- ``"xsens"`` Xsens MT Manager exports ``MT_<...>_<serial>.txt[.gz]`` (MTw Awinda, MTi): ``//``
  header lines (``// Update Rate: 100.0Hz``), then tab-separated columns with ``PacketCounter``,
  ``Acc_X, Acc_Y, Acc_Z`` (m/s^2, sensor frame, gravity included: the accelerometer's specific
  force, +9.81 along up at rest; or ``FreeAcc_X/Y/Z`` already free in the global frame) and the
  orientation as ``Mat[i][j]`` (``Mat[R#][C#]``: row i, column j of R_GS, which takes sensor
  vectors to the Xsens global frame, x_G = R_GS x_S; its columns are the sensor axes in G; MT
  Manager writes them column by column: Mat[1][1], Mat[2][1], Mat[3][1], Mat[1][2], ...) or as
  ``Quat_q0..q3`` (q_GS, q0 the real part). Time = PacketCounter (16 bit, wraps at 65536) / update
  rate. Free acceleration a = R_GS a_S - g e_Z. The Xsens global frame is Z up; its heading
  reference is the local magnetic north: ENU (X east, Y north) in current MTi firmware, X north,
  Y west (NWU) in the MTw Awinda manual and older MTi/MTx; ``world="xsens ENU (Z up)"`` either way
  (only Z up matters before calibration). A folder of such files is one recording; sensor names come
  from an OpenSense mapping XML in the folder (``<ExperimentalSensor name="_00B421EE">
  <name_in_model>femur_l_imu</name_in_model>``), else they are the serials.
- ``"dot"`` Movella (Xsens) DOT CSV exports: metadata lines (``OutputRate:,60Hz``, ...) then
  ``PacketCounter,SampleTimeFine,Quat_W,Quat_X,Quat_Y,Quat_Z,FreeAcc_X,FreeAcc_Y,FreeAcc_Z``
  (or ``Acc_X/Y/Z``, sensor frame with gravity). The quaternion is the sensor's orientation in the
  local earth frame L, ENU (X magnetic east, Y north, Z up); free acceleration is in L with gravity
  removed. ``SampleTimeFine`` is in microseconds and wraps at 2^32 (unwrapped here). One file per
  sensor; a folder is one recording, sensor names from the file name prefix (``LFemur`` ->
  left_upper_leg, ``RTibia`` -> right_lower_leg, ``Pelvis`` -> pelvis). ``world="movella ENU (Z up)"``.
- ``"xio"`` x-io x-IMU3 IMU-Mocap folders: ``<segment> <serial> (<interface>)/Inertial.csv``
  (``Timestamp (us)``, gyroscope deg/s, ``Accelerometer X/Y/Z (g)`` in the sensor frame, gravity
  included) and ``Quaternion.csv`` (``Timestamp (us),W,X,Y,Z``: the AHRS orientation of the sensor
  relative to the earth, sensor to earth; x-io's Fusion AHRS uses North-West-Up by default, NED and
  ENU by setting). Free acceleration a = g (R a_g) - g up. The up axis is read from the data (the
  rotated accelerometer averages +1 g along +Z for NWU/ENU, -Z for NED). Segment folder names are
  mapped ("Left Lower Leg" -> left_lower_leg, "pelvis" -> pelvis, "Right Foot" -> right_foot).

Time: files with time stamps are put on a uniform grid at ``fps`` (default: the device's rate, from
the header or the median time step, rounded to a whole number within 1 %) by slerp and linear
interpolation. Several files are cut to the time span they all cover (``metadata["frames_cut"]``
counts each sensor's samples outside it). Gaps of up to two missing samples are bridged; frames
inside longer gaps are missing (``valid`` False, NaN). ``metadata["times"]`` holds each frame's
time in seconds on the source's clock; :func:`resample_imu` works from it.

Plausibility (``formats/plausible.py``): sample rates from 0.1 to 2000 Hz, time stamps spanning at
most 48 hours, no infinite cell, accelerations up to 100 g and rotation matrices without huge
entries; ``.pt`` files are read with ``torch.load(weights_only=True)`` only (a torch without that
option is refused: a full unpickle could run code from the file).

Errors: one sentence naming the file and line (or frame), raised as :class:`ImuError`.

Layout (one module per concern; everything above is importable from this package):

- ``common``: errors, the ``fps`` argument, text and number-table helpers, quaternion/rotation checks
- ``segments``: :func:`segment_name` (vendor labels -> body segments) and sensor ordering
- ``align``: per-sensor streams, time-stamp checks, interpolation onto a uniform grid, multi-file
  time alignment
- ``resample``: :func:`resample_imu`
- ``tensors``, ``generic_csv`` (with :func:`write_imu_csv`), ``xsens``, ``dot``, ``xio``: the readers
- ``sniff``: telling files apart by their first lines; ``dispatch``: :func:`read_imu`

Private helpers live in those modules (``from .generic_csv import _read_csv``), not here.
"""

from __future__ import annotations

from .align import MAX_BRIDGED_PERIODS  # noqa: F401  (public constant of the former single module)
from .dispatch import IMU_KINDS, read_imu
from .generic_csv import CSV_MAGIC, write_imu_csv
from .resample import resample_imu
from .segments import segment_name
from .tensors import DEFAULT_TENSOR_FPS  # noqa: F401  (public constant of the former single module)

__all__ = ["read_imu", "write_imu_csv", "resample_imu", "segment_name", "IMU_KINDS", "CSV_MAGIC"]
