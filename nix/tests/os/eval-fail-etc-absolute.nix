# An absolute /etc target.
(import ./os.nix { environment.etc.passwd = { target = "/etc/passwd"; text = "x"; }; }).toplevel.drvPath
