#!/usr/bin/env bash
# Start PostgreSQL, MariaDB, RabbitMQ and Redis on 127.0.0.1 if they are down; fail if
# they do not come up.
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

port_open() {  # port: something listens on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# RabbitMQ (the Celery tests' broker). A node whose app was stopped (rabbitmqctl
# stop_app, as a test does for a moment) is started again rather than booted twice.
if ! port_open 5672; then
  if rabbitmqctl -q ping >/dev/null 2>&1; then
    echo "Starting RabbitMQ's app"
    rabbitmqctl -q start_app
  else
    echo "Starting RabbitMQ"
    rabbitmq-server -detached
  fi
fi
wait_for RabbitMQ "port_open 5672 && rabbitmqctl -q await_startup"

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""
fi
wait_for Redis "redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG"
