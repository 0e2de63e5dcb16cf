"""Where the soles are: points of each foot that touch the floor, for floor contact and grounding."""

from __future__ import annotations

import numpy as np

from ..kinematics.skeleton import JOINT_INDEX, Skeleton


def foot_floor_points(positions: np.ndarray, global_rot: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Heel, ball and toe-tip points of both feet, (T, 2 sides, 3 points, 3), from FK output.

    Each point is fixed in its segment (heel to the ankle, ball and toe tip to the SMPL foot joint)
    and lies on the floor in the rest pose, so in a pose ``min(y)`` of these points is the foot's
    height above the floor.
    """
    rest = skeleton.rest_positions()
    sides = []
    for side in ("left", "right"):
        ankle, foot = JOINT_INDEX[f"{side}_ankle"], JOINT_INDEX[f"{side}_foot"]
        floor = rest[ankle, 1] - skeleton.sole_height
        tip = skeleton.leaf_tip(foot)
        toe_reach = skeleton.offsets[foot, 2] + tip[2]
        heel_back = toe_reach / 3.0 if toe_reach > 0 else 0.0
        heel = np.array((0.0, -skeleton.sole_height, -heel_back))
        ball = np.array((0.0, floor - rest[foot, 1], 0.0))
        toe = tip + np.array((0.0, floor - (rest[foot, 1] + tip[1]), 0.0))
        points = np.stack((
            positions[:, ankle] + global_rot[:, ankle] @ heel,
            positions[:, foot] + global_rot[:, foot] @ ball,
            positions[:, foot] + global_rot[:, foot] @ toe,
        ), axis=1)
        sides.append(points)
    return np.stack(sides, axis=1)
