#!/usr/bin/env bash
# compare.sh: what users run, against the disk's own limit, in one run.
#
# Each round runs, one after the other on the same disk (both write under
# $TMPDIR):
#   1. badgerprobe -batch 256: plain Badger, 256 events of 1 KiB with four
#      index keys each per fsync'd transaction (../shared/bench/badgerprobe),
#      the yardstick of issue 13;
#   2. agenttrail bench --addr against a separate agenttrail serve on a fresh
#      data directory (an agent key appends, a compliance key tails).
# and prints the ratio of the two. Rounds interleave the two so that the
# noise of a shared machine falls on both; the summary gives every round's
# ratio and their median. After each bench, against the same server and
# its log of EVENTS events: the session read bench measures (one stream's
# session, read whole), then an online export of the first half of the log
# with proofs and an online verify of all of it (compliance key), timed.
#
# It also prints the CPU each side spends per event: badgerprobe's (user +
# system, over its run), serve's (over the bench: load, tail and session
# read) and the bench client's, and the summary turns them into the CPU
# cores that serve and the client together would need at the badgerprobe
# rate, which is 1.0x only if that fits in the machine's cores.
#
#   bash cmd/agenttrail/testdata/compare.sh [-r ROUNDS] [-n EVENTS] [-- bench flags...]
#
# Environment: AGENTTRAIL, the agenttrail binary (default: go build
# ./cmd/agenttrail); BADGERPROBE, the badgerprobe source directory or a
# binary built from it (default: ../shared/bench/badgerprobe beside the
# repository); PPROF_DIR, when set, a directory where each round's serve
# writes a CPU profile of the bench (serve --pprof-listen, read with
# go tool pprof).
set -euo pipefail

rounds=3
events=100000
while getopts "r:n:h" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    n) events=$OPTARG ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
bench_flags=("$@")

repo=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/agenttrail-compare-XXXXXX")
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

agenttrail=${AGENTTRAIL:-}
if [ -z "$agenttrail" ]; then
  agenttrail=$work/agenttrail
  (cd "$repo" && go build -o "$agenttrail" ./cmd/agenttrail)
fi
probe=${BADGERPROBE:-$repo/../shared/bench/badgerprobe}
if [ -d "$probe" ]; then
  (cd "$probe" && go build -o "$work/badgerprobe" .)
  probe=$work/badgerprobe
fi
[ -x "$probe" ] || { echo "compare.sh: no badgerprobe at $probe (set BADGERPROBE)" >&2; exit 2; }

# Builds that have an HTTP listener get it turned off: rounds need no fixed port.
http_off=()
"$agenttrail" serve -h 2>&1 | grep -q -- '-http-listen' && http_off=(--http-listen off)

