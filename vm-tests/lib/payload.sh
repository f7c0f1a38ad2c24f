# The per-run payload disk (/dev/vdb in the guest): the musefs binary, the unit files
# (systemd/ by default), their configs (vm-tests/conf), the sysusers entry, the fixtures and the guest driver (sourced, not run).
# shellcheck shell=bash

# fixtures_prepare: FLAC files made by ffmpeg (pink noise, so the data does not compress
# away: the passthrough check compares how many bytes the daemon read with the size
# served). Cached, keyed by this file. Sets FIXTURES (a directory with music/ and
# manifest.tsv: served path under the default template, original path, title).
fixtures_prepare() {
    local key
    key=$(hash_of "${BASH_SOURCE[0]}")
    FIXTURES=$VM_CACHE/fixtures/$key
    [ -s "$FIXTURES/manifest.tsv" ] && return 0
    log "fixtures: encoding FLAC files with ffmpeg"
    local d=$FIXTURES.tmp
    rm -rf "$d" && mkdir -p "$d/music"
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc=size=64x64:rate=1:duration=1" -frames:v 1 "$d/cover.png"
    # path | seconds | tags (k=v;...) | cover | served path (default template)
    local spec='ann/first/one.flac|4|title=One;artist=Ann;album_artist=Ann;album=First;track=1|cover|Ann/First/1 - One.flac
ann/first/two.flac|4|title=Two;artist=Ann;album_artist=Ann;album=First;track=2||Ann/First/2 - Two.flac
bob/second/three.flac|4|title=Three;artist=Bob;album_artist=Bob;album=Second;track=1||Bob/Second/1 - Three.flac
loose/four.flac|3|title=Four;album=Loose||Unknown/Loose/Unknown - Four.flac'
    local path secs tags cover served args kv
    while IFS='|' read -r path secs tags cover served; do
        mkdir -p "$d/music/$(dirname "$path")"
        args=(-nostdin -v error -y -f lavfi -i "anoisesrc=duration=$secs:color=pink:sample_rate=44100:amplitude=0.5:seed=7")
        if [ -n "$cover" ]; then
            args+=(-i "$d/cover.png" -map 0 -map 1 -c:v copy -disposition:v attached_pic)
        fi
        args+=(-ac 2 -c:a flac)
        IFS=';' read -ra kv <<<"$tags"
        for t in "${kv[@]}"; do args+=(-metadata "$t"); done
        ffmpeg "${args[@]}" "$d/music/$path" </dev/null
        printf '%s\t%s\t%s\n' "$served" "$path" "$(grep -o 'title=[^;]*' <<<"$tags" | cut -d= -f2-)" >>"$d/manifest.tsv"
    done <<<"$spec"
    local old
    for old in "$VM_CACHE"/fixtures/*; do
        if [ "$old" != "$d" ]; then rm -rf "$old"; fi
    done
    mv "$d" "$FIXTURES"
}

# payload_build DIR IMG LABEL RELEASE: assemble and pack the payload for one kernel.
payload_build() {
    local d=$1 img=$2 label=$3 release=$4
    rm -rf "$d"
    mkdir -p "$d"/{bin,units,conf}
    install -m 755 "$MUSEFS_BIN" "$d/bin/musefs"
    cp "$UNIT_DIR"/*.service "$d/units/"
    cp "$UNIT_DIR"/*.timer "$d/units/" 2>/dev/null || true
    local f
    for f in "$CONF_DIR"/*; do
        [ -f "$f" ] && [[ $f != *.service ]] && cp "$f" "$d/conf/"
    done
    install -m 755 "$VM_TESTS_DIR/guest/driver.sh" "$d/driver.sh"
    install -m 644 "$VM_TESTS_DIR/guest/reader.py" "$VM_TESTS_DIR/guest/musefs-sysusers.conf" \
        "$VM_TESTS_DIR/checks.txt" "$d/"
    cp -r "$FIXTURES/music" "$FIXTURES/manifest.tsv" "$d/"
    cat >"$d/params.env" <<EOP
KERNEL_LABEL=$label
EXPECT_RELEASE=$release
UNIT_TEMPLATE=$UNIT_TEMPLATE
SCAN_TEMPLATE=$SCAN_TEMPLATE
STRICT=${MUSEFS_VM_STRICT:-0}
MAX_EXPOSURE=${MUSEFS_VM_MAX_EXPOSURE-2.0}
BLAME=${MUSEFS_VM_BLAME:-0}
EOP
    local mb
    mb=$(($(du -sm "$d" | cut -f1) + 16))
    mke2fs -q -t ext4 -L vmtest -d "$d" -F "$img" "${mb}M" >/dev/null
}
