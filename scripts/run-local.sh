#!/usr/bin/env bash
# run-local.sh — run Sightline from source on this machine, without Docker (`make run`).
#
#   scripts/run-local.sh           start PostgreSQL (unless DATABASE_URL is set), build, migrate and
#                                  start visibility and mailbox; print ports, tokens and grpcurl
#                                  commands; run until Ctrl-C (or SIGTERM), then stop all it started
#   scripts/run-local.sh --check   the same, then verify (health, tokens, /metrics) and stop: exit 0
#                                  only if everything came up (CI runs this to keep `make run` true)
#   scripts/run-local.sh --exec CMD [ARGS...]
#                                  the same start, then run CMD with VIS_ADDR, MAILBOX_ADDR and
#                                  AUTH_KEYS set, stop everything and exit with CMD's status
#                                  (`make bench` runs the load command this way)
#
# State lives in .local/ of the repository (gitignored):
#   .local/pg, .local/pg-run   PostgreSQL data directory (created once, reused) and its unix socket
#                              directory; it listens on no TCP port, so it never clashes with a
#                              PostgreSQL server already on this machine. As root the cluster belongs to
#                              the `postgres` user; when that user cannot reach .local/ (a repository
#                              under /root, say), the cluster goes to /tmp/sightline-<uid>-<hash>/
#                              instead (one per checkout), and so does its log.
#   .local/auth-keys           the development token key (dev=hs256:..., generated once, mode 600)
#   .local/secret-keys         the development key sealing mail secrets (mailbox SECRET_KEYS, mode 600)
#   .local/bin/                the binaries
#   .local/*.log               service and PostgreSQL logs
#
# Environment:
#   DATABASE_URL     use this database instead of starting one (it is never stopped by this script)
#   VIS_ADDR, MAILBOX_ADDR                  gRPC addresses (127.0.0.1:50051, 127.0.0.1:50052)
#   VIS_METRICS_ADDR, MAILBOX_METRICS_ADDR  /metrics addresses (127.0.0.1:9091, 127.0.0.1:9092)
#   RUN_LOCAL_SERVICES                      which services to run ("visibility mailbox")
#   SMTP_ADDR                               mailbox's Smart Bcc SMTP listener (127.0.0.1:2525)
#   LOG_LEVEL and other service flags as environment variables (see `.local/bin/visibility serve -h`)
#
# Demo data: when scripts/seed-demo.sh exists and is executable, it runs once the services are
# healthy, with VIS_ADDR, MAILBOX_ADDR, AUTH_KEYS_FILE and BIN_DIR set.
#
# Needs: bash, Go (go.mod's version), coreutils, util-linux (flock, setsid; runuser as root) and the
# PostgreSQL server binaries (initdb, pg_ctl; as root with apt-get, `postgresql` is installed if absent).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

check=0
exec_cmd=()
while (($#)); do
	case $1 in
	--check) check=1 ;;
	--exec)
		shift
		(($#)) || { echo "run-local: --exec needs a command" >&2; exit 2; }
		exec_cmd=("$@")
		check=1 # one-shot: no Ctrl-C prompt
		break
		;;
	-h | --help) usage; exit 0 ;;
	*) echo "run-local: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
state=$root/.local
bin=$state/bin

read -r -a services <<<"${RUN_LOCAL_SERVICES:-visibility mailbox}"
declare -A grpc_addr=([visibility]=${VIS_ADDR:-127.0.0.1:50051} [mailbox]=${MAILBOX_ADDR:-127.0.0.1:50052})
declare -A metrics_addr=([visibility]=${VIS_METRICS_ADDR:-127.0.0.1:9091} [mailbox]=${MAILBOX_METRICS_ADDR:-127.0.0.1:9092})
for svc in "${services[@]}"; do
	[[ -n ${grpc_addr[$svc]:-} ]] || { echo "run-local: RUN_LOCAL_SERVICES: unknown service '$svc'" >&2; exit 2; }
