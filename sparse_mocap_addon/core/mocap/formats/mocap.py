"""One entry point for the numpy mocap readers: pick the reader from the file name.

``.bvh`` -> BVH; ``.amc`` -> Acclaim AMC (needs the ASF: given, or found beside the AMC or in a
``skeletons`` folder next to it, named after the AMC's prefix); ``.txt`` -> the CMU exp-map
benchmark layout. A trailing ``.gz`` is allowed everywhere. FBX comes in through Blender
(``blender/fbx_source.py``).
"""

from __future__ import annotations

from pathlib import Path

from ..source import SourceFormatError, SourceMotion

MOCAP_EXTENSIONS = (".bvh", ".amc", ".txt")
DEFAULT_MOCAP_FPS = 120.0


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def find_asf(amc_path) -> Path | None:
    """The ASF for an AMC: same stem, any .asf in the folder, or ``../skeletons/<prefix>.asf``."""
    amc_path = Path(amc_path)
    folder = amc_path.parent
    stem = amc_path.name.split(".")[0]
    prefix = "_".join(stem.split("_")[:2])           # HDM05: HDM_<actor>
    subject = stem.split("_")[0]                      # CMU: <subject>_<take>
    candidates = []
    for base in (folder, folder / "skeletons", folder.parent / "skeletons"):
        for name in (stem, prefix, subject):
            candidates += [base / f"{name}.asf", base / f"{name}.asf.gz", base / f"{name}.ASF"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    asfs = sorted(folder.glob("*.asf")) + sorted(folder.glob("*.asf.gz"))
    return asfs[0] if len(asfs) == 1 else None


def _rate_noted(motion: SourceMotion, fps) -> SourceMotion:
    """AMC and exp-map files store no frame rate: say in the metadata when it was assumed."""
    motion.metadata["fps_assumed"] = fps is None
    if fps is None:
        motion.metadata["note"] = (f"the file stores no frame rate: {DEFAULT_MOCAP_FPS:g} fps assumed (the rate of "
                                   "the CMU and HDM05 takes)")
    return motion


def read_mocap(path, asf_path=None, fps: float | None = None) -> SourceMotion:
    """Read a BVH, ASF/AMC or CMU exp-map file; ``fps`` for the formats that do not store it (120)."""
    path = Path(path)
    if not path.is_file():
        raise SourceFormatError(f"{path}: no such file")
    kind = _kind(path)
    if kind == ".bvh":
        from .bvh import read_bvh
        return read_bvh(path)
    if kind == ".amc":
        from .acclaim import read_asf_amc
        asf_path = Path(asf_path) if asf_path else find_asf(path)
        if asf_path is None:
            raise SourceFormatError(f"{path}: no ASF skeleton found beside this AMC file; choose the .asf file")
        return _rate_noted(read_asf_amc(asf_path, path, fps=fps or DEFAULT_MOCAP_FPS), fps)
    if kind == ".txt":
        from .cmu_expmap import read_cmu_expmap
        return _rate_noted(read_cmu_expmap(path, fps=fps or DEFAULT_MOCAP_FPS), fps)
    raise SourceFormatError(f"{path}: unknown mocap file type '{kind}'; expected .bvh, .amc (with .asf) "
                            "or a CMU exp-map .txt, optionally gzipped")
