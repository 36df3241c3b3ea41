# The files whose definitions of the attribute-set option `opt` set its attribute `name`
# (e.g. the files that define `users.users.alice`), for error messages.
{ lib }:
opt: name:
let
  pairs = lib.zipLists opt.files opt.definitions;
in
lib.unique (map (p: p.fst) (builtins.filter (p: builtins.isAttrs p.snd && p.snd ? ${name}) pairs))
