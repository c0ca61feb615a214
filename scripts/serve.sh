#!/usr/bin/env bash
# Start Anzhi at http://127.0.0.1:8000 with demo data. Without DATABASE_URL it runs an embedded PostgreSQL
# (data under .anzhi/) and applies the migrations first. Extra arguments go to `anzhi serve`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=bootstrap.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/bootstrap.sh"
exec uv run anzhi serve --demo "$@"
