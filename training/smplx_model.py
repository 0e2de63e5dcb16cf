"""The user's model file through the ``smplx`` package (optional: torch), for work outside Blender.

It lives beside the training code, not in the add-on: the product never needs it (Blender has no
torch) and the extension does not ship it. ``sparse_mocap_addon.core.body.smpl_model.load_body_model``
reads the same files with numpy alone (what Blender uses) and its skinning matches ``smplx``'s
forward pass. :func:`load_smplx_model` is for users and tests that want ``smplx``'s own body module
(research code, parity checks). ``smplx`` and torch are imported when it is called, never when this
module is imported.

The file is first read and checked by the numpy reader, so it is refused in the same one sentence
when it is no model, and a ``.pkl`` reaches ``smplx``'s own (unrestricted) unpickler only after the
restricted one has read it whole without meeting anything but arrays.
"""

from __future__ import annotations

from pathlib import Path

from sparse_mocap_addon.core.body.smpl_model import BodyModel, BodyModelError, load_body_model

NOT_INSTALLED = "the smplx package is not installed; the numpy reader is used inside Blender"
_SMPL_VERTICES = 6890      # smplx's default vertex ids (feet, finger tips) index SMPL's own mesh


def load_smplx_model(path, gender: str | None = None, num_betas: int = 10, dtype: str = "float64", **options):
    """``path`` (SMPL, SMPL+H or SMPL-X; ``.pkl`` or ``.npz``) as an ``smplx`` body module
    (``smplx.SMPL``, ``SMPLH`` or ``SMPLX`` by the file's joint count) with ``num_betas`` betas in
    torch ``dtype``; ``options`` go to its constructor. Raises :class:`BodyModelError` in one
    sentence when smplx or torch is absent, or the file is no model (or one smplx cannot read: its
    SMPL+H and SMPL-X classes also want the hand PCA and face landmark arrays real files hold)."""
    try:
        import smplx
        import torch
    except ImportError:
        raise BodyModelError(NOT_INSTALLED) from None
    path = Path(path)
    model = load_body_model(path, gender)
    body_class = {"smpl": smplx.SMPL, "smplh": smplx.SMPLH, "smplx": smplx.SMPLX}[model.kind]
    kwargs = dict(model_path=str(path), gender=model.gender, num_betas=min(num_betas, model.num_betas),
                  dtype=getattr(torch, dtype), **options)
    if model.kind != "smpl":
        kwargs.setdefault("ext", path.suffix.lstrip(".").lower())
    if model.kind != "smplx":                    # SMPLX passes its own to SMPLH's constructor
        kwargs.setdefault("vertex_ids", _vertex_ids(model))
    try:
        return body_class(**kwargs)
    except Exception as exc:   # noqa: BLE001  (smplx's own reading: any failure, one sentence)
        raise BodyModelError(f"{path}: smplx could not read it as {model.kind.upper()} "
                             f"({type(exc).__name__}: {exc})") from None


def _vertex_ids(model: BodyModel) -> dict | None:
    """smplx's default extra-joint vertex ids (None: keep them) for a mesh of SMPL's size; for a
    smaller one (the tests' model files), stand-in ids inside the mesh."""
    if len(model.v_template) >= _SMPL_VERTICES:
        return None
    from smplx.vertex_ids import vertex_ids

    return {name: i for i, name in enumerate(vertex_ids["smplh"])}
