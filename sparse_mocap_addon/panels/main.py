"""Subject panel (measurements + Create Personalised Armature) and Bake / Export panel."""

import textwrap

import bpy

from ..blender import video_import
from ..blender.imu_objects import active_imu_parent
from ..blender.landmark_objects import active_landmark_parent
from ..blender.tracker_objects import active_tracker_parent
from ..operators.common import active_smpl_armature, subject_source

TAB = "Sparse Mocap"


class _SidebarPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = TAB


class SPARSE_MOCAP_PT_subject(_SidebarPanel, bpy.types.Panel):
    bl_idname = "SPARSE_MOCAP_PT_subject"
    bl_label = "Subject"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        obj = active_smpl_armature(context)
        layout.label(text=f"Measurements of {obj.name}" if obj else "Measurements for a new armature",
                     icon="ARMATURE_DATA" if obj else "ADD")
        subject = subject_source(context)
        col = layout.column(align=True)
        col.prop(subject, "height")
        col.prop(subject, "sex")
        col = layout.column(align=True)
        col.prop(subject, "arm_length")
        col.prop(subject, "leg_length")
        col = layout.column(align=True)
        col.prop(subject, "shoulder_width")
        col.prop(subject, "hip_width")
        layout.label(text="0 m: taken from the proportion table", icon="INFO")
        body_model = context.scene.sparse_mocap_body_model   # the user's SMPL model file (issue 20)
        col = layout.column(align=True)
        col.prop(body_model, "filepath")
        if body_model.filepath.strip():
            col.prop(body_model, "gender")
            col.prop(body_model, "num_betas")
            col.label(text=body_model.status or "Not checked yet", icon="CHECKMARK" if body_model.readable else "ERROR")
        layout.operator("sparse_mocap.create_armature", icon="OUTLINER_OB_ARMATURE")


class SPARSE_MOCAP_PT_bake_export(_SidebarPanel, bpy.types.Panel):
    bl_idname = "SPARSE_MOCAP_PT_bake_export"
    bl_label = "Bake / Export"

    def draw(self, context):
        layout = self.layout
        obj = active_smpl_armature(context)
        if obj is None:
            layout.label(text="Select an SMPL armature (export: or a character)", icon="INFO")
        shown = obj or (context.active_object if context.active_object and context.active_object.type == "ARMATURE"
                        else None)
        action = shown.animation_data.action if shown and shown.animation_data else None
        if action is not None:
            layout.label(text=f"Action: {action.name}", icon="ACTION")
        layout.operator("sparse_mocap.import_mocap", text="Import Mocap (BVH/AMC/FBX)", icon="IMPORT")
        col = layout.column(align=True)
        col.operator("sparse_mocap.bake_motion_file", icon="IMPORT")
        col.operator("sparse_mocap.bake_demo", icon="PLAY")
        layout.operator("sparse_mocap.fill_gaps", icon="IPO_EASE_IN_OUT")
        col = layout.column(align=True)
        col.operator("sparse_mocap.export_fbx", text="Export FBX (Unity)", icon="EXPORT").preset = "UNITY"
        col.operator("sparse_mocap.export_fbx", text="Export FBX (Unreal)", icon="EXPORT").preset = "UNREAL"
        col.operator("sparse_mocap.export_bvh", icon="EXPORT")
        col.operator("sparse_mocap.export_amass", icon="EXPORT")


class SPARSE_MOCAP_PT_landmarks(_SidebarPanel, bpy.types.Panel):
    bl_idname = "SPARSE_MOCAP_PT_landmarks"
    bl_label = "Landmarks"

    def draw(self, context):
        layout = self.layout
        layout.operator("sparse_mocap.import_landmarks", icon="IMPORT")
        _draw_video_imports(layout)
        parent = active_landmark_parent(context)
        if parent is not None:
            frames = parent.get("frame_count")
            text = f"{parent.name} ({frames} frames)" if frames is not None else parent.name
            layout.label(text=text, icon="EMPTY_AXIS")
        else:
            layout.label(text="Select a landmark set to solve", icon="INFO")
        layout.operator("sparse_mocap.solve_landmarks", icon="CON_KINEMATIC")


