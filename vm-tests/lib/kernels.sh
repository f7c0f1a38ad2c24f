# Debian kernels for the matrix: resolve, download (private apt), extract, and a tiny
# busybox initramfs that loads the few modules the guest needs (sourced, not run).
# shellcheck shell=bash

# Which suite each matrix label takes its kernel from, and what its version must look like.
declare -A KERNEL_SUITE=([6.1]=bookworm [6.12]=trixie [7]=trixie-backports)
declare -A KERNEL_VERSION_RE=([6.1]='^6\.1\.' [6.12]='^6\.12\.' [7]='^7\.')
# Modules the initramfs loads when they are not built in: the root disk (virtio, ext4 and
# the checksum it needs), FUSE (a module on 6.1), the guest's entropy source.
INITRD_MODULES=(virtio_pci virtio_blk crc32c_generic ext4 fuse virtio_rng)
# Bump when the way kernels are unpacked or the initramfs is built changes (the cache
# key has the packages, the module list and the init script besides).
INITRD_RECIPE=1

# kernel_prepare LABEL: make sure the kernel for LABEL is cached; sets KDIR (holding
# vmlinuz, initrd.img, config, release, packages).
kernel_prepare() {
    local label=$1 suite closure pkgs ver debs=$VM_CACHE/debs
    suite=${KERNEL_SUITE[$label]:-}
    [ -n "$suite" ] || die "unknown kernel '$label' (known: ${!KERNEL_SUITE[*]})"
    mkdir -p "$debs" "$VM_CACHE/kernels"
    local resolved=$VM_CACHE/kernels/$label.resolved
    local meta
    meta=$(papt_cache show "linux-image-amd64/$suite" 2>/dev/null | awk '/^Version:/ { print $2; exit }' || true)
    if [ -n "$meta" ] && [ "$(head -1 "$resolved" 2>/dev/null)" = "linux-image-amd64=$meta" ]; then
        closure=$(cat "$resolved") # resolved before, for this very version
    elif closure=$(pinned_closure linux-image-amd64 "$suite") && [ -n "$closure" ]; then
        echo "$closure" >"$resolved"
    elif [ -s "$resolved" ]; then
        closure=$(cat "$resolved")
        log "kernel $label: apt indexes unavailable, using the last resolution"
    else
        die "kernel $label: linux-image-amd64 not found in $suite"
    fi
    ver=$(head -1 <<<"$closure" | cut -d= -f2-)
    [[ $ver =~ ${KERNEL_VERSION_RE[$label]} ]] ||
        die "kernel $label: $suite offers linux-image-amd64 $ver, not a $label kernel"

    # Download what is missing.
    local item name v f missing=()
    pkgs=()
    while read -r item; do
        name=${item%%=*} v=${item#*=}
        [ -n "$(deb_file "$name" "$v")" ] || missing+=("$item")
    done <<<"$closure"
    if ((${#missing[@]})); then
        log "kernel $label: downloading ${missing[*]}"
        (cd "$debs" && papt_get download "${missing[@]}" >/dev/null) ||
            die "kernel $label: download failed"
    fi
    while read -r item; do
        name=${item%%=*} v=${item#*=}
        pkgs+=("$(deb_file "$name" "$v")")
    done <<<"$closure"

    local key
    key=$(hash_of "$VM_TESTS_DIR/guest/initramfs-init" -s "recipe $INITRD_RECIPE" \
        -s "$closure" -s "${INITRD_MODULES[*]}" -s "$(busybox_version)")
    KDIR=$VM_CACHE/kernels/$label-$ver-$key
    KDIR=${KDIR//\~/_}
    if [ -s "$KDIR/initrd.img" ]; then
        return 0
    fi
    log "kernel $label: extracting $ver and building the initramfs"
    local work=$KDIR.tmp
    rm -rf "$work" "$KDIR"
    mkdir -p "$work/x"
    for f in "${pkgs[@]}"; do dpkg-deb -x "$f" "$work/x"; done
    local mbase rel=""
    if compgen -G "$work/x/usr/lib/modules/*/kernel" >/dev/null; then
        mbase=$work/x/usr
    else
        mbase=$work/x
    fi
    for f in "$mbase"/lib/modules/*/kernel; do rel=$(basename "$(dirname "$f")"); done
    mkdir -p "$work/out"
    local vmlinuz="" config=""
    for f in "$work/x/boot/vmlinuz-$rel" "$mbase/lib/modules/$rel/vmlinuz"; do
        [ -e "$f" ] && vmlinuz=$f
    done
    for f in "$work/x/boot/config-$rel" "$mbase/lib/modules/$rel/config"; do
        [ -e "$f" ] && config=$f
    done
    if [ -z "$vmlinuz" ] || [ -z "$config" ]; then
        die "kernel $label: no vmlinuz/config in the packages"
    fi
    cp "$vmlinuz" "$work/out/vmlinuz"
    cp "$config" "$work/out/config"
    echo "$rel" >"$work/out/release"
    printf '%s\n' "$closure" >"$work/out/packages"
    depmod -b "$mbase" "$rel" || die "kernel $label: depmod failed"
    build_initramfs "$mbase" "$rel" "$work/initrd" "$work/out/initrd.img" "$work/out/modules"
    mv "$work/out" "$KDIR"
    rm -rf "$work"
    # Drop what older versions or older initramfs scripts left for this label.
    for f in "$VM_CACHE/kernels/$label"-*; do
        if [ -d "$f" ] && [ "$f" != "$KDIR" ]; then rm -rf "$f"; fi
    done
    prune_debs
}

# prune_debs: remove cached .deb files that no kernel resolution refers to any more.
prune_debs() {
    local f keep
    keep=$(cat "$VM_CACHE"/kernels/*.resolved 2>/dev/null | sed 's/:/%3a/; s/=/_/')
    for f in "$VM_CACHE"/debs/*.deb; do
        [ -e "$f" ] || continue
        local b=${f##*/}
        grep -qxF "${b%_*.deb}" <<<"$keep" || rm -f "$f"
    done
}

# deb_file NAME VERSION: the cached .deb of that package version, or nothing.
deb_file() {
    local f
    for f in "$VM_CACHE/debs/${1}_${2//:/%3a}_"*.deb; do
        [ -e "$f" ] && echo "$f" && return 0
    done
    return 0
}

busybox_version() { busybox 2>&1 | sed -n 1p; }

# build_initramfs MODBASE RELEASE WORKDIR OUT MODLIST
build_initramfs() {
    local mbase=$1 rel=$2 d=$3 out=$4 modlist=$5 m line path n=0
    mkdir -p "$d"/{bin,dev,proc,sys,newroot,lib/modules}
    cp /bin/busybox "$d/bin/busybox"
    cp "$VM_TESTS_DIR/guest/initramfs-init" "$d/init"
    chmod 755 "$d/init" "$d/bin/busybox"
    : >"$modlist"
    local -A have=()
    for m in "${INITRD_MODULES[@]}"; do
        while read -r line; do
            case $line in
            insmod\ *)
                path=${line#insmod }
                path=${path%% *}
                [ -n "${have[$path]:-}" ] && continue
                have[$path]=1
                n=$((n + 1))
                local base
                base=$(printf '%02d-%s' "$n" "$(basename "$path")")
                case $path in
                *.xz) xz -dc "$path" >"$d/lib/modules/${base%.xz}" ;;
                *.zst) zstd -qdc "$path" >"$d/lib/modules/${base%.zst}" ;;
                *.gz) gzip -dc "$path" >"$d/lib/modules/${base%.gz}" ;;
                *) cp "$path" "$d/lib/modules/$base" ;;
                esac
                echo "${path#"$mbase"/lib/modules/"$rel"/}" >>"$modlist"
                ;;
            builtin\ *) echo "builtin ${line#builtin }" >>"$modlist" ;;
            esac
        done < <(modprobe -d "$mbase" -S "$rel" --show-depends "$m" 2>/dev/null || echo "missing $m")
    done
    (cd "$d" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$out"
}
