"""What every benchmark needs to say where it ran, and the synthetic corpus it runs on."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path


def cpu_model_and_flags() -> tuple[str, list[str]]:
    """The CPU's model name and its flags (from /proc/cpuinfo where there is one)."""
    model, flags = platform.processor() or "unknown", []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("unknown", "x86_64", ""):
                model = line.partition(":")[2].strip()
            elif line.startswith("flags") and not flags:
                flags = line.partition(":")[2].split()
    except OSError:
        pass
    return model, flags


def make_corpus(tool: str, vendors: int, needs: int, folder: Path) -> Path:
    """A synthetic exchange file from the corpus tool (seed 1), written into ``folder``."""
    path = folder / f"corpus-{vendors}-{needs}.jsonl"
    with open(path, "wb") as handle:
        subprocess.run(  # noqa: S603 - runs the corpus tool the user named
            [sys.executable, tool, "--vendors", str(vendors), "--needs", str(needs), "--seed", "1"],
            stdout=handle,
            check=True,
        )
    return path
