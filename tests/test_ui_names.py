"""What users read in Blender's UI: every property of the add-on's operators and property groups
has a tooltip, every operator a description, and no two operators share a name in F3 search. The
registered classes are walked through bpy (the real module), so a new operator or property is
checked without touching this file."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")


def registered_operators():
    """(idname, operator RNA type) of every registered sparse_mocap operator."""
    ops = bpy.ops.sparse_mocap
    return [(f"sparse_mocap.{name}", getattr(ops, name).get_rna_type()) for name in dir(ops)]


def own_properties(rna):
    return [p for p in rna.properties if p.identifier != "rna_type"]


def test_the_walk_sees_every_operator_of_the_add_on(registered_addon):
    from sparse_mocap_addon.operators import CLASSES

    assert {cls.bl_idname for cls in CLASSES} == {idname for idname, _ in registered_operators()}


def test_every_operator_property_has_a_tooltip(registered_addon):
    missing = [f"{idname}.{p.identifier}" for idname, rna in registered_operators() for p in own_properties(rna)
               if not p.description.strip()]
    assert missing == []


def test_every_property_group_property_and_pointer_has_a_tooltip(registered_addon):
    """The add-on's properties on Blender's types (``Object.sparse_mocap_subject``, ...) and every
    property of the groups they and the operators point to (the group's own ``name`` is Blender's)."""
    added = [(owner.__name__, p) for owner in (bpy.types.Object, bpy.types.Scene)
             for p in owner.bl_rna.properties if p.identifier.startswith("sparse_mocap")]
    pointed = [p for _, rna in registered_operators() for p in own_properties(rna) if p.type == "POINTER"]
    groups = {p.fixed_type.identifier: p.fixed_type for _, p in added} | \
        {p.fixed_type.identifier: p.fixed_type for p in pointed}
    # Our own groups only: a pointer to Blender's Object (the character picker) is not ours to describe.
    groups = {name: group for name, group in groups.items() if name.startswith("SPARSE_MOCAP_PG_")}
    assert added and "SPARSE_MOCAP_PG_subject" in groups
    missing = [f"{owner}.{p.identifier}" for owner, p in added if not p.description.strip()]
    missing += [f"{name}.{p.identifier}" for name, group in groups.items() for p in own_properties(group)
                if p.identifier != "name" and not p.description.strip()]
    assert missing == []


def test_every_operator_says_what_it_does(registered_addon):
    assert [idname for idname, rna in registered_operators() if not rna.description.strip()] == []


def test_operator_names_are_unique_in_f3_search(registered_addon):
    labels = {}
    for idname, rna in registered_operators():
        labels.setdefault(rna.name, []).append(idname)
    assert {label: ids for label, ids in labels.items() if len(ids) > 1} == {}
    assert labels["Calibrate IMU Set"] == ["sparse_mocap.calibrate_imu"]
    assert labels["Calibrate Trackers"] == ["sparse_mocap.calibrate_trackers"]
    assert labels["Reconstruct from IMU"] == ["sparse_mocap.reconstruct_imu"]
    assert labels["Reconstruct from Trackers"] == ["sparse_mocap.reconstruct_trackers"]


def test_recording_imports_share_one_frame_rate_rule_and_say_it(registered_addon):
    """Import IMU Recording and Import Trackers keep the recording's rate unless Resample is on;
    Import Mocap keeps the take's frames unless told to resample to the scene's rate."""
    for name in ("import_imu", "import_trackers"):
        props = getattr(bpy.ops.sparse_mocap, name).get_rna_type().properties
        assert props["resample"].default is False, name
        assert "keep the recording's own frame rate" in props["resample"].description, name
        assert "resampled to" in props["fps"].description, name
    fps = bpy.ops.sparse_mocap.import_mocap.get_rna_type().properties["fps"]
    assert fps.default == "FILE"
    assert "Every frame of the file becomes a key" in fps.enum_items["FILE"].description
    assert "Resample the take to the scene's frame rate" in fps.enum_items["SCENE"].description
