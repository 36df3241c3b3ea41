builtins.concatLists [ [ 1 ] "two" ]
