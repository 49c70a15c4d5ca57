#!/usr/bin/env bash
# Install everything the test suite needs: glassbox with its extras, the test-only oracles (PyTorch's CPU build,
# onnxruntime), Playwright's Python driver, and Debian's headless Chromium for the dashboard's browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

pip install -e '.[dev,viz,rl,mpi,onnx]' torch==2.13.0

if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    else
        echo "tests/install.sh: no chromium and no apt-get here; the dashboard's browser tests will be skipped" \
             "(under CI they fail instead)" >&2
    fi
fi
