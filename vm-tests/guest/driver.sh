#!/bin/bash
# wait_for takes commands as single-quoted strings for eval, expanded when polled.
# shellcheck disable=SC2016
# The guest side of the VM tests: installs musefs, its units (systemd/), the musefs user
# and the configs from the payload disk, runs the checks listed in checks.txt in order, writes report.tsv and logs to
# /run/vmtest, packs them as a tar stream onto /dev/vdc and tells the host the outcome
# through isa-debug-exit (0x10 all passed, 0x11 a check failed, 0x12 driver error).
set -uo pipefail

P=/opt/vmtest
R=/run/vmtest
UPTIME_AT_START=$(cut -d' ' -f1 /proc/uptime)
mkdir -p "$R/checks"
: >"$R/report.tsv"
# shellcheck source=/dev/null
. "$P/params.env"

DB=/var/lib/musefs/store.db
MUSIC=/srv/music
SYNTH=${UNIT_TEMPLATE}synth.service
STRUCT=${UNIT_TEMPLATE}struct.service
VIEW=/srv/view
STRUCT_VIEW=/srv/struct
# musefs mounts with fstype "fuse" (or "fuse.musefs" when the subtype is applied) and source "musefs".
is_musefs_mount() { mnt_line "$1" | awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { exit !($(i + 1) ~ /^fuse(\.musefs)?$/ && $(i + 2) == "musefs") } exit 1 }'; }

say() { echo "vmtest [$(cut -d' ' -f1 /proc/uptime)] $*" | tee -a "$R/driver.log" >/dev/console; }
now_ms() { date +%s%3N; }

finish() {
    local code=$1
    trap - EXIT
    say "finished (exit code $code); packing results"
    journalctl -b --no-pager -o short-monotonic >"$R/journal.txt" 2>&1
    dmesg >"$R/dmesg.txt" 2>&1
    say "logs collected"
    # Slow under TCG (one bus call per unit): only on request.
    [ "${BLAME:-0}" = 1 ] && systemd-analyze blame >"$R/systemd-analyze-blame.txt" 2>&1
    tar -C "$R" -cf /dev/vdc . && sync
    # shellcheck disable=SC2059 # the byte is built as an octal escape on purpose
    printf "\\$(printf '%03o' "$code")" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc status=none
    sleep 5
    poweroff -f
}
trap 'finish 18' EXIT # 0x12: the driver itself died

# ---------------------------------------------------------------- helpers

# mnt_line DIR: the line of /proc/1/mountinfo (PID 1's namespace: the host's) for DIR.
mnt_line() { awk -v d="$1" '$5 == d' /proc/1/mountinfo | tail -1; }
mnt_id() { mnt_line "$1" | awk '{ print $1 }'; }
unit_prop() { systemctl show -p "$2" --value "$1"; }
served_tree() { (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort); }
# The fixtures' manifest (served path, original path, title), kept up to date by the
# checks that edit titles.
MANIFEST=$R/manifest.tsv
cp "$P/manifest.tsv" "$MANIFEST"
expected_tree() { cut -f1 "$MANIFEST" | LC_ALL=C sort; }
kernel_at_least() { # MAJOR MINOR
    local maj min
    IFS=. read -r maj min _ <<<"$(uname -r)"
    ((maj > $1 || (maj == $1 && min >= $2)))
}
# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds; sets WAITED_MS.
wait_for() {
    local limit=$(($1 * 1000)) s
    shift
    s=$(now_ms)
    while true; do
        if "$@"; then
            WAITED_MS=$(($(now_ms) - s))
            return 0
        fi
        if (($(now_ms) - s > limit)); then
            WAITED_MS=$(($(now_ms) - s))
            return 1
        fi
        sleep 0.05
    done
}
fail() {
    DETAIL="$*"
    echo "FAIL: $*"
    return 1
}
# Detach a musefs mount left behind (dead or alive): abort its FUSE connection so no
# reader stays stuck, then lazily unmount.
force_unmount() {
    local dev
    dev=$(mnt_line "$1" | awk '{ print $3 }')
    [ -n "$dev" ] || return 0
    echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort" 2>/dev/null
    umount -l "$1" 2>/dev/null
}
tag_of() { metaflac --show-tag="$2" "$1" 2>/dev/null | head -1 | cut -d= -f2-; }
mutagen_tag() {
    python3 -c 'import sys, mutagen; f = mutagen.File(sys.argv[1]); print((f.get(sys.argv[2]) or [""])[0])' "$1" "$2"
}
sql() { sqlite3 -bail "$DB" "$1"; }

