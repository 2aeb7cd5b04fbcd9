#!/usr/bin/env bash
# Set up (if needed), run the static checks (lint, format, types; fail fast), then the whole test suite,
# slow tests included, on two pytest-xdist workers (tests of one module or class stay on one worker,
# so module fixtures such as a running server are built once). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
bash scripts/check.sh
python -m pytest -q -p no:cacheprovider -n 2 --dist loadscope "$@"
