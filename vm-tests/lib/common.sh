# Shared helpers for the host side of the VM tests (sourced, not run).
# shellcheck shell=bash

VM_TESTS_DIR=${VM_TESTS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
REPO_ROOT=${REPO_ROOT:-$(cd "$VM_TESTS_DIR/.." && pwd)}
# Everything downloaded or built is cached here, keyed by version or content hash.
VM_CACHE=${MUSEFS_VM_CACHE:-$REPO_ROOT/.cache/vm}

_t0=$(date +%s.%N)

# log MSG...: a timestamped progress line on stderr (seconds since the script started).
log() {
    local now
    now=$(date +%s.%N)
    printf '[vm-test %7ss] %s\n' "$(awk -v a="$_t0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')" "$*" >&2
}

die() {
    log "ERROR: $*"
    exit 2
}

# hash_of FILE...: a short content hash of files (and of literal strings passed with -s STR).
hash_of() {
    local a
    {
        while (($#)); do
            a=$1
            shift
            if [ "$a" = -s ]; then
                printf 's:%s\n' "$1"
                shift
            else
                printf 'f:%s\n' "$(basename "$a")"
                cat "$a"
            fi
        done
    } | sha256sum | cut -c1-12
}

# timed VAR CMD...: run CMD, store its wall time in seconds (one decimal) in VAR.
timed() {
    local __var=$1 s e rc=0
    shift
    s=$(date +%s.%N)
    "$@" || rc=$?
    e=$(date +%s.%N)
    printf -v "$__var" '%s' "$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.1f", b - a }')"
    return $rc
}

# need_tools TOOL:PACKAGE...: install missing host tools with apt (the project's own
# files must install what they need).
need_tools() {
    local pair tool pkg missing=()
    for pair in "$@"; do
        tool=${pair%%:*} pkg=${pair##*:}
        if [[ $tool == /* ]]; then
            [ -e "$tool" ] || missing+=("$pkg")
        else
            command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
        fi
    done
    ((${#missing[@]})) || return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    log "installing host packages: ${missing[*]}"
    $sudo apt-get update -qq
    local pkgs
    mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${pkgs[@]}" >/dev/null
}
