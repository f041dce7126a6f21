#!/usr/bin/env bash
# Debian packages the test suite needs: MariaDB client headers (mysqlclient).
set -euo pipefail
missing=()
pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null || missing+=(libmariadb-dev pkg-config)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Please install: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
