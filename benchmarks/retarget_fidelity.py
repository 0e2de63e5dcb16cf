"""Retarget fidelity on every shared mocap source: bone directions and foot contact.

For each take: read it, retarget onto the performer's SMPL-24 skeleton (as the corpus builder does;
``--body default`` uses a 1.75 m table body instead, like a user's armature of other proportions),
and compare with the source at the source's own frames:

- the angle between the source and the retargeted world direction of every mapped SMPL bone, split
  into "chain" bones (aligned by the retargeter: limbs, spine, neck, head, feet, hands) and "branch"
  bones (pelvis -> hips/spine1, spine3 -> collars), whose direction also depends on where each rig
  puts its pelvis and collar joints; median and 95th percentile over all frames and bones;
- the Pearson correlation between the source's and the retargeted lowest foot joint height.

Targets (issue 3): over all mapped bones, median <= 1 deg and p95 <= 3 deg on every source; foot
r >= 0.95 (checked here on every take).
Prints a table and, last, one JSON line. Skips (exit 0 with a message) when the data is absent.

    .venv/bin/python benchmarks/retarget_fidelity.py [--data ../shared/data] [--sources ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.body import default_measurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.retarget import retarget, retarget_fidelity  # noqa: E402
from sparse_mocap_addon.core.rig_body import skeleton_from_rig  # noqa: E402
from training.build_corpus import SOURCES, discover, read_take  # noqa: E402


def measure(take, body: str):
    source = read_take(take)
    if body == "rig":
        skeleton, _ = skeleton_from_rig(source)
    else:
        skeleton = skeleton_from_measurements(default_measurements("neutral", 1.75))
    motion = retarget(source, skeleton)
    fidelity = retarget_fidelity(source, motion)
    kinds = np.array([kind for _, _, kind in fidelity["bones"]])
    angles = fidelity["angles_deg"]
    return angles[:, kinds == "chain"].ravel(), angles[:, kinds == "branch"].ravel(), fidelity["foot_height_r"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Retarget fidelity per shared mocap source")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    parser.add_argument("--body", choices=("rig", "default"), default="rig",
                        help="target skeleton: the performer's proportions measured from the rig (as the "
                             "corpus does), or a default 1.75 m body (a user's armature of other proportions)")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: the shared data folder {args.data} is absent")
        return 0
    chain, branch, foot_r, takes = defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(int)
    every = defaultdict(list)
    for take in discover(args.data, args.sources):
        c, b, r = measure(take, args.body)
        every[take.source].append(np.concatenate((c, b)))
        chain[take.source].append(c)
        branch[take.source].append(b)
        foot_r[take.source].append(r)
        takes[take.source] += 1

    results = {}
    print(f"{'source':<14}{'takes':>6}{'all med':>9}{'all p95':>9}{'chain med':>11}{'chain p95':>11}"
          f"{'branch med':>12}{'branch p95':>12}{'foot r min':>12}{'foot r med':>12}")
    for source in args.sources:
        if not takes[source]:
            continue
        c, b, r = np.concatenate(chain[source]), np.concatenate(branch[source]), np.array(foot_r[source])
        a = np.concatenate(every[source])
        row = {
            "takes": takes[source],
            "all_median_deg": float(np.median(a)), "all_p95_deg": float(np.percentile(a, 95)),
            "chain_median_deg": float(np.median(c)), "chain_p95_deg": float(np.percentile(c, 95)),
            "branch_median_deg": float(np.median(b)), "branch_p95_deg": float(np.percentile(b, 95)),
            "foot_r_min": float(r.min()), "foot_r_median": float(np.median(r)),
        }
        results[source] = row
        print(f"{source:<14}{row['takes']:>6}{row['all_median_deg']:>9.4f}{row['all_p95_deg']:>9.4f}"
              f"{row['chain_median_deg']:>11.4f}{row['chain_p95_deg']:>11.4f}"
              f"{row['branch_median_deg']:>12.2f}{row['branch_p95_deg']:>12.2f}{row['foot_r_min']:>12.3f}"
              f"{row['foot_r_median']:>12.3f}")
    ok = all(r["all_median_deg"] <= 1 and r["all_p95_deg"] <= 3 and r["foot_r_min"] >= 0.95
             for r in results.values())
    print(json.dumps({"body": args.body, "sources": results, "targets_met": ok}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
