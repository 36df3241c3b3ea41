[ ./foo/ ]
