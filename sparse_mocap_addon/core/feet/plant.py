"""Causal foot planting for guessed legs (issue 6, three-point trackers): ankle targets that stay
put while a foot is in contact, stand on the floor and never go below it.

The tracker poser guesses the legs and a contact probability per foot; its ankles slide a little
and float or sink by a few centimetres. Per foot and frame (:class:`FootPlanter`, one frame at a
time, so the live stream and the offline pass give the same numbers):

- contact starts when the probability rises above ``on`` and ends when it falls below ``off``
  (hysteresis, no flicker);
- at contact start the ankle's horizontal position is pinned where it is (no jump); during the
  contact it stays there, and its height eases over ``ease_s`` onto the floor height (the ankle
  height that puts the lowest sole point, heel, ball or toe tip of ``feet.foot_floor_points``, at
  y = 0 for the foot's current orientation: the foot may still roll);
- at contact end the offset between the pinned and the guessed ankle fades out over ``ease_s``;
- in every frame the ankle is lifted by any depth its soles would reach below the floor.

The floor is y = 0 (the tracker calibration puts it there).
"""

from __future__ import annotations

import numpy as np

from .soles import foot_floor_points
from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, Skeleton

ANKLES = (JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"])


def sole_offsets(skeleton: Skeleton) -> np.ndarray:
    """(2 feet, 3 points, 3): heel, ball and toe tip in the ankle's frame (the toes have identity
    locals, so the whole sole rides the ankle)."""
    rest = skeleton.rest_positions()
    points = foot_floor_points(rest[None], np.broadcast_to(np.eye(3), (1, NUM_JOINTS, 3, 3)), skeleton)[0]
    return points - rest[list(ANKLES)][:, None]


class FootPlanter:
    """See the module docstring. ``step`` takes one frame, ``run`` many (the same numbers)."""

    def __init__(self, skeleton: Skeleton, fps: float, ease_s: float = 0.1, on: float = 0.6, off: float = 0.4,
                 pin: bool = True):
        self.soles = sole_offsets(skeleton)
        self.pin = bool(pin)
        self.ease = max(int(round(ease_s * fps)), 1)
        self.on, self.off = float(on), float(off)
        self.reset()

    def reset(self) -> None:
        self.planted = [False, False]
        self.pinned = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        self.since = [10**9, 10**9]             # frames since the last contact start / end
        self.release = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]     # pinned minus guessed ankle when the contact ended
        self.last = None

    def floor_height(self, ankle_rot: np.ndarray) -> np.ndarray:
        """(..., 2) ankle heights putting the lowest sole point of each foot on y = 0, for ankle
        rotations (..., 2, 3, 3)."""
        heights = np.einsum("...fj,fpj->...fp", ankle_rot[..., 1, :], self.soles)   # sole y offsets
        return -heights.min(axis=-1)

    def step(self, ankle_pos: np.ndarray, ankle_rot: np.ndarray, contact: np.ndarray) -> np.ndarray:
        """ankle_pos (2, 3), ankle_rot (2, 3, 3), contact probability (2,) -> ankle targets (2, 3)."""
        return self.run(np.asarray(ankle_pos)[None], np.asarray(ankle_rot)[None], np.asarray(contact)[None])[0]

    def run(self, ankle_pos: np.ndarray, ankle_rot: np.ndarray, contact: np.ndarray) -> np.ndarray:
        """(T, 2, 3), (T, 2, 3, 3), (T, 2) -> ankle targets (T, 2, 3); continues from the state."""
        ankle_pos = np.asarray(ankle_pos, dtype=np.float64)
        floors = self.floor_height(np.asarray(ankle_rot, dtype=np.float64)).tolist()    # all frames at once
        guessed = ankle_pos.tolist()
        probability = np.asarray(contact, dtype=np.float64).tolist()
        out = []
        # Recurrent (each frame depends on the last): plain floats, two feet a frame.
        planted, pinned, since, release, last = self.planted, self.pinned, self.since, self.release, self.last
        ease, on, off, pin = self.ease, self.on, self.off, self.pin
        for frame, floor, p in zip(guessed, floors, probability):
            now = []
            for f in range(2):
                ankle = frame[f]
                if not planted[f] and p[f] > on:
                    planted[f], since[f] = True, 0
                    pinned[f] = list(ankle if last is None else last[f])
                elif planted[f] and p[f] < off:
                    planted[f], since[f] = False, 0
                    release[f] = [a - b for a, b in zip(last[f], ankle)]
                since[f] += 1
                w = min(since[f] / ease, 1.0)
                x, y, z = ankle
                if planted[f]:
                    if pin:
                        x, z = pinned[f][0], pinned[f][2]
                    y = (1.0 - w) * pinned[f][1] + w * floor[f]
                elif w < 1.0:
                    k = 1.0 - w
                    y += k * release[f][1]
                    if pin:
                        x, z = x + k * release[f][0], z + k * release[f][2]
                now.append([x, max(y, floor[f]), z])
            out.append(now)
            last = now
        self.last = last
        return np.array(out, dtype=np.float64).reshape(ankle_pos.shape)
