"""Push a freshly baked action into the NLA: a track of its own, the object's active action given back.

A bake assigns its new action as the object's active one (the previous action kept with a fake
user, see :func:`.bake.bake_channels`). With *Push to NLA* the new action goes into a new track
instead, as one strip named after it, and the action (and slot) that was active before comes back.
"""

from __future__ import annotations

import math


def active_action(obj) -> tuple:
    """(action, slot) active on ``obj`` now; (None, None) without one. The slot is None before 4.4."""
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return None, None
    return anim.action, getattr(anim, "action_slot", None)


def push_to_nla(obj, action, restore: tuple):
    """Put ``action`` (active on ``obj``) into a new NLA track of one strip, both named after it,
    starting at its first key; then make ``restore`` ((action, slot) from :func:`active_action`)
    the active action again. Returns the track."""
    anim = obj.animation_data
    slot = getattr(anim, "action_slot", None)
    track = anim.nla_tracks.new()
    track.name = action.name
    strip = track.strips.new(action.name, int(math.floor(action.frame_range[0])), action)
    if slot is not None and getattr(strip, "action_slot", slot) != slot:
        strip.action_slot = slot
    previous, previous_slot = restore
    anim.action = previous
    if previous is not None and previous_slot is not None:
        anim.action_slot = previous_slot
    return track
