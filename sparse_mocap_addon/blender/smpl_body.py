"""The user's SMPL, SMPL+H or SMPL-X body on a new armature, and its motion as AMASS-style npz (issue 20).

No model file ships with the product: the user points to their own in the scene's setting
(``scene.sparse_mocap_body_model``: the file, its gender, how many shape coefficients). When it is
set, :func:`.armature.create_armature` (the one function every new armature comes from: Create
Personalised Armature, Import Mocap, every reconstruction, the CLI) asks :func:`scene_body` for the
body: the betas that best reproduce the wanted skeleton (the shape inverse,
:mod:`..core.body.shape_inverse`), the skeleton those betas give (:func:`skeleton_from_betas`, so
bones and mesh agree) and :func:`add_smpl_mesh` the model's mesh skinned to the bones:

- vertex groups from the model's skinning weights; the joints SMPL+H and SMPL-X have beyond SMPL's
  24 (fingers, jaw, eyes) give their weight to their nearest SMPL-24 ancestor (wrist, hand, head):
  our motions keep those joints at rest, so this deforms exactly as the model's skinning does;
- one shape key per beta (the template plus that shape direction, the floor kept at z = 0), set to
  the fitted values; the bones are those of the fitted values (editing the keys reshapes the mesh
  only);
- no pose correctives (the model's ``posedirs``): Blender's Armature modifier skins linearly, as
  :func:`pose_vertices` does without them.

The armature keeps the body (model kind, gender, betas, the fit's figures) in the custom property
``sparse_mocap_body_model``; :func:`export_amass` writes its action with those betas and
:func:`import_amass` bakes an AMASS-style file onto a new armature of its betas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..core.body.amass import body_model_metadata, load_amass, save_amass
from ..core.body.shape_inverse import ShapeFit, ShapeInverse
from ..core.body.smpl_model import BodyModel, BodyModelError, load_body_model, skeleton_from_betas
from ..core.kinematics.skeleton import JOINT_NAMES, NUM_JOINTS, Skeleton
from .build import skinned_mesh
from .coords import core_to_blender_vectors

BODY_PROPERTY = "sparse_mocap_body_model"     # the custom property of an armature with the user's body
DEFAULT_BETAS = 10
_SLIDER = 10.0                                # Blender's widest shape key slider range is -10 to 10
_MODELS: dict = {}                            # (path, mtime, size, gender) -> BodyModel


@dataclass(frozen=True)
class SmplBody:
    """A body of the user's model: its betas, the skeleton they give, and the fit they came from
    (None when the betas were given, e.g. by an AMASS file)."""

    model: BodyModel
    betas: np.ndarray            # the coefficients used (their count is the number of shape keys)
    skeleton: Skeleton
    fit: ShapeFit | None = None


def load_model(path, gender: str | None = None) -> BodyModel:
    """:func:`load_body_model`, kept while the file is unchanged (a real model takes a while to read)."""
    path = Path(bpy.path.abspath(str(path))) if str(path).startswith("//") else Path(path)
    try:
        stat = path.stat()
    except OSError:
        return load_body_model(path, gender)           # refused in one sentence ("no such file")
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, gender)
    if key not in _MODELS:
        _MODELS.clear()                                 # one model in memory at a time
        _MODELS[key] = load_body_model(path, gender)
    return _MODELS[key]


def scene_model(scene) -> tuple[BodyModel, int] | None:
    """The scene's model and number of betas, or None when no model file is set. Raises
    :class:`BodyModelError` (one sentence) for a file that is not a model."""
    settings = getattr(scene, "sparse_mocap_body_model", None)
    if settings is None or not settings.filepath.strip():
        return None
    gender = None if settings.gender == "AUTO" else settings.gender.lower()
    model = load_model(settings.filepath.strip(), gender)
    return model, min(int(settings.num_betas), model.num_betas)


def fit_body(model: BodyModel, skeleton: Skeleton, num_betas: int = DEFAULT_BETAS) -> SmplBody:
    """The body of ``model`` whose skeleton is closest to ``skeleton`` (the shape inverse)."""
    fit = ShapeInverse(model, min(num_betas, model.num_betas)).fit(skeleton)
    return SmplBody(model, fit.betas, skeleton_from_betas(model, fit.betas), fit)


def body_from_betas(model: BodyModel, betas) -> SmplBody:
    """The body of known ``betas`` (trailing zeros dropped, at least 10 kept where the model has them)."""
    betas = model.betas_vector(betas)
    used = max(int(np.flatnonzero(betas)[-1]) + 1 if np.any(betas) else 0, min(DEFAULT_BETAS, model.num_betas))
    return SmplBody(model, betas[:used], skeleton_from_betas(model, betas))


def scene_body(scene, skeleton: Skeleton) -> SmplBody | None:
    """With a model file set in ``scene``: its body fitted to ``skeleton``; else None."""
    found = scene_model(scene)
    if found is None:
        return None
    model, num_betas = found
    return fit_body(model, skeleton, num_betas)


# -- the mesh -----------------------------------------------------------------------------------------

def smpl24_owner(model: BodyModel) -> np.ndarray:
    """(J,) the SMPL-24 bone each model joint's skinning weight goes to: the joint itself for SMPL's
    24, else its nearest ancestor among them (fingers -> wrist or hand, jaw and eyes -> head)."""
    ours = {int(j): k for k, j in enumerate(model.smpl24())}
    owner = np.empty(model.num_joints, dtype=np.int64)
    for j in range(model.num_joints):
        a = j
        while a not in ours:
            a = int(model.parents[a])
        owner[j] = ours[a]
    return owner


def bone_weights(model: BodyModel) -> np.ndarray:
    """(V, 24) the model's skinning weights on the SMPL-24 bones (:func:`smpl24_owner`)."""
    onto = np.zeros((model.num_joints, NUM_JOINTS))
    onto[np.arange(model.num_joints), smpl24_owner(model)] = 1.0
    return model.weights @ onto


