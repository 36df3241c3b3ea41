if true then 1 else throw "no"
