{ environment.etc.passwd = { target = "/etc/passwd"; text = "root:x:0:0::/root:/bin/sh"; }; }
