#!/usr/bin/env bash
# Starts any loopback service the tests need that is not answering, with the machine's
# documented start commands, and fails loudly if one cannot be brought up.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do port_open "$port" && return 0; sleep 1; done
  echo "service $name did not come up on 127.0.0.1:$port" >&2
  return 1
}

ensure() {
  local name=$1 port=$2; shift 2
  if port_open "$port"; then return 0; fi
  echo "service $name is down on port $port; starting it" >&2
  "$@" >/dev/null 2>&1 || true
  wait_port "$name" "$port"
}

# The services the tests use today: PostgreSQL (store-pg, broker persistence tests) and
# Mosquitto (the reference broker). Redis, RabbitMQ and NATS join this list with packages/mq.
ok=0
ensure postgresql 5432 bash -c 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' || ok=1
ensure mosquitto 1883 mosquitto -d -c /etc/mosquitto/mosquitto.conf || ok=1
exit $ok
