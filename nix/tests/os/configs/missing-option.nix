{ networking.hostName = "web"; services.nonexistent.enable = true; }
