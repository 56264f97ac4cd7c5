#!/usr/bin/env bash
# Reader for the release-switching test: runs EXE (current/bin/<release>) again
# and again until the file STOP exists and at least MIN runs are done. A failure
# is a non-zero exit or output other than "version=<vsn>". Creates STARTED after
# the first run, so the caller can start deploying only once it is reading.
# Prints "runs=N failures=M versions=K seen=V1,V2,..." (K: distinct versions seen;
# seen: each version once, in the order first seen, without "version=").
set -u
exe=$1 stop=$2 started=$3 min=$4
runs=0
failures=0
declare -A seen=()
order=()
while [[ ! -e "$stop" ]] || ((runs < min)); do
    if out=$("$exe" 2>&1) && [[ "$out" =~ ^version=([0-9.]+)$ ]]; then
        if [[ -z "${seen[$out]:-}" ]]; then
            seen[$out]=1
            order+=("${BASH_REMATCH[1]}")
        fi
    else
        failures=$((failures + 1))
        echo "failure at run ${runs}: ${out}" >&2
    fi
    runs=$((runs + 1))
    if ((runs == 1)); then
        : >"$started"
    fi
done
echo "runs=${runs} failures=${failures} versions=${#seen[@]} seen=$(IFS=,; echo "${order[*]}")"
