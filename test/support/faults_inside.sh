#!/usr/bin/env bash
# The part of test/e2e/faults that runs inside the throwaway host, as root:
#
#   faults_inside.sh WORK complete
#       checks that current is a complete release: a release dir by name, its
#       record names it, and its files are those of the tar of its version (the
#       manifest test/e2e/faults wrote); and that no one holds the deploy lock.
#       Prints "complete NAME VERSION", or "INCOMPLETE: why" and exits 1.
#   faults_inside.sh WORK kills SCRIPT COUNT
#       COUNT runs of SCRIPT (release, extract-release, rollback, restart,
#       deploy.local), each in a transient unit of its own and killed with SIGKILL
#       (every process of the unit: children included) at a random moment of its
#       run; restart is killed while it rolls back. A kill counts when the unit
#       was still running (it died of the signal); after each, current must be
#       complete. Prints one line per kill and "kills SCRIPT: N of M landed".
#   faults_inside.sh WORK fill DIR
#       waits for a deploy's temp dir in DIR/releases (made after the free-space
#       check), then fills DIR's file system, leaving 8 kB (again until it holds:
#       the extraction may write meanwhile; test/e2e/faults pauses it midway).
#
# WORK holds what test/e2e/faults prepared: app/ (the project, its scripts in
# app/bin), tars/ (faults-VSN[-crash].tar.gz and manifests), bundle/ (a
# deployment bundle for extract-release).
set -eu -o pipefail
WORK=$1
shift
DEPLOY_DIR=/srv/faults
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

