# The path-free, non-sandbox directives of the musefs units: systemd directive ->
# value, per unit. Pure data (no function, no pkgs). The NixOS module uses these
# values; tests/nix_files.rs checks them against the [Service] and [Timer] sections
# of the plain units in systemd/ (musefs@.service, musefs-scan@.service,
# musefs-scan@.timer). What the module computes itself (Exec* lines with store
# paths, Environment, ReadWritePaths for a store outside /var/lib/musefs, the
# timer's OnCalendar from services.musefs.scan.schedule) is not listed here.
{
  mount = {
    Type = "notify";
    NotifyAccess = "all";
    Restart = "always";
    RestartSec = "1s";
    TimeoutStartSec = "5min";
    FileDescriptorStoreMax = "4";
    WatchdogSec = "30s";
    User = "musefs";
    Group = "musefs";
    StateDirectory = "musefs";
    StateDirectoryMode = "0750";
  };
  scan = {
    Type = "oneshot";
    TimeoutStartSec = "infinity";
    User = "musefs";
    Group = "musefs";
    StateDirectory = "musefs";
    StateDirectoryMode = "0750";
    Nice = "10";
    IOSchedulingClass = "idle";
  };
  timer = {
    OnCalendar = "daily";
    RandomizedDelaySec = "30min";
    Persistent = "true";
  };
}
