{ networking.hostName = "web"; networking.firewall.allowedTCPPorts = [ "http" ]; }
