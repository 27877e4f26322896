#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed, for the web UI's end-to-end tests (playwright-core drives
# it; playwright's own browser downloads are not reachable here). Prints the browser's path.
set -euo pipefail
browser=/usr/lib/chromium/chromium # the binary itself: the /usr/bin wrapper's shell checks add nothing
if [ ! -x "$browser" ]; then
  echo "chromium.sh: installing chromium (apt)" >&2
  apt-get update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >&2
fi
echo "$browser"
