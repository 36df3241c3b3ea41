{ config.services.base.tags = [ "unwanted-child" ]; }
