#!/usr/bin/env bash
# Run the whole test suite. Without TEST_DATABASE_URL pytest starts a throwaway embedded PostgreSQL.
# Extra arguments go to pytest (paths relative to the repository root).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=bootstrap.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bootstrap.sh"
exec uv run pytest "$@"
