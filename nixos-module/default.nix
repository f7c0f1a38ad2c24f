# services.musefs: serve music libraries re-tagged from a SQLite store.
#
# Each entry of services.musefs.mounts becomes one musefs@<name>.service with
# its config file /etc/musefs/<name>.toml, the same layout as the plain units
# in systemd/ use on other hosts. services.musefs.scan adds musefs-scan.service
# and its timer. docs/NIXOS.md documents every option and has a full example.
#
# The sandbox directives come from ./hardening.nix and ./scan-hardening.nix and
# the other path-free directives from ./service.nix: pure data that
# tests/nix_files.rs compares with the plain units, so the two cannot drift.
# Do not write sandbox directives in this file.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    types
    literalExpression
    ;

  cfg = config.services.musefs;
  settingsFormat = pkgs.formats.toml { };

  hardening = import ./hardening.nix;
  scanHardening = import ./scan-hardening.nix;
  common = import ./service.nix;

  stateDir = "/var/lib/musefs";
  defaultStore = "${stateDir}/store.db";

  # The privileged steps enter PID 1's mount namespace: a `+` step of a unit
  # with ProtectSystem= runs in the unit's own namespace, where a mount would be
  # invisible to the host (SERVICE.md, "privilege split").
  nsenter = "${pkgs.util-linux}/bin/nsenter --target=1 --mount --";
  musefsBin = "${cfg.package}/bin/musefs";

  dropNulls = lib.filterAttrs (_: v: v != null);

  # services.musefs.settings as written to every config file: null values and
  # an empty `library` are left out (TOML has no null; no library = no confinement).
  shared = lib.filterAttrs (n: v: v != null && !(n == "library" && v == [ ])) cfg.settings;

  # One mount's config: shared settings < the mount's typed options < its own
  # extra settings (tables such as `fallbacks` are merged key by key).
  mountSettings =
    m:
    lib.foldl' lib.recursiveUpdate { } [
      shared
      (dropNulls {
        store = m.store;
        mountpoint = m.mountPoint;
        template = m.template;
        mode = m.mode;
        default_fallback = m.defaultFallback;
        fallbacks = if m.fallbacks == { } then null else m.fallbacks;
        skip_on_missing = m.skipOnMissing;
        owner = m.owner;
        group = m.group;
        file_mode = m.fileMode;
        dir_mode = m.dirMode;
        allow_other = m.allowOther;
        threads = m.threads;
      })
      m.settings
    ];

  enabledMounts = lib.filterAttrs (_: m: m.enable) cfg.mounts;
  rendered = lib.mapAttrs (_: mountSettings) enabledMounts;
  configFiles = lib.mapAttrs (name: s: settingsFormat.generate "musefs-${name}.toml" s) rendered;
  configPath = name: "/etc/musefs/${name}.toml";

  scanSettings = shared // {
    library = cfg.scan.paths;
  };
  scanConfigFile = settingsFormat.generate "musefs-scan.toml" scanSettings;

  # A store outside the state directory needs its directory created (tmpfiles)
  # and made writable in the sandbox (SQLite writes the -wal/-shm files beside it).
  outsideState = store: !(lib.hasPrefix "${stateDir}/" store);
  storeDirs = lib.unique (
    map (s: dirOf s.store) (lib.attrValues rendered)
    ++ lib.optional cfg.scan.enable (dirOf scanSettings.store)
  );
  writableStore =
    store: lib.optionalAttrs (outsideState store) { ReadWritePaths = [ (dirOf store) ]; };

  tmpfilesPath = lib.escapeC [
    "\\"
    " "
  ];

  mountService =
    name: m:
    let
      s = rendered.${name};
      file = configPath name;
    in
    lib.nameValuePair "musefs@${name}" {
      description = "musefs library view ${name}";
      after = [ "local-fs.target" ];
      wantedBy = [ "multi-user.target" ];
      environment.MUSEFS_CONFIG = file;
      # Settings the kernel or the mount fixed at mount time need a new mount;
      # the rest (template, fallbacks, ownership, modes, caches, library) is
      # re-read on SIGHUP, so a switch only reloads and the mount stays.
      restartTriggers = [
        (builtins.toJSON {
          inherit (s) store mountpoint;
          mode = s.mode or null;
          allow_other = s.allow_other or null;
          threads = s.threads or null;
        })
      ];
      reloadTriggers = [ configFiles.${name} ];
      serviceConfig =
        common.mount
        // hardening
        // {
          ExecStartPre = "+${nsenter} ${musefsBin} mount-helper --config ${file}";
          ExecStart = "${musefsBin} serve --config ${file}";
          ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
          ExecStopPost = "+${nsenter} ${musefsBin} unmount-helper --config ${file}";
        }
        // writableStore s.store;
    };

  mountModule =
    { name, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
          description = "Whether to run the musefs@${name} service for this mount.";
        };
        mountPoint = mkOption {
          type = types.str;
          example = "/srv/music-view";
          description = ''
            Directory the view is mounted on (key `mountpoint`). It is created
            at boot if missing.
          '';
        };
        store = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/srv/musefs/store.db";
          description = ''
            The SQLite store to serve (key `store`); null takes
            {option}`services.musefs.settings.store`.
          '';
        };
        template = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "$albumartist/$album/$tracknumber - $title";
          description = "Path template (key `template`, docs/TEMPLATES.md); null: from settings, else musefs' default.";
        };
        mode = mkOption {
          type = types.nullOr (
            types.enum [
              "synthesis"
              "structure-only"
            ]
          );
          default = null;
          description = ''
            `synthesis` serves fresh tags from the store followed by the original
            audio bytes; `structure-only` serves the original files byte for byte
            under the templated tree, through FUSE passthrough when the kernel
            offers it. Null: from settings, else synthesis.
          '';
        };
        defaultFallback = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "Unknown";
          description = "Value used in paths for a field a track lacks (key `default_fallback`).";
        };
        fallbacks = mkOption {
          type = types.attrsOf types.str;
          default = { };
          example = {
            albumartist = "Various Artists";
          };
          description = "Per-field fallback values (table `fallbacks`), merged over those in settings.";
        };
        skipOnMissing = mkOption {
          type = types.nullOr types.bool;
          default = null;
          description = "Leave out tracks missing a field outside optional `[...]` sections (key `skip_on_missing`).";
        };
        owner = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "jellyfin";
          description = "Owner of every file and directory: user name or uid (key `owner`); null: the musefs user.";
        };
        group = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "audio";
          description = "Group of every file and directory: group name or gid (key `group`); null: the musefs group.";
        };
        fileMode = mkOption {
          type = types.nullOr (types.strMatching "(0o)?[0-7]{1,4}");
          default = null;
          example = "0440";
          description = "Permission bits of files, octal (key `file_mode`); null: 0444.";
        };
        dirMode = mkOption {
          type = types.nullOr (types.strMatching "(0o)?[0-7]{1,4}");
          default = null;
          example = "0550";
          description = "Permission bits of directories, octal (key `dir_mode`); null: 0555.";
        };
        allowOther = mkOption {
          type = types.nullOr types.bool;
          default = null;
          example = true;
          description = ''
            Let users other than the musefs user read the mount (key
            `allow_other`); the kernel then checks owner, group and modes.
            Media servers running as their own user need it. Null: from
            settings, else false.
          '';
        };
        threads = mkOption {
          type = types.nullOr (types.ints.between 1 64);
          default = null;
          description = "FUSE worker threads (key `threads`); null: from settings, else 4.";
        };
        settings = mkOption {
          type = settingsFormat.type;
          default = { };
          example = {
            header_cache_mib = 64;
          };
          description = ''
            Further keys of this mount's config file, written last (they win over
            the options above and over {option}`services.musefs.settings`).
          '';
        };
      };
    };
