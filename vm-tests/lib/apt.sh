# A private apt (own state, cache and source list) for fetching kernels, with the
# Debian mirror read from the host's own apt configuration (sourced, not run).
# shellcheck shell=bash

APT_DIR=$VM_CACHE/apt
# The keyring of Debian's archive; installed by need_tools (debian-archive-keyring).
APT_KEYRING=${MUSEFS_VM_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
# Suites the kernel matrix draws from (see KERNEL_SUITE in kernels.sh).
APT_SUITES=(bookworm trixie trixie-backports)

# host_mirror: print the Debian archive URI configured on this host. apt itself parses
# the configuration (sources.list one-line format and deb822 .sources alike); we take
# the repository whose Release file is labelled "Debian", or failing that the first
# repository of a Debian suite that is not a security suite. MUSEFS_VM_MIRROR overrides.
host_mirror() {
    if [ -n "${MUSEFS_VM_MIRROR:-}" ]; then
        echo "${MUSEFS_VM_MIRROR%/}"
        return
    fi
    # shellcheck disable=SC2016 # apt expands these itself
    local fmt='$(TARGET_OF) $(REPO_URI) $(RELEASE) $(LABEL)' uri
    # With release information (after an apt-get update on the host): the Debian label.
    uri=$(apt-get indextargets --format "$fmt" 2>/dev/null |
        awk '$1 == "deb" && $4 == "Debian" { print $2; exit }' || true)
    if [ -z "$uri" ]; then
        # Without: the first repository of a Debian suite other than a security suite.
        uri=$(apt-get indextargets --no-release-info --format "$fmt" 2>/dev/null |
            awk '$1 == "deb" && $3 ~ /^(bullseye|bookworm|trixie|forky|duke|sid|oldstable|stable|testing|unstable)(-updates|-backports)?$/ { print $2; exit }' || true)
    fi
    [ -n "$uri" ] || die "no Debian archive found in the host's apt configuration (set MUSEFS_VM_MIRROR)"
    echo "${uri%/}"
}

# The options that make apt-get/apt-cache use only our private directories.
APT_OPTS=(
    -o "Dir::State=$APT_DIR/state" -o "Dir::Cache=$APT_DIR/cache"
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root -o Acquire::Languages=none
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false
    -o APT::Get::List-Cleanup=false -q
)

papt_get() { apt-get "${APT_OPTS[@]}" "$@"; }
papt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }

# apt_setup: write the private source list and refresh its indexes when they are
# older than a day (MUSEFS_VM_REFRESH=1 forces, MUSEFS_VM_OFFLINE=1 never refreshes).
# A failed refresh is not fatal when indexes from an earlier run exist.
apt_setup() {
    local mirror list stamp=$APT_DIR/updated
    mirror=$(host_mirror)
    mkdir -p "$APT_DIR"/state/lists/partial "$APT_DIR"/cache/archives/partial
    list=$(for s in "${APT_SUITES[@]}"; do
        echo "deb [signed-by=$APT_KEYRING] $mirror/ $s main"
    done)
    if [ "$list" != "$(cat "$APT_DIR/sources.list" 2>/dev/null)" ]; then
        echo "$list" >"$APT_DIR/sources.list"
        rm -f "$stamp"
    fi
    [ "${MUSEFS_VM_OFFLINE:-0}" = 1 ] && return 0
    if [ "${MUSEFS_VM_REFRESH:-0}" = 1 ] || [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
        log "refreshing the private apt indexes (${APT_SUITES[*]})"
        if papt_get update >"$APT_DIR/update.log" 2>&1; then
            touch "$stamp"
        elif [ -e "$stamp" ]; then
            log "apt index refresh failed; using the indexes of an earlier run ($APT_DIR/update.log)"
        else
            cat "$APT_DIR/update.log" >&2
            die "apt index refresh failed"
        fi
    fi
}

# pinned_closure PKG SUITE: the package with its version, then every dependency pinned
# with "(= version)", recursively: the pieces of one Debian kernel, whatever the
# packaging (one linux-image package, or image + binary + modules + base).
# Prints "name=version" lines.
pinned_closure() {
    local start=$1 suite=$2 ver
    ver=$(papt_cache show "$start/$suite" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
    [ -n "$ver" ] || return 1
    local -A seen=()
    local queue=("$start=$ver") item name v deps
    while ((${#queue[@]})); do
        item=${queue[0]}
        queue=("${queue[@]:1}")
        [ -n "${seen[$item]:-}" ] && continue
        seen[$item]=1
        echo "$item"
        name=${item%%=*} v=${item#*=}
        deps=$(papt_cache show "$name=$v" 2>/dev/null | awk '/^Depends:/ { sub(/^Depends: */, ""); print; exit }')
        while read -r dep; do
            [ -n "$dep" ] && queue+=("$dep")
        done < <(tr ',' '\n' <<<"$deps" | sed -n 's/^ *\([^ |]*\) *(= *\([^)]*\)).*/\1=\2/p')
    done
}
