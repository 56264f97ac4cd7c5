#!/usr/bin/env bash
# Load for the zero-downtime tests and script/bench: CLIENTS loops of curl against
# URL (loopback only), each one request at a time, until the file STOP exists, a
# client has made MAX requests, or MAX_SECONDS have passed (all three bound it).
# Every request gets up to 30 s (a restart keeps it waiting in the backlog); a
# failure is anything but HTTP 200 with a body naming a version.
# Prints one line: "requests=N failed=M slowest_ms=S p99_ms=Q by_pid=P1:N1,P2:N2"
# (Q: 99 of 100 requests took at most Q ms; by_pid: how many answers named each
# OS pid in a "pid: P" line, by pid; "none" for answers without one) and, for each
# failure, a line
# "failure: <curl exit> <http code> <seconds> <error>" on stderr (the first 10).
# With SEEN, each client appends to that file the OS pid of an answer as soon as
# it sees one that differs from its previous answer's, so a caller can wait for
# answers from a given process instead of sleeping a fixed time.
#
#   test/support/http_load.sh URL STOP CLIENTS MAX MAX_SECONDS [SEEN]
set -u
url=$1 stop=$2 clients=$3 max=$4 max_seconds=$5 seen=${6:-}
case "$url" in
    http://127.* | http://\[::1\]* | http://localhost*) ;;
    *) echo "http_load: only loopback URLs, got ${url}" >&2; exit 2 ;;
esac
out=$(mktemp -d)
trap 'rm -rf -- "$out"' EXIT

client() { # N
    local n=0 started=$SECONDS line status pid last=""
    while [[ ! -e "$stop" ]] && ((n < max && SECONDS - started < max_seconds)); do
        status=0
        line=$(curl -sS --max-time 30 -o "$out/body.$1" -w '%{http_code} %{time_total}' "$url" 2>"$out/err.$1") || status=$?
        if [[ "$status" == 0 && "$line" == 200\ * ]] && grep -q '^[a-z_]* [0-9][0-9.]*$' "$out/body.$1"; then
            pid=$(sed -n 's/^pid: \([0-9][0-9]*\)$/\1/p' "$out/body.$1")
            echo "ok ${line#* } ${pid:-none}" >>"$out/log.$1"
            if [[ -n "$seen" && -n "$pid" && "$pid" != "$last" ]]; then
                echo "$pid" >>"$seen"
                last=$pid
            fi
        else
            echo "failure ${status} ${line:-000 0} $(tr '\n' ' ' <"$out/err.$1")" >>"$out/log.$1"
        fi
        n=$((n + 1))
    done
}

pids=()
for i in $(seq "$clients"); do
    client "$i" &
    pids+=($!)
done
wait "${pids[@]}"
p99=$(cat "$out"/log.* 2>/dev/null | awk '{ print ($1 == "ok") ? $2 : $4 }' | sort -g |
    awk '{ t[NR] = $1 } END { i = int(NR * 0.99 + 0.999999); printf "%d", (NR > 0) ? t[i] * 1000 : 0 }')
cat "$out"/log.* 2>/dev/null | awk -v p99="$p99" '
    { n++; t = ($1 == "ok") ? $2 : $4; if (t > slowest) slowest = t }
    $1 == "ok" { by_pid[$3]++ }
    $1 != "ok" { failed++; if (failed <= 10) print "failure: " substr($0, 9) > "/dev/stderr" }
    END { if (failed > 10) print "(" failed - 10 " more failures)" > "/dev/stderr" }
    END {
        pids = ""
        for (p in by_pid) pids = pids (pids == "" ? "" : ",") p ":" by_pid[p]
        printf "requests=%d failed=%d slowest_ms=%d p99_ms=%d by_pid=%s\n", n, failed, slowest * 1000, p99, pids
    }'
