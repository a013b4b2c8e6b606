#!/usr/bin/env bash
# Create .venv and install harness-optimizer with the embedded CPU model.
#   scripts/install.sh         the tool itself
#   scripts/install.sh --dev   plus the test and lint tools
# Set PYTHON to pick the interpreter (Python >= 3.11; default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

extras="embedded"
if [ "${1:-}" = "--dev" ]; then extras="embedded,dev"; fi
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip

echo "installing harness-optimizer[$extras] (a first install compiles llama-cpp-python, 5 to" \
     "13 min on 2 cores; pip caches the wheel, later installs take seconds)"
.venv/bin/python -m pip install -q -e ".[$extras]"

# bfcl-eval's own requirements pin an old numpy and pull torch and every provider SDK; its
# checkers need none of them (mpmath, which they do use, is a normal dependency of ours).
.venv/bin/python -m pip install -q --no-deps "bfcl-eval==2026.3.23"

# apt_install COMMAND PACKAGE WHY: install PACKAGE where we can (root with apt-get), else say
# loudly what is missing and what that costs.
apt_install() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq "$2" >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$2" >/dev/null 2>&1; } \
      || echo "WARNING: could not install $2; $3"
  else
    echo "WARNING: $1 not found; $3. Install it: sudo apt-get install $2 (Debian/Ubuntu)"
  fi
}

# The sandbox prefers bubblewrap.
apt_install bwrap bubblewrap "candidate code will run without namespace isolation"
# The report's browser test (tests/harness/report) renders in headless Chromium; it skips,
# saying so, where there is none. Installed with the test tools only.
if [ "$extras" = "embedded,dev" ]; then
  apt_install chromium chromium "the report's browser test will be skipped"
fi
echo "ready: .venv/bin/harness --help"
