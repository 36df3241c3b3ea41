[ 1 (throw "second") 3 ]
