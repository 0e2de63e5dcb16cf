"""Coordinate conventions of tracker files and their conversion to and from the core frame.

Core frame: right-handed, Y up, +Z forward, +X left, metres, quaternions (w, x, y, z).

Every convention is a fixed change of axes ``A`` (3 x 3, orthogonal, ``v_core = A @ v_src``) and a
length unit ``s`` (metres per file unit):

============  ===========================  ======  =========  =================================
convention    axes (right / up / forward)  hand    unit       quaternion as its tools print it
============  ===========================  ======  =========  =================================
``core``      -X / +Y / +Z                 right   m          w, x, y, z
``unity``     +X / +Y / +Z                 left    m          x, y, z, w  (``Quaternion``)
``unreal``    +Y / +Z / +X                 left    cm         x, y, z, w  (``FQuat``)
``openxr``    +X / +Y / -Z                 right   m          x, y, z, w  (``XrQuaternionf``)
``steamvr``   +X / +Y / -Z                 right   m          w, x, y, z  (``HmdQuaternion_t``)
``blender``   -X / +Z / -Y                 right   m          w, x, y, z  (``Quaternion``)
============  ===========================  ======  =========  =================================

so (rows of ``A``: core x, y, z in source coordinates)::

    unity    A = [[-1, 0, 0], [0, 1, 0], [0, 0, 1]]    det -1   (x_c, y_c, z_c) = (-x, y, z)
    unreal   A = [[0, -1, 0], [0, 0, 1], [1, 0, 0]]    det -1   (x_c, y_c, z_c) = (-y, z, x) / 100
    openxr   A = [[-1, 0, 0], [0, 1, 0], [0, 0, -1]]   det +1   (x_c, y_c, z_c) = (-x, y, -z)
    blender  A = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]    det +1   (x_c, y_c, z_c) = (x, z, -y)

Positions: ``p_core = s A p_src``. Orientations (device-to-world ``R_src``): the same change of axes
on both sides (the world's axes and the device's own local axes, so a Unity object's local forward
+Z and an OpenXR pose's local forward -Z both become local +Z in the core frame):
``R_core = A R_src A^T``, which is a rotation even when ``A`` is a reflection (``det A = -1``, the
two left-handed engines).

Quaternions: every engine here turns a unit quaternion into a matrix with the same formula
(Unity's ``Quaternion * Vector3``, Unreal's ``FQuat::RotateVector`` ``v + 2w (u x v) + 2 u x (u x
v)``, OpenXR, OpenVR, Blender): the handedness lives only in how the axes are drawn, not in the
algebra. ``R(q)`` with ``q = (w, u)`` is the turn by ``2 acos w`` about the axis ``u``. For a
rotation ``A`` (det +1), ``A R(q) A^T`` is the same angle about ``A u``. For a reflection,
``A = -A'`` with ``A'`` a rotation, so ``A R A^T = A' R A'^T``: the same angle about
``A' u = -A u`` (an axis is a pseudovector: it flips under a mirror). Together::

    q_core = (w, det(A) A u)            and back:   q_src = (w, det(A) A^T u_core)

e.g. unity ``(w, x, y, z) -> (w, x, -y, -z)``, unreal ``-> (w, y, -z, -x)``, openxr
``-> (w, -x, y, -z)``, blender ``-> (w, x, z, -y)``. ``w`` keeps its sign, so the conversion
round-trips exactly. Checks: Unity ``Quaternion.Euler(0, 90, 0) = (x 0, y 0.7071, z 0, w 0.7071)``
turns ``Vector3.forward`` into ``Vector3.right``; in the core frame it becomes a turn of -90 deg
about +Y, which takes +Z (forward) to -X (the right). Unity's OpenXR plug-in converts a Unity
quaternion to OpenXR by negating x and y (``XrQuaternionf(Quaternion)``), and a position by
negating z; the table above gives exactly that for unity -> core -> openxr.

Heading: the source's forward axis becomes core +Z; where the wearer actually faced is the
calibration's business (``core.trackers.calibration`` turns the recording about +Y).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..recording import TrackerError


@dataclass(frozen=True)
class Convention:
    name: str
    axes: np.ndarray            # A: v_core = A @ v_src
    units: str                  # default length unit of the files
    quaternion_order: str       # how its tools list a quaternion ("xyzw" or "wxyz")
    description: str

    @property
    def det(self) -> float:
        return float(round(np.linalg.det(self.axes)))


def _conv(name, rows, units, order, description):
    return Convention(name, np.array(rows, dtype=np.float64), units, order, description)


CONVENTIONS = {
    "core": _conv("core", [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "m", "wxyz",
                  "right-handed, Y up, +Z forward, +X left, metres"),
    "unity": _conv("unity", [[-1, 0, 0], [0, 1, 0], [0, 0, 1]], "m", "xyzw",
                   "left-handed, Y up, +Z forward, +X right, metres"),
    "unreal": _conv("unreal", [[0, -1, 0], [0, 0, 1], [1, 0, 0]], "cm", "xyzw",
                    "left-handed, Z up, +X forward, +Y right, centimetres"),
    "openxr": _conv("openxr", [[-1, 0, 0], [0, 1, 0], [0, 0, -1]], "m", "xyzw",
                    "right-handed, Y up, -Z forward, +X right, metres"),
    "steamvr": _conv("steamvr", [[-1, 0, 0], [0, 1, 0], [0, 0, -1]], "m", "wxyz",
                     "right-handed, Y up, -Z forward, +X right, metres (OpenVR)"),
    "blender": _conv("blender", [[1, 0, 0], [0, 0, 1], [0, -1, 0]], "m", "wxyz",
                     "right-handed, Z up, -Y forward, +X left, metres"),
}
_ALIASES = {"openvr": "steamvr", "ue": "unreal", "ue4": "unreal", "ue5": "unreal", "unrealengine": "unreal",
            "unity3d": "unity", "xr": "openxr"}
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
_UNIT_ALIASES = {"metre": "m", "metres": "m", "meter": "m", "meters": "m", "centimetre": "cm", "centimetres": "cm",
                 "centimeter": "cm", "centimeters": "cm", "millimetre": "mm", "millimetres": "mm",
                 "millimeter": "mm", "millimeters": "mm"}
QUATERNION_ORDERS = ("wxyz", "xyzw")


def convention(name) -> Convention:
    """The :class:`Convention` called ``name`` (case and separators ignored; "openvr" = "steamvr")."""
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    key = _ALIASES.get(key, key)
    if key not in CONVENTIONS:
        raise TrackerError(f"unknown tracker coordinate convention {name!r}; expected one of "
                           f"{', '.join(CONVENTIONS)}.")
    return CONVENTIONS[key]


def units_name(name) -> str:
    """"m", "cm" or "mm" for a unit name ("metres", "CM", ...)."""
    key = str(name).strip().lower()
    key = _UNIT_ALIASES.get(key, key)
    if key not in UNITS:
        raise TrackerError(f"unknown length unit {name!r}; expected m, cm or mm.")
    return key


def quaternion_order(name) -> str:
    key = str(name).strip().lower().replace(",", "").replace(" ", "")
    if key not in QUATERNION_ORDERS:
        raise TrackerError(f"unknown quaternion order {name!r}; expected wxyz or xyzw.")
    return key


def positions_to_core(p: np.ndarray, conv: Convention, units: str) -> np.ndarray:
    """(..., 3) positions in the file's axes and unit -> core metres."""
    return UNITS[units] * (np.asarray(p, dtype=np.float64) @ conv.axes.T)


def positions_from_core(p: np.ndarray, conv: Convention, units: str) -> np.ndarray:
    return (np.asarray(p, dtype=np.float64) @ conv.axes) / UNITS[units]


def quats_to_core(q: np.ndarray, conv: Convention) -> np.ndarray:
    """(..., 4) wxyz quaternions in the file's axes -> core: ``(w, det(A) A u)``."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., :1], conv.det * (q[..., 1:] @ conv.axes.T)], axis=-1)


def quats_from_core(q: np.ndarray, conv: Convention) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., :1], conv.det * (q[..., 1:] @ conv.axes)], axis=-1)


def reorder_to_wxyz(q: np.ndarray, order: str) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q if order == "wxyz" else q[..., [3, 0, 1, 2]]


def reorder_from_wxyz(q: np.ndarray, order: str) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q if order == "wxyz" else q[..., [1, 2, 3, 0]]
