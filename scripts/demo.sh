#!/usr/bin/env bash
# Set everything up, then run the built-in demo campaign (rotated handwritten digits, preset "D";
# about 30 minutes on a 2-core CPU, less on a GPU). Run it again to resume an interrupted campaign.
# Extra arguments go to `zbo run`, e.g. `scripts/demo.sh --quick` for a 1-minute smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
out=${ZBO_DEMO_OUT:-demo_campaign.h5}
if [ -f "$out" ]; then
  .venv/bin/zbo resume "$out"
else
  .venv/bin/zbo run --demo "$@" --out "$out"
fi
.venv/bin/zbo info "$out"
.venv/bin/zbo export "$out" --format csv -o "${out%.h5}_best.csv"
