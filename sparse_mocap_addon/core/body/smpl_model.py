"""A user's SMPL, SMPL+H or SMPL-X model file, read with numpy alone (Blender has no torch).

None of these files ships with the product or is ever downloaded: the user points to their own.
:func:`load_body_model` reads ``.npz`` (``allow_pickle=False``) and ``.pkl`` (through a restricted
unpickler that rebuilds numpy arrays, SciPy sparse matrices and chumpy arrays from their data and
runs nothing else), checks it (arrays and their shapes, the joint count and the first 22 joints'
tree against SMPL's) and refuses anything else in one sentence.

:class:`BodyModel` gives the SMPL family's maths, vectorised:

- ``rest_joints(betas)``: the joint regressor on the shaped template (linear in the betas);
- :func:`skeleton_from_betas`: betas -> the project's :class:`Skeleton` (SMPL-24 offsets, soles on
  the floor, leaf tips from the mesh), so a user's known betas give our armature;
- :func:`pose_vertices`: our SMPL-24 rotations and pelvis path -> the posed mesh (linear blend
  skinning with the model's weights, pose correctives when the file has them), in our world (floor
  at y = 0), the numbers ``smplx``'s forward pass gives.

SMPL+H and SMPL-X have more joints: their first 22 are SMPL's body (our rotations drive them), their
hand (and jaw, eye) joints stay at rest; SMPL's ``left_hand``/``right_hand`` joints are their
middle fingers' first joints. The model frame is SMPL's: Y up, facing +Z (our core frame).
"""

from __future__ import annotations

import codecs
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..kinematics.rotations import quat_to_matrix
from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, Skeleton

BODY_JOINTS = 22          # the joints every SMPL family model shares, in SMPL's order and tree
KINDS = {24: "smpl", 52: "smplh", 55: "smplx"}
# SMPL's hand joints (left_hand, right_hand) in the bigger models: the middle fingers' first joints.
HAND_JOINTS = {"smpl": (22, 23), "smplh": (25, 40), "smplx": (28, 43)}
GENDERS = ("neutral", "female", "male")
_REQUIRED = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")


class BodyModelError(ValueError):
    """A file that is not an SMPL family model (one sentence naming the file)."""


@dataclass(frozen=True)
class BodyModel:
    kind: str                  # "smpl", "smplh" or "smplx"
    gender: str                # "neutral", "female" or "male"
    v_template: np.ndarray     # (V, 3) the mean shape, metres, SMPL's frame (Y up, facing +Z)
    shapedirs: np.ndarray      # (V, 3, B) shape blend shapes
    posedirs: np.ndarray | None  # (V, 3, 9 (J - 1)) pose correctives, None when the file has none
    j_regressor: np.ndarray    # (J, V) joints from vertices
    weights: np.ndarray        # (V, J) skinning weights
    parents: np.ndarray        # (J,) parent joint, -1 for the root
    faces: np.ndarray          # (F, 3) triangles
    source: str = ""

    @property
    def num_betas(self) -> int:
        return self.shapedirs.shape[2]

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    def betas_vector(self, betas) -> np.ndarray:
        """``betas`` padded with zeros (or refused when longer than the model has)."""
        betas = np.zeros(0) if betas is None else np.asarray(betas, dtype=np.float64).ravel()
        if len(betas) > self.num_betas:
            raise BodyModelError(f"{self.source}: {len(betas)} shape coefficients given, the model has "
                                 f"{self.num_betas}")
        return np.concatenate([betas, np.zeros(self.num_betas - len(betas))])

    def shaped(self, betas) -> np.ndarray:
        """(V, 3) the template shaped by ``betas``."""
        return self.v_template + self.shapedirs @ self.betas_vector(betas)

    def rest_joints(self, betas=None) -> np.ndarray:
        """(J, 3) the rest joints of the shape ``betas`` (SMPL's frame)."""
        return self.j_regressor @ self.shaped(betas)

    def height_vertices(self) -> tuple[int, int]:
        """The top of the head and the lowest vertex, chosen on the mean shape: the stature of any
        shape is their height difference, linear in the betas (what the shape inverse relies on)."""
        head = np.flatnonzero(np.argmax(self.weights, axis=1) == JOINT_INDEX["head"])
        top = head[np.argmax(self.v_template[head, 1])] if len(head) else np.argmax(self.v_template[:, 1])
        return int(top), int(np.argmin(self.v_template[:, 1]))

    def smpl24(self) -> np.ndarray:
        """The model's joint index of each of SMPL's 24 joints."""
        return np.array([*range(BODY_JOINTS), *HAND_JOINTS[self.kind]])


