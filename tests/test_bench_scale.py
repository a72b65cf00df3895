"""The scaling bench's pure helpers: tiers are prefixes of one file order, and percentiles are nearest-rank."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_bench() -> ModuleType:
    """Import bench/scale.py (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "scale.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_each_tier_is_the_shortest_prefix_reaching_its_target_and_holds_the_smaller_ones() -> None:
    scale = load_bench()
    files = [Path(f"f{i}") for i in range(5)]
    tiers = scale.select_tiers(files, [19, 100, 200, 50, 400], [100, 300, 5000])
    assert tiers[100] == files[:2]  # 119 chunks
    assert tiers[300] == files[:3]  # 319 chunks
    assert tiers[5000] == files  # the corpus is too small: everything
    assert tiers[300][: len(tiers[100])] == tiers[100]


def test_percentile_is_nearest_rank() -> None:
    scale = load_bench()
    values = [float(v) for v in range(1, 21)]
    assert scale.percentile(values, 0.5) == 10.0
    assert scale.percentile(values, 0.95) == 19.0
    assert scale.percentile([7.0], 0.95) == 7.0
