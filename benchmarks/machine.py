"""Describe the machine a benchmark ran on (CPU, cores, BLAS and its threads, relevant env vars)."""

import os
import platform
import sys

import numpy as np

# Variables that change BLAS kernel choice or thread counts, and so the numbers; printed so results can be read.
_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _numpy_blas():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # show_config(mode=) is NumPy >= 1.26; the version is a nicety, not a requirement
        return "unknown"


def _threadpools():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["(install threadpoolctl to list BLAS/OpenMP thread pools)"]
    return [
        f"{p.get('internal_api')} {p.get('version')} threads={p.get('num_threads')} "
        f"arch={p.get('architecture')} ({os.path.basename(p.get('filepath', ''))})"
        for p in threadpool_info()
    ]


def describe(torch=None):
    """Lines describing this machine; pass the torch module to include its version and thread count."""
    lines = [
        f"cpu: {_cpu_model()} ({platform.machine()}), nproc={os.cpu_count()}",
        f"python {platform.python_version()}, numpy {np.__version__} with {_numpy_blas()}",
    ]
    if torch is not None:
        lines.append(f"torch {torch.__version__}, torch.get_num_threads()={torch.get_num_threads()}")
    lines.append("env: " + ", ".join(f"{name}={os.environ.get(name, '(unset)')}" for name in _ENV_VARS))
    lines += ["threadpool: " + line for line in _threadpools()]
    return lines


if __name__ == "__main__":
    print("\n".join(describe(sys.modules.get("torch"))))
