#!/usr/bin/env bash
# Set everything up, then run the built-in demo (rotated handwritten digits, preset "D").
# With a display: the zBO workstation window opens with the demo campaign ready to run (press
# Start). Without one (ssh, CI): the same campaign runs headless with `zbo`, about 30 minutes on
# a 2-core CPU, into demo_campaign.h5; run this again to resume it. Extra arguments go to
# `zbo run` / `zbo-gui`, e.g. `scripts/demo.sh --quick` for a one-minute smoke preset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${ZBO_HEADLESS:-}" ]; then
  exec .venv/bin/zbo-gui --demo "$@"
fi
out=${ZBO_DEMO_OUT:-demo_campaign.h5}
if [ -f "$out" ]; then
  .venv/bin/zbo resume "$out"
else
  .venv/bin/zbo run --demo "$@" --out "$out"
fi
.venv/bin/zbo info "$out"
.venv/bin/zbo export "$out" --format csv -o "${out%.h5}_best.csv"
