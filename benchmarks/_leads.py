"""Generated leads for the benchmarks: the example generator at a larger count."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_leads_csv(path: Path, count: int, seed: int = 7) -> Path:
    """Write `count` generated leads (same shape as examples/leads.csv) to `path`."""
    spec = importlib.util.spec_from_file_location("make_leads", ROOT / "examples" / "make_leads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path.write_bytes(module.render(module.build_rows(seed=seed, count=count)))
    return path
