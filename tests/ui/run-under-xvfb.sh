#!/bin/sh
# Runs a UI test program on an X server of its own: xvfb-run -a picks a
# free display number, so tests may run in parallel.
set -eu
command -v xvfb-run >/dev/null 2>&1 || {
  echo "xvfb-run not found: install the xvfb and xauth packages" >&2
  exit 1
}
exec xvfb-run -a -s '-screen 0 1600x1200x24 -nolisten tcp' "$@"
