#!/usr/bin/env bash
# Validates docker-compose.yml offline (no Docker engine needed): parses it,
# resolves anchors/merges and checks it against the Compose schema with every
# Compose implementation found: Docker Compose v2 (`docker compose`) and/or the
# Python docker-compose v1 (Debian package docker-compose). Exits non-zero when
# the file is invalid or no Compose tool is installed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
file=${1:-$root/docker-compose.yml}
cd "$root"

# A fixed project name: the check must not depend on the directory name.
export COMPOSE_PROJECT_NAME=sightline-check

ran=0
fail=0
check() { # name, command...
	local name=$1
	shift
	echo "check-compose: $name: $("$@" version 2>/dev/null | head -n1)"
	if "$@" -f "$file" config -q; then
		echo "check-compose: $name: $file is valid"
	else
		echo "check-compose: $name: $file is INVALID" >&2
		fail=1
	fi
	ran=$((ran + 1))
}

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
	check "docker compose (v2)" docker compose
fi
if command -v docker-compose >/dev/null 2>&1; then
	check "docker-compose ($(command -v docker-compose))" docker-compose
fi
if [ "$ran" -eq 0 ]; then
	echo "check-compose: no Compose tool found: install Docker Compose v2 (docker compose) or, on Debian, 'apt-get install docker-compose'" >&2
	exit 1
fi
exit "$fail"
