"""Mocap readers: BVH, ASF/AMC, CMU exp-map, and the dispatcher."""
