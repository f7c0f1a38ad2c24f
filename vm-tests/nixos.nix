# The NixOS VM test of services.musefs, wired into the flake as checks.<system>.nixos:
#
#   nix build .#checks.x86_64-linux.nixos -L
#
# One machine with the module enabled: a synthesis view and a structure-only view
# of one store, and the scan service. Fixtures are made inside the VM by ffmpeg and
# read back through the mounts by ffprobe. Checks that test what a Debian VM test
# tests carry its name (vm-tests/checks.txt); docs/NIXOS.md lists them all.
{ pkgs, module }:

let
  # Reads one file through a mount in a loop for 25 s, one line per read ("ok" or
  # "err <exit code>"), from its own transient unit (so from outside musefs' units).
  reader = pkgs.writeShellScript "musefs-reader" ''
    export PATH=${pkgs.coreutils}/bin
    end=$(($(date +%s) + 25))
    while [ "$(date +%s)" -lt "$end" ]; do
      if timeout -k 2 10 sha256sum "$1" >/dev/null; then echo ok; else echo "err $?"; fi
    done >>/run/musefs-reader.log
  '';
in
pkgs.testers.runNixOSTest {
  name = "musefs";

  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ module ];

      virtualisation.memorySize = 1536;
      virtualisation.cores = 2;

      environment.systemPackages = [
        pkgs.ffmpeg-headless
        pkgs.sqlite
      ];
      users.users.alice = {
        isNormalUser = true;
        extraGroups = [ "audio" ];
      };
      users.users.bob.isNormalUser = true;
      # The library is readable only through the group music, as docs/NIXOS.md
      # advises: the scan (PrivateUsers=yes) and the servers read it through
      # the musefs user's supplementary group.
      users.groups.music = { };
      users.users.musefs.extraGroups = [ "music" ];
      systemd.tmpfiles.rules = [ "d /srv/music 0750 root music -" ];

      services.musefs = {
        enable = true;
        settings.template = "$albumartist/$album/$title";
        scan = {
          enable = true;
          paths = [ "/srv/music" ];
          # Off so that the mounts demonstrably start before the first scan.
          onBoot = false;
        };
        mounts.view = {
          mountPoint = "/srv/view";
          allowOther = true;
          owner = "musefs";
          group = "audio";
          fileMode = "0440";
          dirMode = "0550";
        };
        mounts.struct = {
          mountPoint = "/srv/struct";
          mode = "structure-only";
          allowOther = true;
        };
      };
    };

  testScript = ''
    import json
    import re
    import shlex

    # (file under /srv/music, artist, album artist, album, title)
    FIXTURES = [
        ("ann/1.flac", "Ann", "Ann", "First", "One"),
        ("ann/2.flac", "Ann", "Ann", "First", "Two"),
        ("bob/1.flac", "Bob", "Bob", "Second", "Three"),
        ("cid/1.mp3", "Cid", "Cid", "Third", "Four"),
    ]
    DB = "/var/lib/musefs/store.db"
    VIEW = "/srv/view"
    STRUCT = "/srv/struct"
    SYNTH_UNIT = "musefs@view.service"
    STRUCT_UNIT = "musefs@struct.service"
    SCAN_UNIT = "musefs-scan.service"
    MAX_EXPOSURE = 2.0


    def sh(*args):
        return " ".join(shlex.quote(a) for a in args)


    def sql(query):
        # As the musefs user, like any store editor: files SQLite creates stay its own.
        out = machine.succeed(sh("runuser", "-u", "musefs", "--", "sqlite3", "-bail", "-json", DB, query))
        return json.loads(out) if out.strip() else []


    def unit_prop(unit, prop):
        return machine.succeed(sh("systemctl", "show", "-p", prop, "--value", unit)).strip()


    def mount_id(path):
        return machine.succeed(sh("findmnt", "-n", "-o", "ID", path)).strip()


    def tree(root):
        out = machine.succeed(sh("find", root, "-type", "f", "-printf", "%P\n"))
        return sorted(line for line in out.splitlines() if line)


    def probe(path, user=None):
        cmd = sh("ffprobe", "-v", "error", "-of", "json", "-show_entries", "format_tags", path)
        if user is not None:
            cmd = sh("runuser", "-u", user, "--") + " " + cmd
        tags = json.loads(machine.succeed(cmd)).get("format", {}).get("tags", {})
        return {k.lower(): v for k, v in tags.items()}


    def store_view():
        # Served path under this test's template -> (backing file, tags), from the store.
        rows = sql(
            "SELECT t.path AS path, g.key AS key, g.value AS value"
            " FROM tracks t JOIN tags g ON g.track_id = t.id"
            " WHERE g.ordinal = 0 AND g.key IN ('title', 'artist', 'album', 'albumartist')"
        )
        by_path = {}
        for r in rows:
            by_path.setdefault(r["path"], {})[r["key"]] = r["value"]
        view = {}
        for path, tags in by_path.items():
            ext = path.rsplit(".", 1)[1]
            view[tags["albumartist"] + "/" + tags["album"] + "/" + tags["title"] + "." + ext] = (path, tags)
        return view


    def assert_tags_match_store(root):
        view = store_view()
        assert tree(root) == sorted(view), f"tree {tree(root)} != store {sorted(view)}"
        for served, (_backing, tags) in view.items():
            got = probe(root + "/" + served)
            for key in ("title", "artist", "album"):
                assert got.get(key) == tags[key], (
                    f"{served}: {key} {got.get(key)!r} through the mount, {tags[key]!r} in the store"
                )


    start_all()

    with subtest("boot"):
        machine.wait_for_unit("multi-user.target")
        release = machine.succeed("uname -r").strip()
        print(f"kernel {release}; " + machine.succeed("systemctl --version | head -1").strip())

    with subtest("mount-before-first-scan"):
        # scan.onBoot is off: both mounts started at boot with no store yet.
        machine.wait_for_unit(SYNTH_UNIT)
        machine.wait_for_unit(STRUCT_UNIT)
        assert unit_prop(SCAN_UNIT, "ExecMainStartTimestampMonotonic") == "0", "the scan already ran"
        machine.succeed(f"findmnt -n {VIEW}")
        assert tree(VIEW) == [], f"files before the first scan: {tree(VIEW)}"

    with subtest("scan-seeds-store"):
        for rel, artist, albumartist, album, title in FIXTURES:
            machine.succeed(
                sh("mkdir", "-p", "/srv/music/" + rel.rsplit("/", 1)[0])
                + " && "
                + sh(
                    "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                    "-metadata", "title=" + title, "-metadata", "artist=" + artist,
                    "-metadata", "album_artist=" + albumartist, "-metadata", "album=" + album,
                    "/srv/music/" + rel,
                )
            )
        # A oneshot: `systemctl start` returns when the scan has finished, and fails if it did.
        machine.succeed(f"systemctl start {SCAN_UNIT}")
        assert unit_prop(SCAN_UNIT, "Result") == "success"
        n = sql("SELECT count(*) AS n FROM tracks")[0]["n"]
        assert n == len(FIXTURES), f"the store has {n} tracks, expected {len(FIXTURES)}"
        owner = machine.succeed(f"stat -c %U {DB}").strip()
        assert owner == "musefs", f"the store belongs to {owner}"
        # The running mounts pick the new store up without a restart.
        machine.wait_until_succeeds(f"test $(find {VIEW} -type f | wc -l) -eq {len(FIXTURES)}", timeout=60)
        machine.wait_until_succeeds(f"test $(find {STRUCT} -type f | wc -l) -eq {len(FIXTURES)}", timeout=60)
        assert tree(VIEW) == sorted(store_view())

    with subtest("unit-verify"):
        machine.succeed(f"systemd-analyze verify {SYNTH_UNIT} {STRUCT_UNIT} {SCAN_UNIT} musefs-scan.timer")

    with subtest("unit-active-once-mounted"):
        # Type=notify: `systemctl start` returns on READY=1, which musefs sends only
        # once the mount answers, so the mount must be there the moment it returns.
        machine.succeed(f"systemctl stop {SYNTH_UNIT}")
        machine.fail(f"findmnt -n {VIEW}")
        machine.succeed(f"systemctl start {SYNTH_UNIT} && findmnt -n {VIEW} && ls {VIEW}/Ann/First")
        assert unit_prop(SYNTH_UNIT, "ActiveState") == "active"

    with subtest("mount-visible-outside-unit"):
        # In PID 1's mount namespace (the host's), and listed from another unit.
        fstype = machine.succeed(f"findmnt -n --task 1 -o FSTYPE {VIEW}").strip()
        assert fstype in ("fuse", "fuse.musefs"), f"{VIEW} has type {fstype}"
        other = machine.succeed(
            f"systemd-run --quiet --wait --pipe --collect -- $(command -v find) {VIEW} -type f -printf '%P\\n'"
        )
        seen = sorted(line for line in other.splitlines() if line)
        assert seen == sorted(store_view()), f"another unit sees {seen}"

    with subtest("sql-tag-edit-visible"):
        rows = sql("UPDATE tags SET value = 'Deux (edited)' WHERE key = 'title' AND value = 'Two'; SELECT changes() AS n")
        assert rows == [{"n": 1}], f"the UPDATE changed {rows}"
        new = f"{VIEW}/Ann/First/Deux (edited).flac"
        machine.wait_until_succeeds(
            sh("test", "-e", new) + " && " + sh("test", "!", "-e", f"{VIEW}/Ann/First/Two.flac"), timeout=30
        )
        assert probe(new)["title"] == "Deux (edited)"
        # Every track's tags through the mount (ffprobe) equal the store's.
        assert_tags_match_store(VIEW)

    with subtest("sql-edit-invalidates-cache"):
        f = f"{VIEW}/Bob/Second/Three.flac"
        before = machine.succeed(sh("sha256sum", f)).split()[0]
        assert "genre" not in probe(f)
        rows = sql(
            "INSERT INTO tags (track_id, key, ordinal, value)"
            " SELECT track_id, 'genre', 0, 'Krautrock' FROM tags WHERE key = 'title' AND value = 'Three';"
            " SELECT changes() AS n"
        )
        assert rows == [{"n": 1}], f"the INSERT added {rows}"
        # No cache drop: only musefs' kernel cache invalidation can make this visible.
        machine.wait_until_succeeds(
            sh("ffprobe", "-v", "error", "-of", "json", "-show_entries", "format_tags", f) + " | grep -q Krautrock",
            timeout=30,
        )
        after = machine.succeed(sh("sha256sum", f)).split()[0]
        assert after != before, "same bytes after the edit"
        size = int(machine.succeed(sh("stat", "-c", "%s", f)))
        nbytes = int(machine.succeed("wc -c < " + shlex.quote(f)))
        assert size == nbytes, f"stat says {size} bytes, read {nbytes}"

    with subtest("allow-other-read"):
        f = f"{VIEW}/Ann/First/One.flac"
        assert machine.succeed(sh("stat", "-c", "%U %G %a", f)).strip() == "musefs audio 440"
        assert machine.succeed(sh("stat", "-c", "%U %G %a", f"{VIEW}/Ann")).strip() == "musefs audio 550"
        # alice is in group audio: allowed by allow_other and the modes; bob is not.
        assert probe(f, user="alice")["title"] == "One"
        machine.fail(sh("runuser", "-u", "bob", "--", "cat", f))

    with subtest("structure-only-passthrough"):
        major, minor = (int(x) for x in release.split("-")[0].split(".")[:2])
        assert (major, minor) >= (6, 9), f"kernel {release} has no FUSE passthrough (6.9 or later needed)"
        for served, (backing, _tags) in store_view().items():
            a = machine.succeed(sh("sha256sum", f"{STRUCT}/{served}")).split()[0]
            b = machine.succeed(sh("sha256sum", backing)).split()[0]
            assert a == b, f"{STRUCT}/{served} differs from {backing}"
        log = machine.succeed(f"journalctl -b -u {STRUCT_UNIT} -o cat --no-pager")
        assert "FUSE passthrough available" in log, "no 'FUSE passthrough available' in the journal"
        assert "passthrough registration failed" not in log, "a passthrough registration failed"

    with subtest("reload-keeps-mount"):
        mid = mount_id(VIEW)
        pid = unit_prop(SYNTH_UNIT, "MainPID")
        machine.succeed(f"systemctl reload {SYNTH_UNIT}")
        machine.sleep(2)
        assert unit_prop(SYNTH_UNIT, "ActiveState") == "active"
        assert unit_prop(SYNTH_UNIT, "MainPID") == pid, "SIGHUP restarted the server"
        assert mount_id(VIEW) == mid, "SIGHUP replaced the mount"
        assert tree(VIEW) == sorted(store_view())

    with subtest("security-exposure"):
        for unit in (SYNTH_UNIT, STRUCT_UNIT, SCAN_UNIT):
            out = machine.succeed(f"systemd-analyze security --no-pager {unit}")
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
            assert m is not None, f"no exposure figure for {unit}: {out[-300:]}"
            print(f"{unit}: exposure {m.group(1)}")
            assert float(m.group(1)) <= MAX_EXPOSURE, f"{unit}: exposure {m.group(1)} above {MAX_EXPOSURE}"

    with subtest("scan-timer-scheduled"):
        machine.succeed("systemctl is-active musefs-scan.timer")
        nxt = unit_prop("musefs-scan.timer", "NextElapseUSecRealtime")
        assert nxt not in ("", "0", "n/a"), f"the scan timer is not scheduled ({nxt!r})"

    with subtest("sigkill-restart-same-mount"):
        f = f"{VIEW}/Ann/First/One.flac"
        mid0 = mount_id(VIEW)
        pid0 = unit_prop(SYNTH_UNIT, "MainPID")
        nr0 = int(unit_prop(SYNTH_UNIT, "NRestarts"))
        machine.succeed("rm -f /run/musefs-reader.log")
        machine.succeed(sh("systemd-run", "--unit=musefs-reader", "--collect", "${reader}", f))
        machine.wait_until_succeeds("test $(grep -c ok /run/musefs-reader.log) -ge 2", timeout=30)
        machine.succeed(f"systemctl kill -s KILL --kill-whom=main {SYNTH_UNIT}")
        machine.wait_until_succeeds(
            f"pid=$(systemctl show -p MainPID --value {SYNTH_UNIT});"
            f" [ $pid != 0 ] && [ $pid != {pid0} ] && systemctl is-active {SYNTH_UNIT}",
            timeout=30,
        )
        machine.wait_until_fails("systemctl is-active musefs-reader.service", timeout=60)
        reads = machine.succeed("cat /run/musefs-reader.log").split()
        assert "err" not in reads, f"reads failed across the restart: {reads.count('err')} of {len(reads)}"
        assert reads.count("ok") > 2, f"only {reads.count('ok')} reads"
        assert int(unit_prop(SYNTH_UNIT, "NRestarts")) > nr0, "no automatic restart"
        assert mount_id(VIEW) == mid0, "the restart replaced the mount"
        assert_tags_match_store(VIEW)

    with subtest("stop-leaves-no-mount"):
        for unit, mountpoint in ((SYNTH_UNIT, VIEW), (STRUCT_UNIT, STRUCT)):
            machine.succeed(f"systemctl stop {unit}")
            assert unit_prop(unit, "ActiveState") == "inactive"
            assert unit_prop(unit, "Result") == "success", f"{unit}: result {unit_prop(unit, 'Result')}"
            machine.fail(f"findmnt -n {mountpoint}")
            machine.succeed(f"stat {mountpoint}")
  '';
}