complete() {
    local target name dir vsn manifest
    target=$(readlink "$DEPLOY_DIR/current") || { echo "INCOMPLETE: current is not a link"; return 1; }
    name=${target#releases/}
    dir="$DEPLOY_DIR/releases/$name"
    [[ "$target" == releases/* && "$name" =~ ^[0-9]{14}(-[0-9]{2})?$ && -d "$dir" ]] ||
        { echo "INCOMPLETE: current -> $target, not a release"; return 1; }
    grep -qx "release=$name" "$dir/.deploy-record" 2>/dev/null ||
        { echo "INCOMPLETE: $name has no record naming it"; return 1; }
    vsn=$(sed -n 's/^version=//p' "$dir/.deploy-record")
    manifest=$(cd "$dir" && find . -type f ! -path ./.deploy-record -print0 | sort -z | xargs -0 sha256sum)
    [[ -n "$vsn" && "$manifest" == "$(cat "$WORK/tars/manifest-$vsn")" ]] ||
        { echo "INCOMPLETE: $name's files are not those of version ${vsn:-(unknown)}"; return 1; }
    flock -n -E 99 "$DEPLOY_DIR/.deploy.lock" true || { echo "INCOMPLETE: the deploy lock is still held"; return 1; }
    echo "complete $name $vsn"
}

# The command of one run of SCRIPT, and what to prepare before it.
command_of() { # SCRIPT I
    case "$1" in
        release) echo "$WORK/app/bin/deploy-release" ;;
        extract-release) echo "$WORK/bundle/bin/deploy-extract-release" ;;
        rollback) echo "$WORK/app/bin/deploy-rollback" ;;
        restart) echo "$WORK/app/bin/deploy-restart" ;;
        deploy.local) echo "mix deploy.local" ;;
    esac
}

prepare() { # SCRIPT I: what each run starts from
    local vsn=0.5.$(($2 % 2))
    case "$1" in
        release | deploy.local) tar_for_run="$WORK/tars/faults-$vsn.tar.gz" ;;
        extract-release) cp "$WORK/tars/faults-$vsn.tar.gz" "$WORK/bundle/faults.tar.gz" ;;
        # A release to roll back from.
        rollback) RELEASE_TAR="$WORK/tars/faults-0.6.$(($2 % 2)).tar.gz" "$WORK/app/bin/deploy-release" >/dev/null ;;
        # A release that crashes at boot, then a restart that rolls it back.
        restart) RELEASE_TAR="$WORK/tars/faults-0.7.0-crash.tar.gz" "$WORK/app/bin/deploy-release" >/dev/null ;;
    esac
}

# run_unit SCRIPT I OUT: starts a run of SCRIPT as the transient unit faults-kill-I.
run_unit() {
    local cmd
    cmd=$(command_of "$1" "$2")
    # shellcheck disable=SC2086 # the command's words
    systemd-run --quiet --unit="faults-kill-$2" --service-type=exec -p RemainAfterExit=yes \
        -p WorkingDirectory="$WORK/app" -p StandardOutput="file:$3" -p StandardError="file:$3" \
        --setenv=PATH="$PATH" --setenv=HOME=/root --setenv=MIX_ENV=prod \
        --setenv=RELEASE_TAR="${tar_for_run:-}" --setenv=HEALTH_CHECK_SETTLE=1 \
        --setenv=HEALTH_CHECK_TIMEOUT=15 -- $cmd
}

unit_state() { systemctl show -p SubState --value "faults-kill-$1"; }

# Waits until the unit's process is gone; sets result (its Result: success,
# signal, ...) and ran (the ms its process ran), and unloads the unit.
wait_unit() {
    local tries=0 times
    while [[ "$(unit_state "$1")" == running ]]; do
        sleep 0.02
        tries=$((tries + 1))
        ((tries < 3000)) || break
    done
    result=$(systemctl show -p Result --value "faults-kill-$1")
    times=$(systemctl show -p ExecMainStartTimestampMonotonic -p ExecMainExitTimestampMonotonic --value "faults-kill-$1" | paste -sd ' ')
    ran=$(awk '{ printf "%d", ($2 - $1) / 1000 }' <<<"$times")
    systemctl stop "faults-kill-$1" 2>/dev/null || true
    systemctl reset-failed "faults-kill-$1" 2>/dev/null || true
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# For restart: waits until the run says it rolls back; prints the ms it took.
wait_rolling_back() { # OUT I
    local started
    started=$(now_ms)
    until grep -q '^==> Rolling back from' "$1" 2>/dev/null; do
        [[ "$(unit_state "$2")" == running ]] || return 1
        sleep 0.02
    done
    echo $(($(now_ms) - started))
}

kills() {
    local script=$1 count=$2 i=0 n=0 landed=0 out t0="" span window delay result ran last status
    local -A steps=()
    # One run uninterrupted: how long its process runs (for restart, the part
    # from the line that says it rolls back on).
    out="$WORK/out-$script-measure"
    prepare "$script" 1000
    run_unit "$script" 1000 "$out"
    if [[ "$script" == restart ]]; then
        t0=$(now_ms)
        wait_rolling_back "$out" 1000 >/dev/null || true
        t0=$(($(now_ms) - t0))
    fi
    wait_unit 1000
    span=$((ran - ${t0:-0}))
    echo "measure $script: ${span} ms, $result (the part killed in)"
    while ((landed < count && n < count * 4)); do
        n=$((n + 1))
        i=$((i + 1))
        out="$WORK/out-$script-$i"
        prepare "$script" "$i"
        # For restart, every other kill lands within 60 ms of "Rolling back": around
        # the switch itself, which the rest of its run (restart, check) dwarfs.
        if [[ "$script" == restart && $((i % 2)) == 0 ]]; then window=60; else window=$span; fi
        delay=$(awk -v t="$window" -v s="$RANDOM$i" 'BEGIN { srand(s); printf "%.3f", t * rand() / 1000 }')
        run_unit "$script" "$i" "$out"
        if [[ "$script" == restart ]]; then
            wait_rolling_back "$out" "$i" >/dev/null || true
        fi
        sleep "$delay"
        systemctl kill --signal=SIGKILL "faults-kill-$i" 2>/dev/null || true
        wait_unit "$i"
        last=$( (grep '^==> ' "$out" 2>/dev/null || true) | tail -n 1 | cut -c 5-30)
        status=$(complete) || { echo "FAIL kill $i of $script at ${delay}s (last step: ${last:-none}): $status"; continue; }
        if [[ "$result" == signal ]]; then
            landed=$((landed + 1))
            steps[${last:-before any step}]=$((${steps[${last:-before any step}]:-0} + 1))
            echo "kill $landed of $script at ${delay}s, mid-run (last step: ${last:-none}): $status"
        else
            echo "(run $i of $script ended before the kill at ${delay}s: $result; not counted)"
        fi
    done
    for last in "${!steps[@]}"; do echo "  $script killed after '$last': ${steps[$last]}"; done
    echo "kills $script: $landed of $count landed"
}

fill() {
    local end=$((SECONDS + 60)) bs avail
    until compgen -G "$1/releases/.tmp-*" >/dev/null; do
        ((SECONDS < end)) || { echo "no deploy began in $1" >&2; return 1; }
    done
    # What the extraction writes between the two commands makes fallocate fail for
    # want of space: measure again and retry.
    until read -r bs avail < <(stat -f -c '%S %a' "$1") &&
        fallocate -l $((bs * avail - 8192)) "$1/filler" 2>/dev/null; do
        rm -f "$1/filler"
        ((SECONDS < end)) || { echo "could not fill $1" >&2; return 1; }
    done
}

tar_for_run=""
case "$1" in
    complete) complete ;;
    fill) fill "$2" ;;
    kills) kills "$2" "$3" ;;
    *) echo "unknown subcommand $1" >&2; exit 2 ;;
esac