# -- reading ------------------------------------------------------------------------------------------

class _Rebuilt:
    """A pickled object of a class the restricted unpickler stands in for (SciPy sparse, chumpy):
    its state is kept and turned into a numpy array by :func:`_as_array`."""

    layout = ""

    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"state": state}


class _Csc(_Rebuilt):
    layout = "csc"


class _Csr(_Rebuilt):
    layout = "csr"


# numpy's own reconstructors, whatever module path the file names them by (numpy 1 or 2).
_NUMPY = {"_reconstruct": np.ndarray.__reduce__(np.zeros(1))[0], "scalar": np.float64(0.0).__reduce__()[0],
          "ndarray": np.ndarray, "dtype": np.dtype}


class _ModelUnpickler(pickle.Unpickler):
    """numpy arrays as themselves; SciPy sparse matrices and chumpy arrays as their data; nothing
    else may be loaded (a model file runs no code)."""

    def find_class(self, module, name):
        if module.split(".")[0] == "numpy" and name in _NUMPY:
            return _NUMPY[name]
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            return _reconstructor
        if module == "_codecs" and name == "encode":            # how protocol 2 stores bytes
            return codecs.encode
        if module.startswith("scipy.sparse"):
            return _Csc if name.startswith("csc") else _Csr if name.startswith("csr") else _Rebuilt
        if module.startswith("chumpy"):
            return _Rebuilt
        if module in ("__builtin__", "builtins") and name == "object":
            return object
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a model file")


def _reconstructor(cls, base, state):
    return object() if cls is object else cls.__new__(cls)


def _as_array(value, key: str, where: str) -> np.ndarray:
    if isinstance(value, _Rebuilt):
        state = value.state
        if value.layout and {"data", "indices", "indptr"} <= set(state):      # SciPy CSC / CSR
            shape = tuple(int(n) for n in state.get("_shape", state.get("shape")))
            data, indices, indptr = (np.asarray(state[k]) for k in ("data", "indices", "indptr"))
            major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            rows, cols = (indices, major) if value.layout == "csc" else (major, indices)
            dense = np.zeros(shape)
            np.add.at(dense, (rows, cols), data)
            return dense
        if "x" in state:                                                    # chumpy Ch
            return np.asarray(_as_array(state["x"], key, where), dtype=np.float64)
        raise BodyModelError(f"{where}: '{key}' holds an object numpy cannot read")
    try:
        return np.asarray(value)
    except Exception as exc:   # noqa: BLE001  (any odd object: one sentence)
        raise BodyModelError(f"{where}: '{key}' is not an array ({exc})") from None


def _read_arrays(path: Path) -> dict:
    where = str(path)
    if not path.is_file():
        raise BodyModelError(f"{where}: no such file")
    raw = path.read_bytes()
    if path.suffix.lower() == ".npz" or raw[:2] == b"PK":
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise BodyModelError(f"{where}: not a readable .npz model file ({exc})") from None
    try:
        loaded = _ModelUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except Exception as exc:   # noqa: BLE001  (a damaged or foreign pickle: one sentence)
        raise BodyModelError(f"{where}: not an SMPL model file ({exc})") from None
    if not isinstance(loaded, dict):
        raise BodyModelError(f"{where}: not an SMPL model file (it holds a {type(loaded).__name__}, "
                             "expected a dictionary of arrays)")
    return {key: _as_array(value, key, where) for key, value in loaded.items() if key in _REQUIRED + ("posedirs",)}


def _gender_from(path: Path, gender: str | None) -> str:
    if gender is not None:
        if gender not in GENDERS:
            raise BodyModelError(f"gender must be one of {', '.join(GENDERS)}, got {gender!r}")
        return gender
    stem = path.stem.lower()
    for word, found in (("female", "female"), ("_f_", "female"), ("male", "male"), ("_m_", "male")):
        if word in stem:
            return found
    return "neutral"


