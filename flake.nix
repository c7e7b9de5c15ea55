{
  description = "mockinfra: a mock production stack for testing AI incident-response agents";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs =
    {
      nixpkgs,
      flake-utils,
      ...
    }:
    flake-utils.lib.eachDefaultSystem (
      system:
      let
        pkgs = nixpkgs.legacyPackages.${system};
        # One list for the whole shell (nix/packages.json), checked against the stack's
        # binaries (libs/stack/src/mockinfra/stack/binaries.py) by tests/env/test_flake.py.
        devPackages = import ./nix/packages.nix { inherit pkgs; };
      in
      {
        devShells.default = pkgs.mkShell {
          packages = devPackages.packages;
          shellHook = ''
            # uv must use this shell's Python 3.11 and never download another one.
            export UV_PYTHON=${pkgs.python311}/bin/python3.11
            export UV_PYTHON_DOWNLOADS=never
            echo "mockinfra dev shell: 'nox -s up' starts the stack, 'nox -s test' runs the tests"
          '';
        };

        formatter = pkgs.nixfmt-rfc-style;
      }
    );
}
