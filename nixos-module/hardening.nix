# Sandbox of musefs@<name>.service: systemd directive -> value.
#
# Pure data (no function, no pkgs): the NixOS module merges it into each mount's
# serviceConfig, and tests/nix_files.rs checks that it equals the lines between
# `# BEGIN HARDENING` and `# END HARDENING` in systemd/musefs@.service, so the
# plain unit and the NixOS unit cannot drift apart. A directive given on several
# lines of the unit (SystemCallFilter) is a list here, one element per line, in
# the same order. Change both files together; docs/SERVICE.md explains each line.
{
  NoNewPrivileges = "yes";
  CapabilityBoundingSet = "CAP_SYS_ADMIN";
  AmbientCapabilities = "CAP_SYS_ADMIN";
  ProtectSystem = "strict";
  ProtectHome = "read-only";
  PrivateTmp = "yes";
  PrivateDevices = "yes";
  DevicePolicy = "closed";
  DeviceAllow = "/dev/fuse rw";
  PrivateNetwork = "yes";
  IPAddressDeny = "any";
  RestrictAddressFamilies = "AF_UNIX";
  RestrictNamespaces = "yes";
  RestrictRealtime = "yes";
  RestrictSUIDSGID = "yes";
  LockPersonality = "yes";
  MemoryDenyWriteExecute = "yes";
  ProtectKernelTunables = "yes";
  ProtectKernelModules = "yes";
  ProtectKernelLogs = "yes";
  ProtectControlGroups = "yes";
  ProtectClock = "yes";
  ProtectHostname = "yes";
  ProtectProc = "invisible";
  ProcSubset = "pid";
  KeyringMode = "private";
  RemoveIPC = "yes";
  SystemCallArchitectures = "native";
  SystemCallFilter = [
    "@system-service"
    "~@mount @swap @reboot @raw-io @obsolete @cpu-emulation @debug"
  ];
  SystemCallErrorNumber = "EPERM";
  UMask = "0077";
}
