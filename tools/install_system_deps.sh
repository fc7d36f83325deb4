#!/usr/bin/env bash
# Installs the Debian packages the project needs, if they are missing:
#   libzbar0        - the zbar library pyzbar loads to read token QR codes (always)
#   libdmtx0b       - the libdmtx library pylibdmtx loads to read DataMatrix pictures (always)
#   chromium        - the headless browser the page tests drive (with --browser)
#   fonts-dejavu-core - a font with Cyrillic for the pages' screenshots (with --browser)
# `make setup` (and so `make demo`) calls it plain; `make test` (and so CI) with --browser.
set -euo pipefail
browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    *) echo "usage: $0 [--browser]" >&2; exit 2 ;;
  esac
done
need=()
python3 - <<'PY' || need+=(libzbar0)
import ctypes.util, sys
sys.exit(0 if ctypes.util.find_library("zbar") else 1)
PY
python3 -c 'import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library("dmtx") else 1)' || need+=(libdmtx0b)
if [ "$browser" -eq 1 ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
fi
if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
