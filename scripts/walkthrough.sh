#!/usr/bin/env bash
# walkthrough.sh — run README.md's walkthrough against the demo and check every answer.
#
#   scripts/walkthrough.sh           against the stack `make run` is running now
#   scripts/walkthrough.sh --start   the same when a stack answers; else start one for the run
#                                    (scripts/run-local.sh --exec) and stop it after (`make walkthrough`)
#   scripts/walkthrough.sh --list    print the steps and their expectations, run nothing
#
# The steps are README.md's fenced blocks opened with "```sh walkthrough". They run in order in one
# bash shell at the repository root, so variables set by one block are there for the next, exactly
# as when pasted into a terminal. Each block has one expectation line:
#   # expect: JQ          every command of the block succeeds and `jq -e JQ` holds for what it
#                         printed; $NAME in JQ is the shell variable NAME (given to jq with --arg)
#   # expect-error: CODE  the block's last command fails with the gRPC status CODE (grpcurl
#                         prints "Code: CODE")
# The first mismatch stops the run with the block, its output and its expectation (exit 1).
#
# Environment: VIS_ADDR, MAILBOX_ADDR (the README's blocks read them; run-local.sh --exec sets them).
# Needs grpcurl (installed into .local/bin with `go install` when missing) and jq (installed with
# apt-get when missing and running as root).
set -euo pipefail

wt_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wt_readme=$wt_root/README.md
wt_grpcurl_version=v1.9.4

wt_log() { printf 'walkthrough: %s\n' "$*"; }
wt_die() { printf 'walkthrough: error: %s\n' "$*" >&2; exit 1; }

wt_mode=run
case ${1:-} in
'') ;;
--start) wt_mode=start ;;
--list) wt_mode=list ;;
-h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
*) wt_die "unknown argument '$1' (want --start, --list or nothing)" ;;
esac

########################################################################### the blocks
wt_tmp=$(mktemp -d "${TMPDIR:-/tmp}/walkthrough.XXXXXX")
trap 'rm -rf "$wt_tmp"' EXIT

# Splits the README's walkthrough blocks into $wt_tmp/block.N (N from 1) and prints N.
wt_extract() {
	awk -v dir="$wt_tmp" '
		/^```sh walkthrough[[:space:]]*$/ { n++; inside = 1; file = dir "/block." n; printf "" > file; next }
		inside && /^```[[:space:]]*$/ { inside = 0; close(file); next }
		inside { print >> file }
		END { if (inside) { print "unterminated walkthrough block " n > "/dev/stderr"; exit 1 } print n + 0 }
	' "$wt_readme"
}
wt_count=$(wt_extract) || wt_die "cannot read the walkthrough blocks of $wt_readme"
((wt_count > 0)) || wt_die "README.md has no \`\`\`sh walkthrough blocks"

# wt_expect N: prints "expect<TAB>JQ" or "expect-error<TAB>CODE" for block N.
wt_expect() {
	local f=$wt_tmp/block.$1 lines
	lines=$(grep -E '^# expect(-error)?: ' "$f" || true)
	[[ -n $lines && $(wc -l <<<"$lines") -eq 1 ]] ||
		wt_die "README.md walkthrough block $1 needs exactly one '# expect: JQ' or '# expect-error: CODE' line:
$(cat "$f")"
	sed -E 's/^# (expect(-error)?): (.*)$/\1\t\3/' <<<"$lines"
}

