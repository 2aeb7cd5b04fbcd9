#!/usr/bin/env bash
# Set up (if needed), run the static checks (lint, format, types; fail fast), then the whole test suite,
# slow tests included. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
bash scripts/check.sh
python -m pytest -q -p no:cacheprovider "$@"