field() { # field NAME: a number from the JSON line on stdin
  sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

printf 'compare.sh: %d rounds of %d events; %s; load average %s\n' "$rounds" "$events" "$(nproc) CPUs" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %14s %14s %8s %10s %10s %12s %14s %16s %10s %22s\n' round probe_ev/s bench_ev/s ratio p99_ms p50_ms tail_lag_ms session_ev/s export_events_s verify_s cpu_us/ev:probe,serve,bench
ratios=()
cores_needed=()
ticks=$(getconf CLK_TCK)
# proc_cpu PID: the CPU seconds (user + system) a running process has used.
proc_cpu() {
  awk -v t="$ticks" '{ sub(/.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/$1/stat"
}
# timed FILE CMD...: runs CMD, writing its CPU seconds (user + system, with
# its children) to FILE; CMD's own output is left as it is, and so is its
# exit status.
timed() {
  local out=$1; shift
  local TIMEFORMAT='%U %S' status=0
  { time "$@" 2>&3; } 3>&2 2>"$out.time" || status=$?
  awk '{ printf "%.3f", $1 + $2 }' "$out.time" >"$out"
  return "$status"
}
for round in $(seq 1 "$rounds"); do
  probe_line=$(timed "$work/probe.cpu" "$probe" -n "$events" -batch 256)
  probe_rate=$(echo "$probe_line" | sed -n 's/.*: \([0-9]*\) events\/s.*/\1/p')

  dir=$work/round$round
  mkdir -p "$dir"
  agent_key=$("$agenttrail" keys create --data "$dir/data" --principal bench-agent --role agent 2>/dev/null)
  read_key=$("$agenttrail" keys create --data "$dir/data" --principal bench-reader --role compliance 2>/dev/null)
  port=$(free_port)
  pprof=()
  if [ -n "${PPROF_DIR:-}" ]; then
    pport=$(free_port)
    pprof=(--pprof-listen "127.0.0.1:$pport")
  fi
  "$agenttrail" serve --data "$dir/data" --listen "127.0.0.1:$port" --log-level warn "${http_off[@]}" "${pprof[@]}" >"$dir/serve.out" 2>"$dir/serve.err" &
  serve_pid=$!
  for _ in $(seq 1 300); do grep -q "listening on" "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
  grep -q "listening on" "$dir/serve.out" || { cat "$dir/serve.err" >&2; exit 1; }
  profile_pid=""
  if [ -n "${PPROF_DIR:-}" ]; then
    mkdir -p "$PPROF_DIR"
    curl -s -o "$PPROF_DIR/serve-round$round.pprof" "http://127.0.0.1:$pport/debug/pprof/profile?seconds=${PPROF_SECONDS:-10}" &
    profile_pid=$!
  fi
  serve_cpu0=$(proc_cpu "$serve_pid")
  bench_line=$(AGENTTRAIL_KEY=$agent_key timed "$dir/bench.cpu" "$agenttrail" bench --addr "127.0.0.1:$port" --read-key "$read_key" \
    --events "$events" "${bench_flags[@]}" 2>"$dir/bench.err") || { cat "$dir/bench.err" >&2; exit 1; }
  serve_cpu=$(awk -v a="$serve_cpu0" -v b="$(proc_cpu "$serve_pid")" 'BEGIN { printf "%.3f", b - a }')
  bench_cpu=$(cat "$dir/bench.cpu")
  [ -n "$profile_pid" ] && wait "$profile_pid"
  half=$((events / 2))
  t0=$(date +%s.%N)
  "$agenttrail" export --addr "127.0.0.1:$port" --key "$read_key" --to-index "$half" >"$dir/export.jsonl" 2>"$dir/export.err" || { cat "$dir/export.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  "$agenttrail" verify --addr "127.0.0.1:$port" --key "$read_key" --to "$events" >"$dir/verify.out" 2>"$dir/verify.err" || { cat "$dir/verify.out" "$dir/verify.err" >&2; exit 1; }
  t2=$(date +%s.%N)
  export_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  verify_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
  exported=$(($(wc -l <"$dir/export.jsonl") - 1))
  kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
  rm -rf "$dir"

  rate=$(echo "$bench_line" | field events_per_second)
  p99=$(echo "$bench_line" | field ack_latency_p99_ms)
  p50=$(echo "$bench_line" | field ack_latency_p50_ms)
  lag=$(echo "$bench_line" | field queryable_after_last_ack_ms)
  session_rate=$(echo "$bench_line" | field session_read_events_per_second)
  ratio=$(awk -v a="$rate" -v b="$probe_rate" 'BEGIN { printf "%.2f", a / b }')
  ratios+=("$ratio")
  cpu=$(awk -v p="$(cat "$work/probe.cpu")" -v s="$serve_cpu" -v c="$bench_cpu" -v n="$events" \
    'BEGIN { printf "%.1f,%.1f,%.1f", p * 1e6 / n, s * 1e6 / n, c * 1e6 / n }')
  cores_needed+=("$(awk -v s="$serve_cpu" -v c="$bench_cpu" -v n="$events" -v r="$probe_rate" 'BEGIN { printf "%.2f", (s + c) / n * r }')")
  printf '%-6s %14.0f %14.0f %8s %10.1f %10.1f %12s %14.0f %16s %10s %22s\n' "$round" "$probe_rate" "$rate" "$ratio" "$p99" "$p50" "${lag:-n/a}" "${session_rate:-0}" "$exported:${export_s}s" "$verify_s" "$cpu"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
echo "ratio bench/badgerprobe by round: ${ratios[*]}; median $median"
echo "CPU cores serve and the bench client would need together at the badgerprobe rate, by round: ${cores_needed[*]} (this machine has $(nproc))"