def _draw_video_imports(layout):
    """Import Video and Import Camera Set, or what to install for them (MediaPipe, OpenCV)."""
    missing = video_import.video_support_missing()
    if missing is None:
        col = layout.column(align=True)
        col.operator("sparse_mocap.import_video", icon="FILE_MOVIE")
        col.operator("sparse_mocap.import_camera_set", icon="OUTLINER_OB_CAMERA")
        return
    box = layout.box().column(align=True)
    for k, line in enumerate(textwrap.wrap(missing, 42, break_on_hyphens=False)):
        box.label(text=line, icon="ERROR" if k == 0 else "BLANK1")


class SPARSE_MOCAP_PT_imu(_SidebarPanel, bpy.types.Panel):
    bl_idname = "SPARSE_MOCAP_PT_imu"
    bl_label = "IMU"

    def draw(self, context):
        layout = self.layout
        layout.operator("sparse_mocap.import_imu", icon="IMPORT")
        parent = active_imu_parent(context)
        if parent is not None:
            frames, fps = parent.get("frame_count"), parent.get("fps")
            layout.label(text=f"{parent.name} ({frames} frames, {fps:g} fps)", icon="EMPTY_AXIS")
            calibrated = bool(parent.get("calibration"))
            state = ("Calibrated" if calibrated else
                     "Core frame, uncalibrated" if parent.get("world") == "core" else "Not calibrated")
            layout.label(text=state, icon="CHECKMARK" if calibrated else "INFO")
        else:
            layout.label(text="Select an IMU set to calibrate", icon="INFO")
        col = layout.column(align=True)
        col.operator("sparse_mocap.calibrate_imu", text="Calibrate", icon="ORIENTATION_GIMBAL")
        col.operator("sparse_mocap.reconstruct_imu", text="Reconstruct", icon="ARMATURE_DATA")


class SPARSE_MOCAP_PT_trackers(_SidebarPanel, bpy.types.Panel):
    bl_idname = "SPARSE_MOCAP_PT_trackers"
    bl_label = "Trackers"

    def draw(self, context):
        layout = self.layout
        layout.operator("sparse_mocap.import_trackers", icon="IMPORT")
        parent = active_tracker_parent(context)
        if parent is not None:
            frames, fps = parent.get("frame_count"), parent.get("fps")
            layout.label(text=f"{parent.name} ({frames} frames, {fps:g} fps)", icon="EMPTY_AXIS")
            calibrated = bool(parent.get("calibration"))
            layout.label(text="Calibrated" if calibrated else "Not calibrated: devices on their joints",
                         icon="CHECKMARK" if calibrated else "INFO")
        else:
            layout.label(text="Select a tracker set or animated empties", icon="INFO")
        col = layout.column(align=True)
        col.operator("sparse_mocap.calibrate_trackers", text="Calibrate", icon="ORIENTATION_GIMBAL")
        col.operator("sparse_mocap.reconstruct_trackers", text="Reconstruct", icon="ARMATURE_DATA")


def menu_file_import(self, context):
    """File > Import entries (appended to TOPBAR_MT_file_import by the add-on's register())."""
    self.layout.operator("sparse_mocap.import_mocap", text="Mocap to SMPL Armature (.bvh/.amc/.fbx)")
    self.layout.operator("sparse_mocap.import_landmarks", text="Landmarks (Sparse Mocap)")
    self.layout.operator("sparse_mocap.import_video", text="Video (Sparse Mocap)")
    self.layout.operator("sparse_mocap.import_camera_set", text="Camera Set Videos (Sparse Mocap)")
    self.layout.operator("sparse_mocap.import_imu", text="IMU Recording (Sparse Mocap)")
    self.layout.operator("sparse_mocap.import_trackers", text="VR Trackers (Sparse Mocap)")
    self.layout.operator("sparse_mocap.import_amass", text="AMASS Motion onto SMPL Body (.npz)")


def menu_file_export(self, context):
    """File > Export entries (appended to TOPBAR_MT_file_export by the add-on's register())."""
    self.layout.operator("sparse_mocap.export_amass", text="AMASS Motion of SMPL Body (.npz)")


CLASSES = (SPARSE_MOCAP_PT_subject, SPARSE_MOCAP_PT_bake_export, SPARSE_MOCAP_PT_landmarks, SPARSE_MOCAP_PT_imu,
           SPARSE_MOCAP_PT_trackers)
