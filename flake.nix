{
  description = "musefs: a read-only FUSE view of a music library, re-tagged from a SQLite store";

  # No flake.lock is committed: musefs is developed on machines without network
  # access to nixpkgs, so none could be generated here. The first `nix build`,
  # `nix flake check` or `nix flake lock` writes one; commit it to pin nixpkgs.
  # nixos-unstable because the locked crates need rustc >= 1.89 (edition 2024).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      cargoToml = lib.importTOML ./Cargo.toml;

      # Integration test binaries (tests/<name>.rs) the build sandbox cannot run,
      # with the reason printed in the build log: those listed here, and any whose
      # source mounts through the test helpers or names /dev/fuse or the mount
      # helper (a safety net; list new mounting tests here all the same).
      fuseReason = "mounts a real FUSE filesystem: needs /dev/fuse and root, absent in the build sandbox";
      listedHostOnly = {
        mount_flac = fuseReason;
        live_edits = fuseReason;
        nix_files = "runs nix-instantiate, which needs a Nix store the build sandbox does not give (scripts/test runs it)";
      };
      testNames = lib.pipe (builtins.readDir ./tests) [
        (lib.filterAttrs (n: t: t == "regular" && lib.hasSuffix ".rs" n))
        lib.attrNames
        (map (lib.removeSuffix ".rs"))
      ];
      mountsFuse =
        t:
        let
          text = builtins.readFile (./tests + "/${t}.rs");
        in
        lib.any (needle: lib.hasInfix needle text) [
          "Mount::start("
          "/dev/fuse"
          "mount-helper"
        ];
      hostOnlyTests =
        listedHostOnly
        // lib.genAttrs (lib.filter (t: !(listedHostOnly ? ${t}) && mountsFuse t) testNames) (
          _: fuseReason + " (its source mounts)"
        );
      sandboxTests = lib.filter (t: !(hostOnlyTests ? ${t})) testNames;

      musefsPackage =
        {
          lib,
          rustPlatform,
          ffmpeg-headless,
          flac,
          sqlite,
          python3,
        }:
        rustPlatform.buildRustPackage {
          pname = cargoToml.package.name;
          inherit (cargoToml.package) version;

          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions [
              ./Cargo.toml
              ./Cargo.lock
              ./src
              ./tests
              (lib.fileset.maybeMissing ./benches)
              (lib.fileset.maybeMissing ./examples)
            ];
          };
          cargoLock.lockFile = ./Cargo.lock;

          # The unit and property tests, and the integration tests that need no
          # kernel mount (the format tests: fixtures made by ffmpeg/flac, read
          # back by mutagen and ffprobe). Naming targets leaves doc tests out.
          cargoTestFlags = [
            "--lib"
            "--bins"
          ]
          ++ map (t: "--test=${t}") sandboxTests;
          nativeCheckInputs = [
            ffmpeg-headless
            flac
            sqlite
            (python3.withPackages (ps: [ ps.mutagen ]))
          ];
          preCheck = ''
            export HOME=$TMPDIR
            echo "musefs: integration tests left out of the sandboxed check phase:"
            ${lib.concatStrings (
              lib.mapAttrsToList (t: why: "echo ${lib.escapeShellArg "  tests/${t}.rs: ${why}"}\n") hostOnlyTests
            )}
          '';

          meta = {
            description = "Read-only FUSE view of a music library, re-tagged from a SQLite store without touching the audio files";
            mainProgram = "musefs";
            platforms = lib.platforms.linux;
          };
        };
    in
    {
      overlays.default = final: _prev: {
        musefs = final.callPackage musefsPackage { };
      };

      packages = forAllSystems (
        _system: pkgs:
        let
          musefs = pkgs.callPackage musefsPackage { };
        in
        {
          default = musefs;
          inherit musefs;
        }
      );

      # nix run . -- mount ~/MusicView      nix run . -- scan ~/Music
      apps = forAllSystems (
        system: _pkgs: {
          default = {
            type = "app";
            program = lib.getExe self.packages.${system}.default;
            meta.description = "musefs command line (scan, mount, tag, ...)";
          };
        }
      );

      # services.musefs, with this flake's package as the default package.
      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nixos-module ];
          services.musefs.package = lib.mkDefault (
            self.packages.${pkgs.stdenv.hostPlatform.system}.default or (pkgs.callPackage musefsPackage { })
          );
        };

      devShells = forAllSystems (
        _system: pkgs: {
          default = pkgs.mkShell {
            packages = with pkgs; [
              cargo
              rustc
              clippy
              rustfmt
              rust-analyzer
              cargo-nextest
              ffmpeg-headless
              flac
              sqlite
              fuse3
              util-linux
              (python3.withPackages (ps: [ ps.mutagen ]))
            ];
            RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
          };
        }
      );

      checks = forAllSystems (
        system: pkgs:
        let
          musefs = self.packages.${system}.default;
        in
        {
          # The package: release build plus the sandboxed tests above.
          package = musefs;

          clippy = musefs.overrideAttrs (old: {
            pname = "musefs-clippy";
            nativeBuildInputs = old.nativeBuildInputs ++ [ pkgs.clippy ];
            buildPhase = ''
              runHook preBuild
              cargo clippy --all-targets --offline -- -D warnings
              runHook postBuild
            '';
            doCheck = false;
            installPhase = ''
              runHook preInstall
              touch $out
              runHook postInstall
            '';
          });

          # The NixOS VM test: vm-tests/nixos.nix (QEMU; KVM makes it fast).
          nixos = import ./vm-tests/nixos.nix {
            inherit pkgs;
            module = self.nixosModules.default;
          };
        }
      );
    };
}