def load_body_model(path, gender: str | None = None) -> BodyModel:
    """The model in ``path`` (SMPL, SMPL+H or SMPL-X, ``.npz`` or ``.pkl``); ``gender`` from the file
    name when None. Raises :class:`BodyModelError` in one sentence for anything else."""
    path = Path(path)
    where = str(path)
    arrays = _read_arrays(path)
    missing = [key for key in _REQUIRED if key not in arrays]
    if missing:
        raise BodyModelError(f"{where}: not an SMPL model file (it lacks {', '.join(missing)})")
    v_template = np.asarray(arrays["v_template"], dtype=np.float64)
    if v_template.ndim != 2 or v_template.shape[1] != 3 or len(v_template) < 4:
        raise BodyModelError(f"{where}: v_template must be (vertices, 3), got {v_template.shape}")
    V = len(v_template)
    shapedirs = np.asarray(arrays["shapedirs"], dtype=np.float64)
    regressor = np.asarray(arrays["J_regressor"], dtype=np.float64)
    weights = np.asarray(arrays["weights"], dtype=np.float64)
    tree = np.asarray(arrays["kintree_table"]).astype(np.int64)
    J = regressor.shape[0] if regressor.ndim == 2 else -1
    expected = {"shapedirs": (shapedirs.shape, (V, 3, None)), "J_regressor": (regressor.shape, (J, V)),
                "weights": (weights.shape, (V, J)), "kintree_table": (tree.shape, (2, J))}
    for key, (shape, want) in expected.items():
        if len(shape) != len(want) or any(w is not None and s != w for s, w in zip(shape, want)):
            text = "x".join("B" if w is None else str(w) for w in want)
            raise BodyModelError(f"{where}: {key} must be {text} for {V} vertices and {J} joints, got "
                                 f"{'x'.join(map(str, shape))}")
    if J not in KINDS:
        raise BodyModelError(f"{where}: {J} joints; an SMPL model has 24, SMPL+H 52 and SMPL-X 55")
    parents = tree[0].copy()
    parents[0] = -1                                  # files store the root's parent as 2**32 - 1
    if not np.array_equal(parents[:BODY_JOINTS], PARENTS[:BODY_JOINTS]) or (J == 24 and not np.array_equal(
            parents, PARENTS)):
        raise BodyModelError(f"{where}: its kinematic tree is not SMPL's (parents {parents[:BODY_JOINTS].tolist()}...)")
    if not np.all(np.isfinite(v_template)) or not np.all(np.isfinite(shapedirs)):
        raise BodyModelError(f"{where}: the template or the shape blend shapes hold NaN or infinite values")
    posedirs = arrays.get("posedirs")
    if posedirs is not None:
        posedirs = np.asarray(posedirs, dtype=np.float64)
        if posedirs.shape != (V, 3, 9 * (J - 1)):
            raise BodyModelError(f"{where}: posedirs must be {V}x3x{9 * (J - 1)}, got "
                                 f"{'x'.join(map(str, posedirs.shape))}")
    faces = np.asarray(arrays["f"]).astype(np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min(initial=0) < 0 or faces.max(initial=0) >= V:
        raise BodyModelError(f"{where}: f must be (faces, 3) vertex indices below {V}")
    return BodyModel(KINDS[J], _gender_from(path, gender), v_template, shapedirs, posedirs, regressor,
                     weights, parents, faces, where)


# -- betas -> our skeleton ---------------------------------------------------------------------------

def _dominant(model: BodyModel, joint: int) -> np.ndarray:
    """Vertices that follow ``joint`` most of all."""
    return np.flatnonzero(np.argmax(model.weights, axis=1) == joint)


def skeleton_from_betas(model: BodyModel, betas=None) -> Skeleton:
    """The project's :class:`Skeleton` of the body ``betas`` describe: SMPL-24 offsets from the
    model's regressed joints, the soles on y = 0 and leaf tips to the top of the head (the two
    vertices of :meth:`BodyModel.height_vertices`), the middle finger tips and the toe tips."""
    vertices = model.shaped(betas)
    joints = (model.j_regressor @ vertices)[model.smpl24()]
    top, bottom = model.height_vertices()
    floor = float(vertices[bottom, 1])
    offsets = np.empty((NUM_JOINTS, 3))
    offsets[0] = joints[0] - (0.0, floor, 0.0)
    offsets[1:] = joints[1:] - joints[PARENTS[1:]]
    tips = {}
    leaves = {"head": (JOINT_INDEX["head"], 1), "left_foot": (JOINT_INDEX["left_foot"], 2),
              "right_foot": (JOINT_INDEX["right_foot"], 2)}
    for name, (j, axis) in leaves.items():
        owned = _dominant(model, int(model.smpl24()[j]))
        if name == "head":
            tips[j] = vertices[top] - joints[j]
        elif len(owned):
            far = vertices[owned[np.argmax(vertices[owned, axis])]]
            tips[j] = (far - joints[j]) * (1.0, 0.0, 1.0) + (0.0, floor - joints[j][1], 0.0)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        j = JOINT_INDEX[f"{side}_hand"]
        owned = np.flatnonzero(model.weights[:, model.smpl24()[j]] > 0.0)
        if len(owned):
            tips[j] = vertices[owned[np.argmax(sign * vertices[owned, 0])]] - joints[j]
    ankle_height = min(joints[JOINT_INDEX["left_ankle"], 1], joints[JOINT_INDEX["right_ankle"], 1])
    return Skeleton(offsets, tips, sole_height=float(ankle_height - floor))


# -- posing the mesh ----------------------------------------------------------------------------------

def _model_rotations(model: BodyModel, rotations: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3): our SMPL-24 rotations on the model's joints (its extra joints at rest)."""
    rotations = np.asarray(rotations, dtype=np.float64)
    matrices = quat_to_matrix(rotations) if rotations.shape[-1] == 4 else rotations
    out = np.broadcast_to(np.eye(3), (len(matrices), model.num_joints, 3, 3)).copy()
    out[:, model.smpl24()] = matrices
    return out


def pose_vertices(model: BodyModel, betas, rotations: np.ndarray, translation: np.ndarray,
                  floor_at_zero: bool = True) -> np.ndarray:
    """(T, V, 3) the mesh posed by our SMPL-24 local ``rotations`` ((T, 24, 4) quaternions or
    (T, 24, 3, 3)) with the pelvis at ``translation`` (T, 3): our world, where the rest pose stands
    on y = 0 when ``floor_at_zero`` (the Skeleton of :func:`skeleton_from_betas`); else SMPL's own
    frame with ``translation`` as smplx's ``transl`` added to the posed model."""
    shaped = model.shaped(betas)
    joints = model.j_regressor @ shaped                                      # (J, 3)
    R = _model_rotations(model, rotations)                                   # (T, J, 3, 3)
    T = len(R)
    translation = np.asarray(translation, dtype=np.float64).reshape(T, 3)
    posed = np.broadcast_to(shaped, (T, *shaped.shape))
    if model.posedirs is not None:
        feature = (R[:, 1:] - np.eye(3)).reshape(T, -1)                       # (T, 9 (J - 1))
        V = len(shaped)
        posed = posed + (model.posedirs.reshape(V * 3, -1) @ feature.T).T.reshape(T, V, 3)
    # Global transforms of the joints (rotation G_j, origin o_j), then the skinning transforms
    # A_j(x) = G_j (x - rest joint_j) + o_j, blended per vertex by the weights.
    J = model.num_joints
    G = np.empty_like(R)
    origin = np.empty((T, J, 3))
    G[:, 0], origin[:, 0] = R[:, 0], joints[0]
    for j in range(1, J):
        p = model.parents[j]
        G[:, j] = G[:, p] @ R[:, j]
        origin[:, j] = origin[:, p] + G[:, p] @ (joints[j] - joints[p])
    offset = origin - np.einsum("tjab,jb->tja", G, joints)                   # (T, J, 3)
    blend = np.matmul(model.weights, G.reshape(T, J, 9)).reshape(T, -1, 3, 3)   # (T, V, 3, 3)
    # sum_b blend[..., a, b] posed[..., b], as three multiply-adds over whole arrays (an einsum of
    # this shape is several times slower)
    vertices = model.weights @ offset
    for b in range(3):
        vertices += blend[..., b] * posed[..., b:b + 1]
    if floor_at_zero:
        return vertices + (translation - joints[0])[:, None]
    return vertices + translation[:, None]
