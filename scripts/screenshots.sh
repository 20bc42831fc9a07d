#!/usr/bin/env bash
# Take the pictures of the real window under Xvfb (Debian/Ubuntu; installs Xvfb and the xcb
# libraries Qt needs when they are missing and we are root), at 1600x1000 and at 1366x768.
#   scripts/screenshots.sh [CAMPAIGN.h5]   -> docs/images/window-1600x1000.png, -1366x768.png
# Without a campaign file, a quick demo campaign is run first (one minute). The pictures in the
# README and the user guide were taken from a finished default demo campaign
# (`zbo run --demo --out demo.h5`, ~30 min on 2 cores), its best evaluation selected.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if ! command -v xvfb-run >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
      libxcb-render-util0 libxkbcommon-x11-0 libxcb-shape0 >/dev/null
  else
    echo "screenshots.sh: needs xvfb-run (apt-get install xvfb libxcb-icccm4 libxcb-keysyms1)" >&2
    exit 1
  fi
fi
mkdir -p docs/images
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
campaign=${1:-}
if [ -z "$campaign" ]; then
  campaign="$tmp/quick.h5"
  .venv/bin/zbo run --demo --quick --out "$campaign" -q
fi
for size in 1600x1000 1366x768; do
  # a fresh window layout per screen, not the user's
  ZBO_SETTINGS_DIR=$(mktemp -d -p "$tmp") xvfb-run -a -s "-screen 0 ${size}x24" \
    .venv/bin/zbo-gui "$campaign" --screenshot "docs/images/window-$size.png"
  echo "wrote docs/images/window-$size.png"
done
