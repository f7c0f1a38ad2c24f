# The guest root: a minimal Debian with systemd, fuse3 and the oracle tools, made with
# debootstrap and packed into an ext4 image with mke2fs -d (no loop mounts). Cached,
# keyed by suite, package list and the setup files (sourced, not run).
# shellcheck shell=bash

# The guest suite: trixie (systemd 257, glibc 2.41; the host's bookworm build of musefs
# needs glibc >= 2.34 and runs unchanged). MUSEFS_VM_SUITE=bookworm gives systemd 252.
GUEST_SUITE=${MUSEFS_VM_SUITE:-trixie}
GUEST_PACKAGES=(
    systemd systemd-sysv udev dbus kmod procps util-linux
    fuse3 sqlite3 flac python3-mutagen
)

# Bump when the way the root is built changes (the cache key has the suite, the package
# list and the guest files besides; cosmetic edits of this file do not rebuild).
ROOTFS_RECIPE=1

# rootfs_prepare: sets ROOT_IMG.
rootfs_prepare() {
    local key dir
    key=$(hash_of -s "recipe $ROOTFS_RECIPE" "$VM_TESTS_DIR/guest/base-setup.sh" \
        "$VM_TESTS_DIR/guest/vmtest-boot" "$VM_TESTS_DIR/guest/vmtest-boot.service" \
        "$VM_TESTS_DIR/guest/vmtest.target" -s "$GUEST_SUITE ${GUEST_PACKAGES[*]}")
    dir=$VM_CACHE/root/$GUEST_SUITE-$key
    ROOT_IMG=$dir/root.img
    [ -s "$ROOT_IMG" ] && return 0
    [ "${MUSEFS_VM_OFFLINE:-0}" = 1 ] && die "no cached guest root and MUSEFS_VM_OFFLINE=1"
    local mirror tree=$dir/tree t
    mirror=$(host_mirror)
    rm -rf "$dir"
    mkdir -p "$dir"
    log "guest root: debootstrap $GUEST_SUITE (first run only; a few minutes)"
    if ! timed t debootstrap --variant=minbase --include="$(
        IFS=,
        echo "${GUEST_PACKAGES[*]}"
    )" --keyring="$APT_KEYRING" "$GUEST_SUITE" "$tree" "$mirror/" >"$dir/debootstrap.log" 2>&1; then
        tail -30 "$dir/debootstrap.log" >&2
        rm -rf "$tree"
        die "debootstrap failed (log: $dir/debootstrap.log)"
    fi
    log "guest root: debootstrap took ${t}s"
    install -m 755 "$VM_TESTS_DIR/guest/vmtest-boot" "$tree/usr/local/sbin/vmtest-boot"
    install -m 644 "$VM_TESTS_DIR/guest/vmtest-boot.service" "$VM_TESTS_DIR/guest/vmtest.target" \
        "$tree/etc/systemd/system/"
    install -m 755 "$VM_TESTS_DIR/guest/base-setup.sh" "$tree/tmp/base-setup.sh"
    chroot "$tree" /tmp/base-setup.sh >>"$dir/debootstrap.log" 2>&1 ||
        die "guest root setup failed (log: $dir/debootstrap.log)"
    rm -f "$tree/tmp/base-setup.sh"
    local mb
    mb=$(du -sm "$tree" | cut -f1)
    mb=$((mb + mb / 2 + 256))
    mke2fs -q -t ext4 -L musefs-vm-root -d "$tree" -F "$ROOT_IMG.tmp" "${mb}M" >/dev/null ||
        die "mke2fs of the guest root failed"
    mv "$ROOT_IMG.tmp" "$ROOT_IMG"
    rm -rf "$tree"
    log "guest root: $(du -h --apparent-size "$ROOT_IMG" | cut -f1) image ready"
    local old
    for old in "$VM_CACHE/root/$GUEST_SUITE"-*; do
        if [ "$old" != "$dir" ]; then rm -rf "$old"; fi
    done
}