in
{
  options.services.musefs = {
    enable = mkEnableOption "musefs, a read-only FUSE view of a music library re-tagged from a SQLite store";

    package = mkOption {
      type = types.package;
      default = pkgs.musefs;
      defaultText = literalExpression "pkgs.musefs";
      description = "The musefs package. The flake's nixosModules.default sets its own package as the default.";
    };

    settings = mkOption {
      type = types.submodule {
        freeformType = settingsFormat.type;
        options = {
          store = mkOption {
            type = types.str;
            default = defaultStore;
            description = "The SQLite store every mount serves and the scan writes, unless a mount sets its own.";
          };
          library = mkOption {
            type = types.listOf types.str;
            default = cfg.scan.paths;
            defaultText = literalExpression "config.services.musefs.scan.paths";
            description = ''
              Roots of the backing library (key `library`): the scan reads them,
              and mounts serve only files below them.
            '';
          };
        };
      };
      default = { };
      example = {
        template = "$albumartist/$album/$tracknumber - $title";
        default_fallback = "Unknown";
        header_cache_mib = 64;
      };
      description = ''
        Settings written into every config file under /etc/musefs (RFC 42
        freeform: any key of the musefs config file, see docs/SERVICE.md).
        Each mount's own options and settings override them.
      '';
    };

    mounts = mkOption {
      type = types.attrsOf (types.submodule mountModule);
      default = { };
      example = literalExpression ''
        {
          view = { mountPoint = "/srv/music-view"; allowOther = true; };
          originals = { mountPoint = "/srv/music-tree"; mode = "structure-only"; };
        }
      '';
      description = "The views to mount: one hardened musefs@<name> service each.";
    };

    scan = {
      enable = mkEnableOption "the scan service (musefs-scan.service) and its timer";
      paths = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "/srv/music" ];
        description = ''
          Library roots to scan into the store. They are also the default
          {option}`services.musefs.settings.library`. The musefs user must be
          able to read them (add it to the group that owns the files with
          `users.users.musefs.extraGroups`).
        '';
      };
      schedule = mkOption {
        type = types.str;
        default = common.timer.OnCalendar;
        example = "hourly";
        description = "When to rescan (systemd OnCalendar= syntax). Unchanged files are skipped.";
      };
      onBoot = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Also scan at every boot. Mounts do not wait for it: a mount started
          before the first scan serves an empty tree and picks the store up
          when it appears.
        '';
      };
    };
  };

  config = mkIf cfg.enable {
    assertions =
      [
        {
          assertion = !cfg.scan.enable || cfg.scan.paths != [ ];
          message = "services.musefs.scan.enable needs services.musefs.scan.paths.";
        }
        {
          assertion = lib.hasPrefix "/" cfg.settings.store;
          message = "services.musefs.settings.store must be an absolute path.";
        }
        {
          assertion = builtins.match ".*[[:space:]\"].*" cfg.settings.store == null;
          message = "services.musefs.settings.store: no white space or quotes in the store path, please.";
        }
        {
          assertion =
            let
              mps = map (m: m.mountPoint) (lib.attrValues enabledMounts);
            in
            lib.length mps == lib.length (lib.unique mps);
          message = "services.musefs.mounts: two mounts share a mountPoint.";
        }
      ]
      ++ lib.concatLists (
        lib.mapAttrsToList (name: m: [
          {
            assertion = builtins.match "[A-Za-z0-9_.-]+" name != null;
            message = "services.musefs.mounts.${name}: use letters, digits, '.', '_' and '-' in mount names.";
          }
          {
            assertion = lib.hasPrefix "/" m.mountPoint;
            message = "services.musefs.mounts.${name}.mountPoint must be an absolute path.";
          }
          {
            assertion = lib.hasPrefix "/" (rendered.${name}.store or "/");
            message = "services.musefs.mounts.${name}.store must be an absolute path.";
          }
          {
            # ReadWritePaths= splits on white space.
            assertion = builtins.match ".*[[:space:]\"].*" (rendered.${name}.store or "") == null;
            message = "services.musefs.mounts.${name}.store: no white space or quotes in the store path, please.";
          }
        ]) enabledMounts
      );

    users.users.musefs = {
      isSystemUser = true;
      group = "musefs";
      home = stateDir;
      description = "musefs service user";
    };
    users.groups.musefs = { };

    environment.systemPackages = [ cfg.package ];

    environment.etc = lib.mapAttrs' (
      name: file: lib.nameValuePair "musefs/${name}.toml" { source = file; }
    ) configFiles;

    systemd.tmpfiles.rules =
      # Mountpoints: created when missing, never chowned or chmodded (a mounted
      # view is read-only and owned by the view's owner).
      map (m: "d ${tmpfilesPath m.mountPoint} - - - -") (lib.attrValues enabledMounts)
      ++ map (d: "d ${tmpfilesPath d} 0750 musefs musefs -") storeDirs;

    systemd.services =
      lib.mapAttrs' mountService enabledMounts
      // lib.optionalAttrs cfg.scan.enable {
        musefs-scan = {
          description = "musefs library scan";
          after = [ "local-fs.target" ];
          # No ordering against the mounts in either direction: they tolerate
          # a store that does not exist yet, and a long scan must not hold them.
          wantedBy = lib.optional cfg.scan.onBoot "multi-user.target";
          restartIfChanged = false;
          environment.MUSEFS_CONFIG = "${scanConfigFile}";
          serviceConfig =
            common.scan
            // scanHardening
            // {
              ExecStart = "${musefsBin} scan --config ${scanConfigFile}";
            }
            // writableStore scanSettings.store;
        };
      };

    systemd.timers = lib.optionalAttrs cfg.scan.enable {
      musefs-scan = {
        description = "Scheduled musefs library scan";
        wantedBy = [ "timers.target" ];
        timerConfig = common.timer // {
          OnCalendar = cfg.scan.schedule;
        };
      };
    };
  };
}
