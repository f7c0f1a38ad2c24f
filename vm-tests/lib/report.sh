# The readable report: one table per kernel from the guest's report.tsv, and a summary
# (sourced, not run).
# shellcheck shell=bash

# vm_outcome RC: what QEMU's exit status says (isa-debug-exit gives (code << 1) | 1).
vm_outcome() {
    case $1 in
    33) echo "all checks passed" ;;
    35) echo "some checks failed" ;;
    37) echo "the guest driver failed" ;;
    124 | 137) echo "timed out (MUSEFS_VM_TIMEOUT)" ;;
    0) echo "the guest powered off without a verdict (see console.log)" ;;
    *) echo "QEMU exited with $1 (see qemu.log)" ;;
    esac
}

# report_kernel LABEL DIR QEMU_RC VM_SECONDS
report_kernel() {
    set +e # a report is printed whatever is missing (run in a pipeline: a subshell)
    local label=$1 d=$2 rc=$3 secs=$4 r=$2/results
    local rel="" boot="" sysd=""
    [ -s "$r/report.tsv" ] || : >"$d/no-report"
    rel=$(awk -F'\t' '$1 == "boot" { if (match($4, /kernel [^ ,]*/)) print substr($4, RSTART + 7, RLENGTH - 7) }' "$r/report.tsv" 2>/dev/null)
    boot=$(awk -F'\t' '$1 == "boot" { if (match($4, /started [0-9.]*s/)) print substr($4, RSTART + 8, RLENGTH - 9) }' "$r/report.tsv" 2>/dev/null)
    sysd=$(awk -F'\t' '$1 == "boot" && match($4, /multi-user at [0-9.]*s/) { print substr($4, RSTART, RLENGTH) }' "$r/report.tsv" 2>/dev/null)
    local np nf nx nxp
    np=$(awk -F'\t' '$2 == "pass"' "$r/report.tsv" 2>/dev/null | wc -l)
    nf=$(awk -F'\t' '$2 == "fail"' "$r/report.tsv" 2>/dev/null | wc -l)
    nx=$(awk -F'\t' '$2 == "xfail"' "$r/report.tsv" 2>/dev/null | wc -l)
    nxp=$(awk -F'\t' '$2 == "xpass"' "$r/report.tsv" 2>/dev/null | wc -l)
    echo
    echo "== kernel $label (${rel:-unknown}): $(vm_outcome "$rc")"
    echo "   VM wall time ${secs}s; driver started ${boot:-?}s after kernel start${sysd:+; $sysd}"
    echo "   $np passed, $nf failed, $nx expected-fail, $nxp unexpectedly passed"
    if [ -s "$r/report.tsv" ]; then
        while IFS=$'\t' read -r name status ms detail; do
            printf '   %-6s %-28s %7.1fs  %s\n' "${status^^}" "$name" \
                "$(awk -v m="$ms" 'BEGIN { print m / 1000 }')" "$detail"
        done <"$r/report.tsv"
        # Checks listed but not reached (the driver died, or the VM timed out).
        local name
        while read -r name _; do
            [[ -z $name || $name == \#* ]] && continue
            awk -F'\t' -v n="$name" '$1 == n { f = 1 } END { exit !f }' "$r/report.tsv" ||
                printf '   %-6s %-28s %7s   %s\n' "NORUN" "$name" "-" "not reached"
        done <"$VM_TESTS_DIR/checks.txt"
    else
        echo "   no results from the guest; last console lines:"
        tail -15 "$d/console.log" 2>/dev/null | sed 's/^/   | /'
    fi
    echo "   artifacts: $d (console.log, results/)"
}

# report_summary OUT TOTAL_SECONDS LABEL...
report_summary() {
    set +e
    local out=$1 total=$2 k np=0 nf=0 nx=0 r
    shift 2
    echo
    echo "== summary (${total}s in all)"
    for k in "$@"; do
        r=$out/$k/results/report.tsv
        if [ -s "$r" ]; then
            np=$((np + $(awk -F'\t' '$2 == "pass" || $2 == "xpass"' "$r" | wc -l)))
            nf=$((nf + $(awk -F'\t' '$2 == "fail"' "$r" | wc -l)))
            nx=$((nx + $(awk -F'\t' '$2 == "xfail"' "$r" | wc -l)))
            printf '   %-5s %s\n' "$k" "$(awk -F'\t' '{ n[$2]++ } END { for (s in n) printf "%s %d  ", s, n[s] }' "$r")"
        else
            nf=$((nf + 1))
            printf '   %-5s no results\n' "$k"
        fi
    done
    echo "   expected failures (not counted as failed): $nx"
    echo "vm-tests: $np passed, $nf failed"
}
