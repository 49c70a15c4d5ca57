"""Import time of glassbox, numpy and torch, each measured in fresh interpreters (median of several runs)."""

import argparse
import os
import statistics
import subprocess
import sys

from machine import describe

# Timed inside the child so interpreter start-up is excluded; the child also reports whether torch got loaded.
_CHILD = (
    "import sys, time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t, 'torch' in sys.modules)"
)


# An installed package has its bytecode cached; with PYTHONDONTWRITEBYTECODE set (as on some CI images) an editable
# glassbox would be recompiled on every import while torch's cache already exists, so let the children write it.
_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def import_seconds(module):
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(module=module)], capture_output=True, text=True, check=True, env=_ENV
    ).stdout.split()
    return float(out[0]), out[1] == "True"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    print("\n".join(describe()))
    medians = {}
    for module in ("numpy", "glassbox", "torch"):
        import_seconds(module)  # untimed: fills the bytecode cache and the OS file cache
        runs = [import_seconds(module) for _ in range(args.repeats)]
        medians[module] = statistics.median(seconds for seconds, _ in runs) * 1e3
        print(f"import {module:9s} median {medians[module]:8.1f} ms over {args.repeats} fresh interpreters")
        if module != "torch" and any(loaded for _, loaded in runs):
            raise SystemExit(f"importing {module} loaded torch: glassbox must never import torch")
    print(f"ratio glassbox/torch: {medians['glassbox'] / medians['torch']:.2f}")


if __name__ == "__main__":
    main()
