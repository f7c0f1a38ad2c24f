# Sandbox of the scan service (musefs-scan on NixOS, musefs-scan@<instance> on
# other hosts): systemd directive -> value.
#
# Pure data (no function, no pkgs), checked by tests/nix_files.rs against the
# `# BEGIN HARDENING` ... `# END HARDENING` block of systemd/musefs-scan@.service.
# The scanner only reads audio files and writes the store: no capability at all
# (empty bounding set), its own user namespace, no network, no device, and a
# system-call filter that also refuses privileged and resource-changing calls.
{
  NoNewPrivileges = "yes";
  CapabilityBoundingSet = "";
  AmbientCapabilities = "";
  PrivateUsers = "yes";
  PrivateMounts = "yes";
  ProtectSystem = "strict";
  ProtectHome = "read-only";
  PrivateTmp = "yes";
  PrivateDevices = "yes";
  DevicePolicy = "closed";
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
    "~@privileged @resources @mount @swap @reboot @raw-io @obsolete @cpu-emulation @debug"
  ];
  SystemCallErrorNumber = "EPERM";
  UMask = "0027";
}
