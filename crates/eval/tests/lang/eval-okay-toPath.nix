map builtins.toPath [ "/a/../b//c/" "/" "/a/./b" ./x ]
