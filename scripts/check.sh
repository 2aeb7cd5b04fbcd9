#!/usr/bin/env bash
# Static checks, configured in pyproject.toml: lint (ruff check), format (ruff format --check) and types (mypy).
# scripts/test.sh runs this before pytest and stops at the first check that fails.
# Run it alone after setup: bash scripts/check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] && . .venv/bin/activate

run() {  # run NAME HINT COMMAND...: print the command's findings and a one-line hint if it fails
  local name=$1 hint=$2
  shift 2
  if ! "$@"; then
    echo "check failed: $name. $hint" >&2
    exit 1
  fi
}

for tool in ruff mypy; do
  command -v "$tool" >/dev/null 2>&1 || { echo "check failed: $tool is not installed; run: bash scripts/setup.sh" >&2; exit 1; }
done
run "lint (ruff check)" "Fix the findings above (many with: ruff check --fix .)." ruff check --quiet .
run "format (ruff format --check)" "Reformat with: ruff format ." ruff format --check --quiet .
run "types (mypy)" "Fix the errors above; see [tool.mypy] in pyproject.toml." mypy --no-error-summary
echo "checks passed: ruff check, ruff format --check, mypy" >&2
