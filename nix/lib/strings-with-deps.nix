# Text fragments with dependencies, put in dependency order (NixOS activation scripts use
# `stringAfter`, `noDepEntry`, `textClosureMap`).
{ lib }:
rec {
  noDepEntry = text: { inherit text; deps = [ ]; };
  fullDepEntry = text: deps: { inherit text deps; };
  packEntry = deps: text: { inherit text deps; };
  stringAfter = deps: text: { inherit text deps; };

  # The texts of `names` (looked up in `predefined`), each after the texts of its `deps`, each once.
  textClosureList = predefined: names:
    let
      go = done: todo:
        if todo == [ ] then { result = [ ]; inherit done; }
        else
          let entry = builtins.head todo; rest = builtins.tail todo; in
          if builtins.isAttrs entry then
            let x = go done (entry.deps or [ ]); y = go x.done rest;
            in { result = x.result ++ [ entry.text ] ++ y.result; inherit (y) done; }
          else if done ? ${entry} then go done rest
          else if !(predefined ? ${entry}) then throw "textClosureList: `${entry}' is not defined"
          else go (done // { ${entry} = true; }) ([ predefined.${entry} ] ++ rest);
    in (go { } names).result;
  textClosureMap = f: predefined: names:
    builtins.concatStringsSep "\n" (map f (textClosureList predefined names));
}
