# The devShell's package list, resolved against one nixpkgs: `required` attributes as they are,
# and from each `first_available` group the first attribute this nixpkgs has. Only builtins are
# used, so tests/env/test_flake.py can evaluate it against a stub package set without nixpkgs.
{ pkgs }:
let
  spec = builtins.fromJSON (builtins.readFile ./packages.json);
  pathOf = attr: builtins.filter builtins.isString (builtins.split "\\." attr);
  has =
    attr:
    (builtins.foldl' (
      acc: name:
      if acc.ok && builtins.isAttrs acc.set && builtins.hasAttr name acc.set then
        {
          ok = true;
          set = acc.set.${name};
        }
      else
        {
          ok = false;
          set = null;
        }
    ) { ok = true; set = pkgs; } (pathOf attr)).ok;
  get = attr: builtins.foldl' (set: name: set.${name}) pkgs (pathOf attr);
  firstOf =
    group:
    let
      present = builtins.filter has group;
    in
    if present == [ ] then [ ] else [ (builtins.head present) ];
  names = spec.required ++ builtins.concatMap firstOf spec.first_available;
in
{
  # Attribute paths in the shell (what the test checks), then the packages themselves.
  inherit names;
  packages = map get names;
}
