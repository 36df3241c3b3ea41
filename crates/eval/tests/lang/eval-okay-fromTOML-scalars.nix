builtins.fromTOML "a = 1\nb = -2\nc = 0x1F\nd = 0o17\ne = 0b101\nf = 1_000\ng = 3.14\nh = 1e3\ni = -0.0\nj = true\nk = false\nl = \"s\"\nm = 'lit\\\\n'\nn = -9223372036854775808"
