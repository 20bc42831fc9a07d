#!/usr/bin/env bash
# Take the README pictures of the real window under Xvfb (Debian/Ubuntu; installs Xvfb and the
# xcb libraries Qt needs when they are missing and we are root).
#   scripts/screenshots.sh [CAMPAIGN.h5]   -> docs/images/*.png
# Without a campaign file, a quick demo campaign is run first (one minute). The README picture
# was taken from a finished default demo campaign (`zbo run --demo --out demo.h5`, ~30 min).
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
export ZBO_SETTINGS_DIR="$tmp"   # a fresh window layout, not the user's
campaign=${1:-}
if [ -z "$campaign" ]; then
  campaign="$tmp/quick.h5"
  .venv/bin/zbo run --demo --quick --out "$campaign" -q
fi
run() { xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/zbo-gui "$@"; }
run "$campaign" --screenshot docs/images/campaign.png
run --screenshot docs/images/start.png
echo "wrote docs/images/campaign.png docs/images/start.png"
