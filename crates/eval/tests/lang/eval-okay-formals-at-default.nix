(args@{ a, b ? args.a }: b) { a = 5; }
