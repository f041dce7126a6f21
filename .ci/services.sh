#!/usr/bin/env bash
# Start PostgreSQL and MariaDB on 127.0.0.1 if they are down; fail if they do not come up.
set -euo pipefail

wait_for() {  # name, command
  for _ in $(seq 1 30); do
    if eval "$2" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "$1 did not start" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  echo "Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
wait_for PostgreSQL "pg_isready -h 127.0.0.1 -q"

if ! mysqladmin -uroot -h127.0.0.1 status >/dev/null 2>&1; then
  echo "Starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_for MariaDB "mysqladmin -uroot -h127.0.0.1 status"
