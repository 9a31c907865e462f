#!/usr/bin/env bash
# Validates docker-compose.yml offline (no Docker engine needed): parses it,
# resolves anchors/merges and checks it against the Compose schema with every
# Compose implementation found: Docker Compose v2 (`docker compose`) and/or the
# Python docker-compose v1 (Debian package docker-compose); then checks the
# resolved file against the repository (build contexts and Dockerfiles exist;
# the demo seed job's addresses, keys, Dovecot login and dependencies agree with
# the services). Exits non-zero when the file is invalid or inconsistent, or no
# Compose tool is installed.
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
[ "$fail" -eq 0 ] || exit 1

# Consistency of the resolved file (anchors merged) with the repository: build
# contexts and Dockerfiles exist, and the demo seed job reaches the services, the
# Dovecot and the keys the services use.
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
	resolved=$(docker compose -f "$file" config)
else
	resolved=$(docker-compose -f "$file" config)
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "check-compose: python3 with PyYAML is missing: consistency checks skipped" >&2
	exit 0
fi
RESOLVED=$resolved python3 - "$root" <<'PY'
import os, sys, yaml

root = sys.argv[1]
c = yaml.safe_load(os.environ["RESOLVED"])
svcs = c["services"]
errs = []

for name, s in svcs.items():
    b = s.get("build")
    if not b:
        continue
    ctx = b["context"] if isinstance(b, dict) else b
    ctx = ctx if os.path.isabs(ctx) else os.path.join(root, ctx)
    df = b.get("dockerfile", "Dockerfile") if isinstance(b, dict) else "Dockerfile"
    df = df if os.path.isabs(df) else os.path.join(ctx, df)
    if not os.path.isdir(ctx):
        errs.append(f"{name}: build context {ctx} does not exist")
    elif not os.path.isfile(df):
        errs.append(f"{name}: Dockerfile {df} does not exist")

def env(svc):
    e = svcs[svc].get("environment") or {}
    return e if isinstance(e, dict) else dict(x.split("=", 1) for x in e)

def port(addr):
    return addr.rsplit(":", 1)[1]

seed = env("seed-demo")
for var, svc in (("VIS_ADDR", "visibility"), ("MAILBOX_ADDR", "mailbox")):
    host, p = seed[var].rsplit(":", 1)
    if host != svc or p != port(env(svc)["GRPC_ADDR"]):
        errs.append(f"seed-demo: {var}={seed[var]} is not {svc}'s GRPC_ADDR port on host {svc}")
    if env(svc)["AUTH_KEYS"] != seed["AUTH_KEYS"]:
        errs.append(f"seed-demo: AUTH_KEYS differs from {svc}'s")
for var in ("DEMO_IMAP_ADDR", "DEMO_ACCOUNT_IMAP_ADDR"):
    host, p = seed[var].rsplit(":", 1)
    if host != "dovecot" or p != "143":
        errs.append(f"seed-demo: {var}={seed[var]} is not dovecot:143")
users = open(os.path.join(root, "deploy/docker/dovecot/users")).read().splitlines()
if not any(u.startswith(f'{seed["DEMO_IMAP_USER"]}:{{PLAIN}}{seed["DEMO_IMAP_PASSWORD"]}:') for u in users):
    errs.append("seed-demo: DEMO_IMAP_USER / DEMO_IMAP_PASSWORD are not in deploy/docker/dovecot/users")
conf = open(os.path.join(root, "deploy/docker/dovecot/dovecot.conf")).read()
if "port = 143" not in conf:
    errs.append("deploy/docker/dovecot/dovecot.conf does not listen on 143")
deps = svcs["seed-demo"].get("depends_on", {})
for svc in ("visibility", "mailbox", "dovecot"):
    if not isinstance(deps, dict) or deps.get(svc, {}).get("condition") != "service_healthy":
        errs.append(f"seed-demo: must depend on {svc} being service_healthy")
    if svc in svcs and "healthcheck" not in svcs[svc]:
        errs.append(f"{svc}: has no healthcheck")

for e in errs:
    print("check-compose: " + e, file=sys.stderr)
if errs:
    sys.exit(1)
print("check-compose: build contexts, Dockerfiles and the demo seed job are consistent")
PY