# wt_title N: the block's first comment line (not the expectation), else its first line.
wt_title() {
	local t
	t=$(grep -m1 -E '^# ' "$wt_tmp/block.$1" | grep -vE '^# expect' || true)
	[[ -n $t ]] || t=$(grep -m1 -vE '^\s*$' "$wt_tmp/block.$1")
	t=${t#\# }
	printf '%s' "${t:0:110}"
}

for ((wt_i = 1; wt_i <= wt_count; wt_i++)); do wt_expect "$wt_i" >/dev/null; done

if [[ $wt_mode == list ]]; then
	for ((wt_i = 1; wt_i <= wt_count; wt_i++)); do
		printf '%2d. %s\n    %s\n' "$wt_i" "$(wt_title "$wt_i")" "$(wt_expect "$wt_i" | tr '\t' ' ')"
	done
	exit 0
fi

########################################################################### tools and stack
cd "$wt_root"
export PATH="$wt_root/.local/bin:$PATH"

if ! command -v jq >/dev/null; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		wt_log "installing jq (apt-get)"
		(export DEBIAN_FRONTEND=noninteractive && apt-get update -q && apt-get install -y -q --no-install-recommends jq) </dev/null >/dev/null
	else
		wt_die "jq is missing: install it (Debian: sudo apt-get install jq)"
	fi
fi
if ! command -v grpcurl >/dev/null; then
	command -v go >/dev/null || wt_die "grpcurl is missing and so is go: install grpcurl"
	wt_log "installing grpcurl $wt_grpcurl_version into .local/bin (go install; a few minutes the first time)"
	mkdir -p "$wt_root/.local/bin"
	GOBIN="$wt_root/.local/bin" go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$wt_grpcurl_version" </dev/null
fi

wt_vis=${VIS_ADDR:-127.0.0.1:50051} wt_mb=${MAILBOX_ADDR:-127.0.0.1:50052}
wt_up() {
	local a
	for a in "$wt_vis" "$wt_mb"; do
		grpcurl -plaintext -max-time 3 "$a" grpc.health.v1.Health/Check 2>/dev/null | grep -q '"SERVING"' || return 1
	done
}
if ! wt_up; then
	if [[ $wt_mode == start ]]; then
		wt_log "no stack answers on $wt_vis and $wt_mb: starting one (scripts/run-local.sh --exec)"
		rm -rf "$wt_tmp"
		exec bash "$wt_root/scripts/run-local.sh" --exec bash "$wt_root/scripts/walkthrough.sh"
	fi
	wt_die "visibility ($wt_vis) and mailbox ($wt_mb) do not both answer SERVING: start them with
  make run (in another terminal), or run scripts/walkthrough.sh --start"
fi
[[ -s $wt_root/.local/auth-keys && -x $wt_root/.local/bin/visibility ]] ||
	wt_die ".local/auth-keys or .local/bin/visibility is missing: the walkthrough runs against make run's stack"

########################################################################### run
# Every README block runs in this shell (its variables carry over); the walkthrough's own
# variables are prefixed wt_ so that the blocks cannot clash with them.
wt_show() { # N out err why
	{
		printf '\nwalkthrough: step %d FAILED: %s\n' "$1" "$4"
		printf -- '---- block (README.md)\n%s\n' "$(cat "$wt_tmp/block.$1")"
		printf -- '---- standard output\n%s\n' "$(head -c 6000 "$2")"
		printf -- '---- standard error\n%s\n----\n' "$(head -c 3000 "$3")"
	} >&2
}

wt_t0=$SECONDS
wt_log "$wt_count steps from README.md against visibility $wt_vis and mailbox $wt_mb"
for ((wt_i = 1; wt_i <= wt_count; wt_i++)); do
	IFS=$'\t' read -r wt_kind wt_want < <(wt_expect "$wt_i")
	wt_out=$wt_tmp/out.$wt_i wt_err=$wt_tmp/err.$wt_i
	wt_fails=0
	set +eu
	trap 'wt_fails=$((wt_fails + 1))' ERR
	# shellcheck disable=SC1090 # the README's blocks
	{ source "$wt_tmp/block.$wt_i"; } >"$wt_out" 2>"$wt_err" </dev/null
	wt_status=$?
	trap - ERR
	set -eu
	case $wt_kind in
	expect)
		if ((wt_fails > 0 || wt_status != 0)); then
			wt_show "$wt_i" "$wt_out" "$wt_err" "a command failed (status $wt_status); expected: $wt_want"
			exit 1
		fi
		wt_args=()
		while read -r wt_v; do
			wt_v=${wt_v#\$}
			[[ -z $wt_v || $wt_v == __loc__ || $wt_v == ENV ]] && continue
			wt_args+=(--arg "$wt_v" "${!wt_v-}")
		done < <(grep -oE '\$[A-Za-z_][A-Za-z0-9_]*' <<<"$wt_want" | sort -u)
		if ! jq -e "${wt_args[@]}" "$wt_want" <"$wt_out" >/dev/null 2>>"$wt_err"; then
			wt_show "$wt_i" "$wt_out" "$wt_err" "the answer does not match: $wt_want"
			exit 1
		fi
		;;
	expect-error)
		if ((wt_status == 0)) || ! grep -q "Code: $wt_want\$" "$wt_err"; then
			wt_show "$wt_i" "$wt_out" "$wt_err" "expected the gRPC error $wt_want (status $wt_status)"
			exit 1
		fi
		;;
	esac
	printf 'walkthrough: ok %2d/%d  %s\n' "$wt_i" "$wt_count" "$(wt_title "$wt_i")"
done
wt_log "all $wt_count steps passed in $((SECONDS - wt_t0))s"
