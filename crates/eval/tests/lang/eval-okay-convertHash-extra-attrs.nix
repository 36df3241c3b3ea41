builtins.convertHash { hash = "sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00="; toHashFormat = "nix32"; extra = throw "ignored"; }