def _on_floor(model: BodyModel, vertices: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The template and the shape directions (core frame) with the lowest template vertex's height
    taken off: any mix of them stands on y = 0, as :func:`skeleton_from_betas` puts the soles."""
    bottom = model.height_vertices()[1]
    lift = np.zeros(3)
    lift[1] = 1.0
    return vertices - vertices[bottom, 1] * lift, directions - directions[bottom, 1][None, None, :] * lift[None, :, None]


def add_smpl_mesh(armature_obj, body: SmplBody, collection=None):
    """The model's mesh as a child of ``armature_obj``: skinned to its SMPL bones (Armature modifier,
    vertex groups from the model's weights), one shape key per beta set to the body's values."""
    model = body.model
    count = len(body.betas)
    template, directions = _on_floor(model, model.v_template, model.shapedirs[:, :, :count])
    obj = skinned_mesh(armature_obj, template, model.faces, bone_weights(model), JOINT_NAMES, collection)
    _add_shape_keys(obj, template, directions, body.betas)
    return obj


def _add_shape_keys(obj, template: np.ndarray, directions: np.ndarray, betas: np.ndarray) -> None:
    """'Basis' (the template) and 'Shape NN' = template + s * direction NN at value beta / s, with
    s > 1 only for a beta beyond the slider's range."""
    obj.shape_key_add(name="Basis", from_mix=False)
    for b, beta in enumerate(betas):
        stretch = max(1.0, abs(float(beta)) / _SLIDER)
        key = obj.shape_key_add(name=f"Shape {b:02d}", from_mix=False)
        key.data.foreach_set("co", core_to_blender_vectors(template + stretch * directions[:, :, b]).ravel())
        key.slider_min, key.slider_max = -_SLIDER, _SLIDER
        key.value = float(beta) / stretch
    obj.data.update()


# -- what the armature keeps ---------------------------------------------------------------------------

def store_body(obj, body: SmplBody) -> None:
    """Keep the body on the armature object (custom property, JSON): kind, gender, betas, the model
    file, and the fit's figures when there was one."""
    stored = dict(body_model_metadata(body.model, body.betas), num_betas=len(body.betas), source=body.model.source)
    if body.fit is not None:
        stored["fit"] = fit_figures(body.fit)
    obj[BODY_PROPERTY] = json.dumps(stored)


def stored_body(obj) -> dict | None:
    """What :func:`store_body` kept on ``obj``, or None."""
    text = obj.get(BODY_PROPERTY) if obj is not None else None
    return json.loads(text) if isinstance(text, str) else None


def fit_figures(fit: ShapeFit) -> dict:
    lengths = fit.lengths_error_cm
    return {"mean_joint_error_mm": fit.mean_joint_error_mm, "height_error_cm": lengths["stature"],
            "arm_error_cm": max(lengths["left_arm"], lengths["right_arm"], key=abs),
            "leg_error_cm": max(lengths["left_leg"], lengths["right_leg"], key=abs)}


def fit_text(obj) -> str:
    """The body on ``obj`` in a few words (for reports), or "" when it has none."""
    stored = stored_body(obj)
    if stored is None:
        return ""
    text = f"{stored['kind'].upper()} {stored['gender']} body, {stored['num_betas']} betas"
    fit = stored.get("fit")
    if fit:
        text += (f"; fit: joints {fit['mean_joint_error_mm']:.1f} mm, height {fit['height_error_cm']:+.1f} cm, "
                 f"arm {fit['arm_error_cm']:+.1f} cm, leg {fit['leg_error_cm']:+.1f} cm")
    return text


# -- AMASS out and in ----------------------------------------------------------------------------------

def _model_for(obj, scene) -> BodyModel:
    """The scene's model file, else the one the armature was made with; refused in one sentence when
    there is none or it is not the armature's kind."""
    stored = stored_body(obj)
    if stored is None:
        raise BodyModelError(f"armature '{obj.name}' has no SMPL body (no betas): create it with an SMPL model "
                             "file set (Subject panel)")
    found = scene_model(scene)
    if found is None and not Path(stored.get("source", "")).is_file():
        raise BodyModelError("no SMPL model file is set: choose one in the Subject panel (SMPL Model File)")
    model = found[0] if found is not None else load_model(stored["source"], stored["gender"])
    if model.kind != stored["kind"]:
        raise BodyModelError(f"armature '{obj.name}' has an {stored['kind'].upper()} body, the model file "
                             f"{model.source} is {model.kind.upper()}")
    return model


def export_amass(obj, path, scene=None, up: str = "z") -> Path:
    """The active action of ``obj`` (an armature with an SMPL body) as an AMASS-style ``.npz`` with
    its betas, written atomically. Raises :class:`BodyModelError` or ``ActionReadError`` in one
    sentence."""
    from .action_motion import read_action_motion   # lazy: action_motion imports armature.py, which imports this

    scene = scene or bpy.context.scene
    model = _model_for(obj, scene)
    motion = read_action_motion(obj, scene).motion
    return save_amass(motion, path, model, betas=stored_body(obj)["betas"], up=up)


def import_amass(path, scene=None, name: str | None = None, context=None, up: str = "z"):
    """An AMASS-style ``.npz`` baked onto a new armature with the body of its betas (the scene's
    model file); returns (armature, action). Nothing is left behind when it fails."""
    from .armature import create_armature
    from .bake import bake_motion
    from .mocap_import import removed_on_failure

    context = context or bpy.context
    scene = scene or context.scene
    found = scene_model(scene)
    if found is None:
        raise BodyModelError("importing AMASS needs the SMPL model file: choose one in the Subject panel "
                             "(SMPL Model File)")
    model = found[0]
    motion = load_amass(path, model, up=up)
    body = body_from_betas(model, motion.metadata["body_model"]["betas"])
    take = name or Path(path).stem
    with removed_on_failure():
        obj = create_armature(body.skeleton, name=take, collection=context.collection, context=context, body=body)
        action = bake_motion(obj, motion, action_name=take, scene=scene)
    return obj, action
