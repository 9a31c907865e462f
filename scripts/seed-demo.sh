#!/usr/bin/env bash
# seed-demo.sh — seed the demo company of `make run` (scripts/run-local.sh calls it once the
# services are healthy). It builds cmd/sightline-demo and runs it: the company, its groups,
# users, pipelines, items and contact index through the gRPC APIs; the demo user's mail in the
# demo Dovecot (when DEMO_IMAP_ADDR is set) and through IngestMessage. Idempotent: run it again
# and nothing changes. It writes the demo's tokens and grpcurl commands to DEMO_COMMANDS_FILE
# (standard output when unset).
#
# Environment (run-local.sh sets them):
#   VIS_ADDR, MAILBOX_ADDR   the services' gRPC addresses
#   AUTH_KEYS_FILE           the token key file (.local/auth-keys)
#   BIN_DIR                  where the binaries go (.local/bin)
#   DEMO_IMAP_ADDR           the demo Dovecot (127.0.0.1:PORT); unset: none, no mail account
#   DEMO_IMAP_USER, DEMO_IMAP_PASSWORD   its login (ada / demo-password)
#   DEMO_COMMANDS_FILE       where to write the commands
#
# By hand, with `make run` running:  BIN_DIR=.local/bin AUTH_KEYS_FILE=.local/auth-keys scripts/seed-demo.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
: "${BIN_DIR:=$root/.local/bin}" "${AUTH_KEYS_FILE:=$root/.local/auth-keys}"
export AUTH_KEYS_FILE

go build -o "$BIN_DIR/sightline-demo" ./cmd/sightline-demo
args=()
[[ -n ${DEMO_COMMANDS_FILE:-} ]] && args+=(--commands-file "$DEMO_COMMANDS_FILE")
exec "$BIN_DIR/sightline-demo" "${args[@]}"
