"""benchmarks/fused_linear_relu.py runs end to end and prints one ratio per width and row count."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from nacre.nn import mlp

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fused_linear_relu.py"


@pytest.mark.skipif(not mlp._fused_linear_relu_available(), reason="this torch build has no oneDNN linear_pointwise")
def test_fused_linear_relu_benchmark_prints_every_size():
    out = subprocess.run([sys.executable, str(SCRIPT), "--force", "--rounds", "1", "--reps", "1"],
                         capture_output=True, text=True, check=True, timeout=300).stdout  # fmt: skip
    assert f"FUSED_MIN_ROWS = {mlp.FUSED_MIN_ROWS}; forced" in out
    rows = re.findall(r"^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x$", out, flags=re.M)
    assert len(rows) == 12, out
    assert {int(r[1]) for r in rows} == {64, 256, 1024, 2048, 4096, 8192}
    assert all(float(r[2]) > 0 and float(r[3]) > 0 and float(r[4]) > 0 for r in rows)