# ---------------------------------------------------------------- checks
# Each check_NAME runs with its output in checks/NAME.log, sets DETAIL (one line for the
# report) and returns 0 for pass.

check_boot() {
    local rel sysd
    rel=$(uname -r)
    sysd=$(systemctl --version | awk 'NR == 1 { print $2 }')
    systemctl list-units --failed --no-legend --plain | tee "$R/failed-units.txt"
    [ "$rel" = "$EXPECT_RELEASE" ] || fail "booted $rel, expected $EXPECT_RELEASE" || return 1
    systemctl is-active -q multi-user.target || fail "multi-user.target not active" || return 1
    local failed init_us mu_us
    failed=$(awk '{ print $1 }' "$R/failed-units.txt" | paste -sd, -)
    # When PID 1 started (kernel + initramfs), when multi-user.target was reached.
    init_us=$(systemctl show -p UserspaceTimestampMonotonic --value)
    mu_us=$(unit_prop multi-user.target ActiveEnterTimestampMonotonic)
    DETAIL=$(awk -v k="$rel" -v s="$sysd" -v i="$init_us" -v m="$mu_us" -v d="$UPTIME_AT_START" \
        'BEGIN { printf "kernel %s, systemd %s, init started at %.1fs, multi-user at %.1fs, driver started %.1fs after boot", k, s, i / 1e6, m / 1e6, d }')
    DETAIL+=${failed:+, failed units: $failed}
}

check_scan_seeds_store() {
    # The scan unit (User=musefs, sandboxed) scans the instance's `library` into its
    # `store`; StateDirectory= recreates /var/lib/musefs for it.
    local n out count rc scan=${SCAN_TEMPLATE}synth.service
    n=$(wc -l <"$P/manifest.tsv")
    rm -rf "$MUSIC" /var/lib/musefs
    cp -a "$P/music" "$MUSIC"
    # Readable by the musefs user (the payload keeps the host's modes).
    chmod -R a+rX "$MUSIC"
    timeout 120 systemctl start "$scan"
    rc=$?
    out=$(journalctl -u "$scan" -o cat --no-pager)
    echo "$out"
    ((rc == 0)) || fail "systemctl start $scan failed (rc $rc, result $(unit_prop "$scan" Result)): $(tail -1 <<<"$out")" || return 1
    grep -Eq " $n added, 0 updated, (0 moved, )?0 unchanged, 0 failed" <<<"$out" ||
        fail "scan did not add $n files: $(tail -1 <<<"$out")" || return 1
    count=$(sql "SELECT count(*) FROM tracks")
    [ "$count" = "$n" ] || fail "store has $count tracks, expected $n" || return 1
    local owner
    owner=$(stat -c %U "$DB")
    [ "$owner" = musefs ] || fail "the store is owned by $owner, not musefs" || return 1
    DETAIL="$scan scanned $n files into a fresh store (owned by $owner)"
}

check_unit_verify() {
    local out
    out=$(systemd-analyze verify "$SYNTH" "$STRUCT" "${SCAN_TEMPLATE}synth.service" 2>&1)
    local rc=$?
    echo "$out"
    ((rc == 0)) || fail "systemd-analyze verify: $(head -1 <<<"$out")" || return 1
    DETAIL="verify clean${out:+ with notes: $(head -1 <<<"$out")}"
}

