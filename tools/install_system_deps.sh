#!/usr/bin/env bash
# Installs the Debian packages the project needs, if they are missing:
#   libzbar0  - the zbar library pyzbar loads to read token QR codes
# Called by `make setup` (and so by `make demo` / `make test` / CI).
set -euo pipefail
need=()
python3 - <<'PY' || need+=(libzbar0)
import ctypes.util, sys
sys.exit(0 if ctypes.util.find_library("zbar") else 1)
PY
if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