done
[[ ${#services[@]} -gt 0 ]] || { echo "run-local: RUN_LOCAL_SERVICES is empty" >&2; exit 2; }
tokbin=${services[0]} # any of the binaries mints tokens

log() { printf 'run-local: %s\n' "$*"; }
warn() { printf 'run-local: warning: %s\n' "$*" >&2; }
die() { printf 'run-local: error: %s\n' "$*" >&2; exit 1; }

uid=$(id -u)
is_root() { [[ $uid -eq 0 ]]; }

mkdir -p "$state" "$bin"
# One run at a time per checkout. Children do not inherit the lock (9>&-), so a
# process left over by a killed run does not keep it.
exec 9>"$state/run.lock"
flock -n 9 || die "another scripts/run-local.sh is running for $root (lock: $state/run.lock)"

########################################################################### cleanup
declare -A svc_pid=()
pg_started=0
pgbin='' pgdata='' pgrun='' pglog=''

# alive PID: the process runs (an exited child that is not yet reaped is a zombie: not alive).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}
any_alive() {
	local pid
	for pid; do alive "$pid" && return 0; done
	return 1
}

# Runs a PostgreSQL tool as the cluster's owner: `postgres` when we are root (the
# server refuses to run as root), else ourselves. From / so that the tool never
# trips over an unreadable working directory.
as_pg() {
	if ! is_root; then
		"$@"
	elif command -v runuser >/dev/null; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
	fi
}

stop_services() {
	local pids=() svc pid i
	for svc in "${!svc_pid[@]}"; do
		pids+=("${svc_pid[$svc]}")
		kill -TERM "${svc_pid[$svc]}" 2>/dev/null
	done
	if [[ ${#pids[@]} -gt 0 ]]; then
		log "stopping ${!svc_pid[*]} (pids ${pids[*]})"
		# They drain for up to drain-delay + shutdown-grace (17s by default).
		for ((i = 0; i < 100; i++)); do
			any_alive "${pids[@]}" || break
			sleep 0.25
		done
		for pid in "${pids[@]}"; do
			alive "$pid" && { warn "pid $pid did not stop in 25s: killing it"; kill -KILL "$pid"; }
		done
		wait "${pids[@]}" 2>/dev/null
	fi
	for svc in "${!svc_pid[@]}"; do rm -f "$state/$svc.pid"; done
	svc_pid=()
}

stop_postgres() {
	[[ $pg_started -eq 1 ]] || return 0
	log "stopping PostgreSQL ($pgdata)"
	if ! as_pg "$pgbin/pg_ctl" stop -D "$pgdata" -m fast -w -t 60 >/dev/null 2>&1 &&
		as_pg "$pgbin/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; then
		warn "PostgreSQL in $pgdata did not stop"
	fi
	pg_started=0
}

signalled=''
running=0
cleanup() {
	local rc=$?
	set +e
	trap '' INT TERM
	trap - EXIT
	stop_services
	stop_postgres
	if [[ -n $signalled ]]; then
		log "stopped (SIG$signalled)"
		# A requested stop of the running system is success; an interrupted start or check is not.
		if [[ $running -eq 1 ]]; then rc=0; else rc=$((128 + $(kill -l "$signalled"))); fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'signalled=INT; exit 130' INT
trap 'signalled=TERM; exit 143' TERM

# Stops a service left running by an earlier run that was killed outright.
stop_leftover() {
	local svc=$1 pidfile=$state/$1.pid pid
	[[ -s $pidfile ]] || return 0
	pid=$(<"$pidfile")
	if [[ $pid =~ ^[0-9]+$ ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$bin/$svc"* ]]; then
		log "stopping $svc left running by an earlier run (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

for svc in visibility mailbox; do stop_leftover "$svc"; done

# Refuses to start when something else already listens on addr.
port_free() {
	local addr=$1 host port
	host=${addr%:*} port=${addr##*:}
	[[ $host == 0.0.0.0 || -z $host ]] && host=127.0.0.1
	[[ $host == *:* || $host == \[* ]] && return 0 # IPv6: let the service report it
	! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

for svc in "${services[@]}"; do
	for a in "${grpc_addr[$svc]}" "${metrics_addr[$svc]}"; do
		port_free "$a" || die "$a is already in use (by another program): free it, or set VIS_ADDR / MAILBOX_ADDR / *_METRICS_ADDR"
	done
done

########################################################################### PostgreSQL
pg_major() { "$1/pg_ctl" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/'; }

# Candidate bin directories: pg_ctl on PATH first, then /usr/lib/postgresql/*/bin, newest first.
pg_candidates() {
	local p
	if p=$(command -v pg_ctl) && command -v initdb >/dev/null; then
		dirname "$(readlink -f "$p")"
	fi
	for p in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
		[[ -x $p/pg_ctl && -x $p/initdb && -x $p/postgres ]] && echo "$p"
	done
	return 0
}

# Sets pgbin to the PostgreSQL binaries to use: the version of an existing cluster when present.
find_pg() {
	local want='' c
	[[ -s $pgdata/PG_VERSION ]] && want=$(<"$pgdata/PG_VERSION")
	for c in $(pg_candidates); do
		[[ -x $c/pg_ctl && -x $c/initdb ]] || continue
		if [[ -z $want || $(pg_major "$c") == "$want" ]]; then
			pgbin=$c
			return 0
		fi
	done
	return 1
}

install_pg() {
	if is_root && command -v apt-get >/dev/null; then
		log "no PostgreSQL server binaries found: installing the Debian package postgresql"
		log "(this may also start the system's own cluster on port 5432, which this script does not use)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q </dev/null
		apt-get install -y -q --no-install-recommends postgresql </dev/null
	else
		die "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin.
  Install them (Debian/Ubuntu: sudo apt-get install postgresql), or point DATABASE_URL at a database."
	fi
}

# Picks where the cluster lives: .local/ normally; /tmp/sightline-<uid>-<hash>/ when, as
# root, the postgres user cannot get to .local/ or the socket path would be too long.
choose_pg_dirs() {
	local base=$state tmp_base
	tmp_base=/tmp/sightline-$uid-$(printf '%s' "$root" | sha256sum | cut -c1-8) # one per checkout
	if is_root; then
		id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to own the cluster
  (install the postgresql package, run as a normal user, or set DATABASE_URL)"
		chmod o+x "$state"
		if ! as_pg test -x "$state"; then
			base=$tmp_base
			log "the postgres user cannot reach $state (a parent directory is not traversable);"
			log "the PostgreSQL cluster goes to $base instead"
		fi
	fi
	# A unix socket path (here: <base>/pg-run/.s.PGSQL.5432) has at most 107 bytes.
	if [[ $base == "$state" ]] && ((${#base} + 22 > 107)); then
		base=$tmp_base
		log "the socket path under $state would be too long; the PostgreSQL cluster goes to $base instead"
	fi
	if [[ $base != "$state" ]]; then
		mkdir -p "$base"
		[[ -O $base ]] || die "$base exists but does not belong to $(id -un)"
		chmod 0711 "$base"
	fi
	[[ $base != *"'"* ]] || die "the path $base contains a single quote; set DATABASE_URL instead"
	pgdata=$base/pg
	pgrun=$base/pg-run
	pglog=$base/postgres.log
}

# Percent-encodes a path for a URL query value.
urlencode() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9/._~-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

start_postgres() {
	choose_pg_dirs
	find_pg || { install_pg; find_pg; } ||
		die "no PostgreSQL binaries match the cluster in $pgdata (version $(cat "$pgdata/PG_VERSION" 2>/dev/null)).
  Delete it (rm -rf '$pgdata') to start afresh, or set DATABASE_URL."
	log "PostgreSQL $(pg_major "$pgbin") from $pgbin, data in $pgdata, socket in $pgrun (no TCP)"

	mkdir -p "$pgdata" "$pgrun"
	touch "$pglog"
	if is_root; then chown postgres: "$pgdata" "$pgrun" "$pglog"; fi
	chmod 0700 "$pgdata" "$pgrun"

	if [[ ! -s $pgdata/PG_VERSION ]]; then
		log "creating the cluster (once)"
		as_pg "$pgbin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --no-locale >"$pglog" 2>&1 ||
			{ tail -n 20 "$pglog" >&2; die "initdb failed (log: $pglog)"; }
	fi

	if as_pg "$pgbin/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; then
		log "reusing the PostgreSQL left running in $pgdata by an earlier run"
		pg_started=1
	else
		pg_started=1 # from here on, stop it on exit whatever happens
		as_pg "$pgbin/pg_ctl" start -D "$pgdata" -l "$pglog" -w -t 60 \
			-o "-c listen_addresses='' -c unix_socket_directories='$pgrun' -c unix_socket_permissions=0700 -c port=5432" \
			>/dev/null 9>&- </dev/null ||
			{ tail -n 20 "$pglog" >&2; die "PostgreSQL did not start (log: $pglog)"; }
	fi

	local psql=$pgbin/psql
	[[ -x $psql ]] || psql=psql
	local sql=("$psql" -X -q -v ON_ERROR_STOP=1 -h "$pgrun" -p 5432 -U postgres -d postgres -tA)
	if [[ -z $("${sql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'sightline'" </dev/null) ]]; then
		log "creating database sightline"
		"${sql[@]}" -c "CREATE DATABASE sightline" </dev/null
	fi
	DATABASE_URL="postgres://postgres@/sightline?host=$(urlencode "$pgrun")&port=5432&sslmode=disable"
}

if [[ -n ${DATABASE_URL:-} ]]; then
	log "using DATABASE_URL from the environment (not started or stopped here)"
else
	start_postgres
fi
export DATABASE_URL

########################################################################### key, build, migrate
keys_file=$state/auth-keys
if [[ ! -s $keys_file ]]; then
	log "generating the development token key $keys_file"
	(umask 077 && printf 'dev=hs256:%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$keys_file")
fi
chmod 600 "$keys_file"
auth_keys=$(<"$keys_file")
# The key that seals mail provider secrets at rest (mailbox's SECRET_KEYS).
secret_keys_file=$state/secret-keys
if [[ ! -s $secret_keys_file ]]; then
	log "generating the development secret-sealing key $secret_keys_file"
	(umask 077 && printf 'dev=%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$secret_keys_file")
fi
chmod 600 "$secret_keys_file"
secret_keys=$(<"$secret_keys_file")

command -v go >/dev/null || die "go is not on PATH: install Go $(sed -n 's/^go //p' go.mod) (https://go.dev/doc/install)"
pkgs=()
for svc in "${services[@]}"; do pkgs+=("./services/$svc/cmd/$svc"); done
log "building ${services[*]} into $bin/"
go build -o "$bin/" "${pkgs[@]}" </dev/null 9>&-

for svc in "${services[@]}"; do
	"$bin/$svc" migrate --database-url "$DATABASE_URL" </dev/null 9>&- | sed 's/^/run-local: /'
done

########################################################################### services
for svc in "${services[@]}"; do
	# setsid: a Ctrl-C reaches this script only, which then stops the services
	# before PostgreSQL. Keys go by environment so that ps does not show them;
	# mailbox reads SECRET_KEYS and VISIBILITY_ADDR, visibility ignores them.
	AUTH_KEYS=$auth_keys SECRET_KEYS=$secret_keys VISIBILITY_ADDR=${grpc_addr[visibility]} SMTP_ADDR=${SMTP_ADDR:-127.0.0.1:2525} \
		setsid "$bin/$svc" serve \
		--grpc-addr "${grpc_addr[$svc]}" --metrics-addr "${metrics_addr[$svc]}" \
		--database-url "$DATABASE_URL" --log-format console \
		</dev/null >"$state/$svc.log" 2>&1 9>&- &
	svc_pid[$svc]=$!
	echo "${svc_pid[$svc]}" >"$state/$svc.pid"
	log "started $svc (pid ${svc_pid[$svc]}), log $state/$svc.log"
done

healthy() { # svc
	"$bin/$1" healthcheck --grpc-addr "${grpc_addr[$1]}" --timeout 2s </dev/null 9>&-
}

show_log() { # svc
	echo "---- last lines of $state/$1.log" >&2
	tail -n 25 "$state/$1.log" >&2 || true
	echo "----" >&2
}

wait_healthy() {
	local deadline=$((SECONDS + 30)) svc pending
	while :; do
		pending=()
		for svc in "${services[@]}"; do
			if ! alive "${svc_pid[$svc]}"; then
				show_log "$svc"
				die "$svc exited during start-up"
			fi
			healthy "$svc" >/dev/null 2>&1 || pending+=("$svc")
		done
		[[ ${#pending[@]} -eq 0 ]] && return 0
		if ((SECONDS >= deadline)); then
			for svc in "${pending[@]}"; do show_log "$svc"; done
			die "not healthy after 30s: ${pending[*]}"
		fi
		sleep 0.5
	done
}

log "waiting for grpc.health.v1 SERVING (at most 30s)"
wait_healthy
log "healthy: ${services[*]}"

# The token command takes its key from AUTH_KEYS.
mint() {
	AUTH_KEYS="$auth_keys" "$bin/$tokbin" token "$@" </dev/null 9>&-
}
user_token=$(mint --company 1 --user 1)
svc_token=$(mint --company 1 --service crm)

if [[ -x $root/scripts/seed-demo.sh ]]; then
	log "running scripts/seed-demo.sh"
	VIS_ADDR=${grpc_addr[visibility]} MAILBOX_ADDR=${grpc_addr[mailbox]} AUTH_KEYS_FILE=$keys_file BIN_DIR=$bin \
		"$root/scripts/seed-demo.sh" </dev/null 9>&-
fi

########################################################################### summary
has() { [[ " ${services[*]} " == *" $1 "* ]]; }
rel() { printf '%s' "${1#"$root"/}"; }
{
	echo
	echo "Sightline is running$([[ $check -eq 1 ]] || echo '; Ctrl-C stops everything this script started'):"
	for svc in "${services[@]}"; do
		printf '  %-11s gRPC %-17s metrics http://%s/metrics  log %s\n' \
			"$svc" "${grpc_addr[$svc]}" "${metrics_addr[$svc]}" "$(rel "$state/$svc.log")"
	done
	if [[ $pg_started -eq 1 ]]; then
		printf '  %-11s %s  log %s\n' PostgreSQL "$DATABASE_URL" "$(rel "$pglog")"
		printf '  %-11s psql -h %s -U postgres sightline\n' '' "$pgrun"
	else
		printf '  %-11s DATABASE_URL from the environment\n' PostgreSQL
	fi
	echo
	echo "Tokens for company 1 (valid 12h; the key is $(rel "$keys_file")):"
	echo "  export TOKEN=$user_token"
	echo "  export SVC_TOKEN=$svc_token"
	echo "More:  AUTH_KEYS=\$(cat $(rel "$keys_file")) $(rel "$bin/$tokbin") token --company 1 --user 2   (or --service NAME)"
	echo
	echo "Try it (grpcurl: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@latest):"
	for svc in "${services[@]}"; do
		echo "  grpcurl -plaintext ${grpc_addr[$svc]} list"
	done
	echo "  grpcurl -plaintext ${grpc_addr[$tokbin]} grpc.health.v1.Health/Check"
	if has visibility; then
		echo "  grpcurl -plaintext -H \"authorization: Bearer \$SVC_TOKEN\" -d '{\"plan\":\"PLAN_PROFESSIONAL\"}' ${grpc_addr[visibility]} sightline.visibility.v1.VisibilityService/CreateCompany   # once per database"
		echo "  grpcurl -plaintext -H \"authorization: Bearer \$SVC_TOKEN\" ${grpc_addr[visibility]} sightline.visibility.v1.VisibilityService/GetCompany"
	fi
	if has mailbox; then
		echo "  grpcurl -plaintext -H \"authorization: Bearer \$TOKEN\" ${grpc_addr[mailbox]} sightline.mailbox.v1.MailboxService/GetMailSettings"
	fi
	echo
}

########################################################################### --check
http_status() { # host:port path -> first line of the HTTP answer
	local host=${1%:*} port=${1##*:} line
	exec 3<>"/dev/tcp/$host/$port" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
	IFS= read -r -t 5 line <&3 || true
	exec 3<&-
	printf '%s' "${line%$'\r'}"
}

if ((${#exec_cmd[@]})); then
	log "running: ${exec_cmd[*]}"
	st=0
	VIS_ADDR=${grpc_addr[visibility]:-} MAILBOX_ADDR=${grpc_addr[mailbox]:-} AUTH_KEYS=$auth_keys \
		"${exec_cmd[@]}" </dev/null 9>&- || st=$?
	log "command exited with status $st; stopping"
	exit "$st"
fi

if [[ $check -eq 1 ]]; then
	log "check: health"
	for svc in "${services[@]}"; do healthy "$svc" | sed 's/^/run-local:   /'; done
	log "check: tokens"
	for t in "$user_token" "$svc_token"; do
		[[ $t =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || die "minted token looks wrong: '$t'"
	done
	log "  user and service tokens minted"
	log "check: /metrics"
	for svc in "${services[@]}"; do
		st=$(http_status "${metrics_addr[$svc]}" /metrics) || st=''
		[[ $st == HTTP/*" 200"* ]] || die "$svc: GET http://${metrics_addr[$svc]}/metrics answered '${st:-nothing}'"
		log "  $svc: $st"
	done
	if command -v grpcurl >/dev/null; then
		log "check: grpcurl"
		for svc in "${services[@]}"; do
			grpcurl -plaintext "${grpc_addr[$svc]}" list </dev/null | sed 's/^/run-local:   /'
			grpcurl -plaintext "${grpc_addr[$svc]}" grpc.health.v1.Health/Check </dev/null | tr -d '\n ' | sed 's/^/run-local:   /; s/$/\n/'
		done
	fi
	log "check passed; stopping"
	exit 0
fi

running=1
log "running; logs: $(rel "$state")/{$(IFS=,; echo "${services[*]}")}.log"
while :; do
	# Returns when a service exits; Ctrl-C / SIGTERM interrupt it and run cleanup.
	st=0
	wait -n "${svc_pid[@]}" || st=$?
	for svc in "${services[@]}"; do
		if ! alive "${svc_pid[$svc]}"; then
			unset "svc_pid[$svc]"
			show_log "$svc"
			die "$svc exited (status $st); stopping the rest"
		fi
	done
done