check_unit_active_once_mounted() {
    # A transient unit ordered after the service (Requires= + After=) starts the service
    # and runs only once systemd considers it active: it must find the mount answering.
    # With a service that reports active before mounting (Type=simple) this fails.
    local s out rc cursor
    cursor=$(journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p')
    s=$(now_ms)
    # One exec, no shell: statfs(2) on the mountpoint names the filesystem there, and
    # on a FUSE mount it is answered by the daemon.
    out=$(timeout 60 systemd-run --quiet --wait --pipe --collect \
        -p Requires="$SYNTH" -p After="$SYNTH" -- /usr/bin/stat -f -c %T "$VIEW" 2>&1)
    rc=$?
    [[ $out == fuse* ]] || rc=1
    local ready_ms=$(($(now_ms) - s))
    echo "ordered unit (rc $rc): $out"
    systemctl is-active -q "$SYNTH" ||
        fail "unit is $(unit_prop "$SYNTH" ActiveState): $(journalctl -u "$SYNTH" -o cat | tail -3 | paste -sd' ' -)" || return 1
    # The journal's order: musefs logs "mounted" (native journal socket) before it sends
    # READY=1, and PID 1 logs the finished start job (same socket) only after READY=1. A
    # service reported active earlier (Type=simple) has the job logged first.
    local order
    order=$(journalctl -o json --no-pager -u "$SYNTH" ${cursor:+--after-cursor="$cursor"} | python3 -c '
import json, sys
mounted = started = None
for i, line in enumerate(sys.stdin):
    e = json.loads(line)
    if mounted is None and e.get("MESSAGE") == "mounted" and e.get("_PID") != "1":
        mounted = i
    if started is None and e.get("JOB_TYPE") == "start" and e.get("JOB_RESULT") == "done":
        started = i
print("ok" if mounted is not None and started is not None and mounted < started else
      f"bad mounted={mounted} started={started}")')
    echo "journal order: $order"
    [ "$order" = ok ] || fail "the start job finished before musefs logged 'mounted' ($order)" || return 1
    ((rc == 0)) || fail "a unit ordered after $SYNTH found no answering mount (rc $rc: $(paste -sd' ' <<<"$out"))" || return 1
    # The plain blocking start returns with the mount in place too.
    timeout 30 systemctl start "$SYNTH" || fail "systemctl start failed" || return 1
    is_musefs_mount "$VIEW" || fail "no musefs mount on $VIEW after start returned" || return 1
    local status
    status=$(unit_prop "$SYNTH" StatusText)
    [[ $status == serving* ]] || fail "no STATUS= from the service (StatusText '$status')" || return 1
    DETAIL="active ${ready_ms} ms after the start request, after 'mounted' in the journal, mount seen by a unit ordered after it; status '$status'"
}

check_mount_visible_outside_unit() {
    local line want got1 got2
    line=$(mnt_line "$VIEW")
    echo "mountinfo: $line"
    [ -n "$line" ] || fail "no mount on $VIEW in PID 1's mount namespace" || return 1
    is_musefs_mount "$VIEW" || fail "mount on $VIEW is not musefs: $line" || return 1
    want=$(expected_tree)
    # From PID 1's namespace explicitly, and from a separate transient unit.
    got1=$(nsenter --target=1 --mount -- sh -c "cd $VIEW && find . -type f | sed 's|^\./||' | LC_ALL=C sort")
    got2=$(systemd-run --quiet --wait --pipe --collect -- sh -c "cd $VIEW && find . -type f | sed 's|^\./||' | LC_ALL=C sort")
    echo "expected:"$'\n'"$want"$'\n'"host namespace:"$'\n'"$got1"$'\n'"other unit:"$'\n'"$got2"
    [ "$got1" = "$want" ] || fail "tree seen from PID 1's namespace differs: $(paste -sd, - <<<"$got1")" || return 1
    [ "$got2" = "$want" ] || fail "tree seen from another unit differs: $(paste -sd, - <<<"$got2")" || return 1
    local f=$VIEW/Ann/First/"1 - One.flac"
    [ "$(tag_of "$f" TITLE)" = One ] && [ "$(tag_of "$f" ARTIST)" = Ann ] ||
        fail "metaflac reads wrong tags from $f" || return 1
    DETAIL="$(wc -l <<<"$want") files listed from PID 1's namespace and from another unit; metaflac reads the tags"
}

check_sql_tag_edit_visible() {
    local old="$VIEW/Ann/First/2 - Two.flac" new="$VIEW/Ann/First/2 - Deux (edited).flac"
    [ -e "$old" ] || fail "$old missing before the edit" || return 1
    [ "$(sql "UPDATE tags SET value = 'Deux (edited)' WHERE key = 'title' AND value = 'Two'; SELECT changes()")" = 1 ] ||
        fail "the UPDATE changed no row" || return 1
    sed -i 's|^Ann/First/2 - Two\.flac\t\(.*\)\tTwo$|Ann/First/2 - Deux (edited).flac\t\1\tDeux (edited)|' "$MANIFEST"
    wait_for 10 eval '[ -e "$new" ] && [ ! -e "$old" ]' ||
        fail "renamed file did not appear within 10 s: $(served_tree "$VIEW" | paste -sd, -)" || return 1
    local ms=$WAITED_MS t1 t2
    t1=$(tag_of "$new" TITLE)
    t2=$(mutagen_tag "$new" title)
    echo "metaflac: $t1; mutagen: $t2"
    [ "$t1" = "Deux (edited)" ] || fail "metaflac reads TITLE '$t1'" || return 1
    [ "$t2" = "Deux (edited)" ] || fail "mutagen reads title '$t2'" || return 1
    DETAIL="renamed file visible ${ms} ms after the UPDATE; metaflac and mutagen read the new title"
}

check_sql_edit_invalidates_cache() {
    local f="$VIEW/Bob/Second/1 - Three.flac" h0 h1 size
    h0=$(sha256sum <"$f" | cut -c1-64) || fail "cannot read $f" || return 1
    [ -z "$(tag_of "$f" GENRE)" ] || fail "fixture already has a GENRE" || return 1
    # Leave the pages cached (no drop_caches): only the kernel invalidation can refresh them.
    [ "$(sql "INSERT INTO tags(track_id, key, ordinal, value) SELECT track_id, 'genre', 0, 'Krautrock' FROM tags WHERE key = 'title' AND value = 'Three'; SELECT changes()")" = 1 ] ||
        fail "the INSERT added no row" || return 1
    wait_for 10 eval '[ "$(tag_of "$f" GENRE)" = Krautrock ]' ||
        fail "GENRE not visible within 10 s of the INSERT (stale page cache?)" || return 1
    local ms=$WAITED_MS
    h1=$(sha256sum <"$f" | cut -c1-64)
    size=$(stat -c %s "$f")
    [ "$h0" != "$h1" ] || fail "content unchanged after the edit" || return 1
    [ "$size" = "$(wc -c <"$f")" ] || fail "stat size $size differs from the bytes read" || return 1
    [ "$(mutagen_tag "$f" genre)" = Krautrock ] || fail "mutagen does not read the new genre" || return 1
    DETAIL="new tag read at the same path ${ms} ms after the INSERT; size consistent ($size bytes)"
}

check_structure_only_passthrough() {
    timeout 30 systemctl start "$STRUCT" || fail "cannot start $STRUCT" || return 1
    local pid io0 io1 total=0 served orig want log
    pid=$(unit_prop "$STRUCT" MainPID)
    [ "$(served_tree "$STRUCT_VIEW")" = "$(expected_tree)" ] ||
        fail "structure-only tree differs: $(served_tree "$STRUCT_VIEW" | paste -sd, -)" || return 1
    sync
    echo 3 >/proc/sys/vm/drop_caches
    io0=$(awk '/^rchar/ { print $2 }' "/proc/$pid/io")
    while IFS=$'\t' read -r served orig _; do
        # Structure-only serves the original bytes, so tag edits made earlier do not matter.
        local a b
        a=$(sha256sum <"$STRUCT_VIEW/$served" | cut -c1-64) || fail "read of $served failed" || return 1
        b=$(sha256sum <"$MUSIC/$orig" | cut -c1-64)
        [ "$a" = "$b" ] || fail "$served differs from the original" || return 1
        total=$((total + $(stat -c %s "$MUSIC/$orig")))
    done <"$MANIFEST"
    io1=$(awk '/^rchar/ { print $2 }' "/proc/$pid/io")
    local daemon=$((io1 - io0))
    log=$(journalctl -u "$STRUCT" -o cat --no-pager)
    echo "$log"
    echo "served $total bytes; the daemon read $daemon bytes meanwhile"
    if kernel_at_least 6 9; then
        grep -q 'FUSE passthrough available' <<<"$log" ||
            fail "no 'FUSE passthrough available' in the log on $(uname -r)" || return 1
        ! grep -q 'passthrough registration failed' <<<"$log" ||
            fail "passthrough registration failed: $(grep -m1 'registration failed' <<<"$log")" || return 1
        ((daemon * 4 < total)) ||
            fail "daemon read $daemon bytes for $total served: reads did not bypass it" || return 1
        DETAIL="passthrough engaged: $total bytes served identical to the originals, the daemon read $daemon bytes"
    else
        grep -q 'kernel offers no FUSE passthrough' <<<"$log" ||
            fail "no fallback log line on $(uname -r)" || return 1
        ((daemon >= total)) ||
            fail "daemon read only $daemon bytes for $total served on a kernel without passthrough" || return 1
        DETAIL="no passthrough on $(uname -r): daemon served $total bytes identical to the originals (it read $daemon)"
    fi
}

check_security_exposure() {
    local out fig
    out=$(systemd-analyze security --no-pager "$SYNTH" 2>&1)
    echo "$out"
    fig=$(grep -o 'Overall exposure level for [^:]*: [0-9.]* [A-Z]*' <<<"$out" | awk '{ print $(NF-1), $NF }')
    [ -n "$fig" ] || fail "no exposure figure: $(tail -1 <<<"$out")" || return 1
    EXPOSURE=$fig
    if [ -n "$MAX_EXPOSURE" ] && awk -v a="${fig% *}" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(a > m) }'; then
        fail "exposure $fig above the ceiling $MAX_EXPOSURE" || return 1
    fi
    DETAIL="exposure $fig for $SYNTH${MAX_EXPOSURE:+ (ceiling $MAX_EXPOSURE)}"
}

reader_state() { python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["ok"], s["errors"], ",".join(f"{k}:{v}" for k, v in s["by_errno"].items()) or "-", int(s["done"]))' "$1" 2>/dev/null || echo "0 0 - 0"; }

check_sigkill_restart_same_mount() {
    systemctl is-active -q "$SYNTH" || timeout 30 systemctl start "$SYNTH" || fail "$SYNTH not running" || return 1
    local mid0 pid0 nr0 st="" pid1="" nr1 status=$R/reader.json stop=$R/reader.stop kill_opt=--kill-whom
    mid0=$(mnt_id "$VIEW")
    pid0=$(unit_prop "$SYNTH" MainPID)
    nr0=$(unit_prop "$SYNTH" NRestarts)
    systemctl --help | grep -q -- --kill-whom || kill_opt=--kill-who
    rm -f "$status" "$stop"
    local r0
    r0=$(now_ms)
    python3 "$P/reader.py" "$VIEW" "$status" "$stop" 90 &
    local rpid=$!
    wait_for 20 eval '[ "$(reader_state "$status" | cut -d" " -f1)" -ge 2 ]' ||
        fail "reader made no progress before the kill" || return 1
    read -r ok_before _ <<<"$(reader_state "$status")"
    echo "killing main pid $pid0 (mount id $mid0) with the reader at $ok_before reads, $(($(now_ms) - r0)) ms after it started"
    systemctl kill -s KILL "$kill_opt=main" "$SYNTH"
    # Wait for a new main process, or for systemd to give up.
    local s
    s=$(now_ms)
    while (($(now_ms) - s < 20000)); do
        st=$(unit_prop "$SYNTH" ActiveState)
        pid1=$(unit_prop "$SYNTH" MainPID)
        [ "$st" = active ] && [ "$pid1" != 0 ] && [ "$pid1" != "$pid0" ] && break
        [ "$st" = failed ] && break
        sleep 0.1
    done
    local restart_ms=$(($(now_ms) - s))
    echo "restart seen (state $st, pid $pid1) $(($(now_ms) - r0)) ms after the reader started"
    nr1=$(unit_prop "$SYNTH" NRestarts)
    local ok_at_restart
    read -r ok_at_restart _ <<<"$(reader_state "$status")"
    sleep 3
    touch "$stop"
    local hung=0
    wait_for 10 eval '! kill -0 $rpid 2>/dev/null' || hung=1
    local ok err errs
    read -r ok err errs _ <<<"$(reader_state "$status")"
    local mid1 answers=0
    mid1=$(mnt_id "$VIEW")
    timeout 5 ls "$VIEW" >/dev/null 2>&1 && answers=1
    local restarted=0
    [ "$st" = active ] && [ "$pid1" != "$pid0" ] && restarted=1
    local summary="restarted=$restarted (state $st after ${restart_ms} ms, NRestarts $nr0->$nr1), mount id ${mid0:-none}->${mid1:-none} answers=$answers, reader ok=$ok (after restart $((ok - ok_at_restart))) errors=$err [$errs] hung=$hung"
    echo "$summary"
    echo "reader: $(cat "$status")"
    local first_err
    first_err=$(python3 -c 'import json, sys; e = json.load(open(sys.argv[1])).get("first_errors") or []; print("; ".join(f"{x[\"errno\"]} in {x[\"call\"]} of {x[\"path\"]} at offset {x[\"offset\"]}, {x[\"at\"]} s" for x in e[:2]))' "$status" 2>/dev/null)
    [ -n "$first_err" ] && summary+=", first error: $first_err"
    journalctl -u "$SYNTH" -o cat --no-pager | tail -20
    local pass=1
    ((restarted)) && [ "$mid0" = "$mid1" ] && ((answers)) && ((err == 0)) && ((hung == 0)) &&
        ((ok > ok_at_restart)) || pass=0
    if ((!pass)); then
        # Leave a clean state for the checks after this one.
        kill -9 "$rpid" 2>/dev/null
        systemctl stop "$SYNTH"
        force_unmount "$VIEW"
        systemctl reset-failed "$SYNTH" 2>/dev/null
        timeout 30 systemctl start "$SYNTH" || echo "could not start $SYNTH again"
        fail "$summary" || return 1
    fi
    DETAIL=$summary
}

check_stop_leaves_no_mount() {
    local u mp notes=()
    for u in "$SYNTH:$VIEW" "$STRUCT:$STRUCT_VIEW"; do
        mp=${u#*:} u=${u%%:*}
        systemctl is-active -q "$u" || timeout 30 systemctl start "$u" || fail "$u could not be started" || return 1
        [ -n "$(mnt_line "$mp")" ] || fail "$u active without a mount" || return 1
        local s
        s=$(now_ms)
        timeout 30 systemctl stop "$u" || fail "systemctl stop $u failed" || return 1
        local ms=$(($(now_ms) - s)) st res
        st=$(unit_prop "$u" ActiveState)
        res=$(unit_prop "$u" Result)
        [ "$st" = inactive ] || fail "$u is $st after stop" || return 1
        [ "$res" = success ] || fail "$u result $res after stop" || return 1
        [ -z "$(mnt_line "$mp")" ] || fail "mount left on $mp: $(mnt_line "$mp")" || return 1
        stat "$mp" >/dev/null || fail "$mp unusable after stop" || return 1
        notes+=("$u stopped in ${ms} ms")
    done
    DETAIL="$(IFS=';'; echo "${notes[*]}"); no mount left"
}

# ---------------------------------------------------------------- setup and run

say "driver started at ${UPTIME_AT_START}s uptime on $(uname -r) ($KERNEL_LABEL)"
# The units name /usr/bin/musefs and run as the system user musefs.
install -m 755 "$P/bin/musefs" /usr/bin/musefs
install -m 644 -D "$P/musefs-sysusers.conf" /etc/sysusers.d/musefs.conf
systemd-sysusers /etc/sysusers.d/musefs.conf || say "systemd-sysusers failed"
say "user: $(id musefs 2>&1)"
install -m 644 "$P"/units/* /etc/systemd/system/
install -m 644 "$P"/conf/* /etc/musefs/
mkdir -p "$VIEW" "$STRUCT_VIEW"
systemctl daemon-reload

declare -A EXPECT=()
ORDER=()
while read -r name exp _; do
    [[ -z $name || $name == \#* ]] && continue
    EXPECT[$name]=$exp
    ORDER+=("$name")
done <"$P/checks.txt"

FAILED=0
for name in "${ORDER[@]}"; do
    fn=check_${name//-/_}
    DETAIL=""
    s=$(now_ms)
    if declare -F "$fn" >/dev/null; then
        "$fn" >"$R/checks/$name.log" 2>&1
        rc=$?
    else
        DETAIL="no such check in the driver"
        rc=1
    fi
    ms=$(($(now_ms) - s))
    exp=${EXPECT[$name]}
    # expected-fail:6.1,6.12 means expected to fail on those kernels only.
    if [[ $exp == expected-fail:* ]]; then
        [[ ,${exp#expected-fail:}, == *",$KERNEL_LABEL,"* ]] && exp=expected-fail || exp=pass
    fi
    [ "$STRICT" = 1 ] && exp=pass
    if ((rc == 0)); then
        status=pass
        [ "$exp" = expected-fail ] && status=xpass
    else
        status=fail
        [ "$exp" = expected-fail ] && status=xfail
    fi
    [ "$status" = fail ] && FAILED=1
    DETAIL=${DETAIL//$'\t'/ }
    DETAIL=${DETAIL//$'\n'/ }
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$ms" "$DETAIL" >>"$R/report.tsv"
    say "check $name: $status (${ms} ms) $DETAIL"
done
finish $((16 + FAILED))
