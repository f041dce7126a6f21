#!/usr/bin/env bash
# Debian packages the test suite needs: MariaDB client headers (mysqlclient),
# Chromium for the browser tests (Playwright drives /usr/bin/chromium; never
# `playwright install`) and gettext for the translations (`make messages` and
# tests/test_translations.py run xgettext and msgfmt).
set -euo pipefail
missing=()
pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null || missing+=(libmariadb-dev pkg-config)
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ command -v msgfmt && command -v xgettext; } >/dev/null 2>&1 || missing+=(gettext)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Please install: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
