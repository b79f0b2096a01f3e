"""Instruction counts under valgrind's callgrind, for measurements that must not move with load.

A child process (`python -m <module> ...`) runs under callgrind and wraps each measured step in
`counted(name)`: counters zeroed before, dumped after, the name printed. `run_counted` starts that
child and returns each step's instruction total, in order.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["counted", "run_counted"]

_TOTALS = re.compile(r"^(?:summary|totals): (\d+)", re.MULTILINE)
_MARK = "counted "


def _control(flag: str) -> None:
    """Zero (-z) or dump (-d) this process's callgrind counters."""
    subprocess.run(["callgrind_control", flag, str(os.getpid())], check=True, stdout=subprocess.DEVNULL)


@contextmanager
def counted(name: str) -> Iterator[None]:
    """In the child: count the block's instructions as one dump named `name`."""
    gc.collect()  # every step starts from the same collector state
    _control("-z")
    yield
    _control("-d")
    print(f"{_MARK}{name}", flush=True)


def run_counted(module_args: Sequence[str]) -> list[tuple[str, int]]:
    """Run `python -m MODULE ARGS` under callgrind: (name, instructions) of each `counted` block."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise RuntimeError("valgrind (callgrind) is not installed")
    from benchmarks.servers import child_env

    with tempfile.TemporaryDirectory(prefix="toxhooks-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m"]
        env = child_env({"PYTHONHASHSEED": "0", "TOXHOOKS_LOG_LEVEL": "WARNING"})
        done = subprocess.run([*argv, *module_args], capture_output=True, text=True, env=env, check=False)
        names = [line.removeprefix(_MARK) for line in done.stdout.splitlines() if line.startswith(_MARK)]
        if done.returncode != 0 or not names:
            raise RuntimeError(f"callgrind run failed ({done.returncode}): {done.stderr[-2000:]}")
        totals = []
        for i, name in enumerate(names, start=1):  # callgrind writes dump i to <out>.i
            match = _TOTALS.search(Path(f"{out}.{i}").read_text(errors="replace"))
            totals.append((name, int(match.group(1)) if match else 0))
        return totals
