"""Runs `vehiclewatch` in a fresh interpreter where the ``tools`` extra is missing: importing scikit-learn,
matplotlib, tqdm or onnx (or any of their submodules) fails as it does on an install without the extra."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BLOCKED = ("sklearn", "matplotlib", "tqdm", "onnx")

_PRELUDE = f"""
import sys

class NoToolsExtra:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NoToolsExtra())
sys.argv[0] = "vehiclewatch"
from streamer.cli.main import main
main()
"""


def run_without_tools(args: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``vehiclewatch ARGS`` without the tools extra; its exit status and output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VEHICLEWATCH_MODELS", None)
    return subprocess.run(
        [sys.executable, "-c", _PRELUDE, *args], capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=120
    )
