# libstdc++'s std::regex, which Nix uses, ends an unbounded repetition of a group that can
# match empty with one more, empty, iteration: the group reports "" while groups nested in it
# keep their last values. Bounded repetitions and groups that cannot match empty are unaffected.
[
  (builtins.match "(a*)*" "aaa")
  (builtins.match "(a*)+" "aaa")
  (builtins.match "(a*){2,}" "aa")
  (builtins.match "(a*)*(b)" "aab")
  (builtins.match "(a|b*)*" "ab")
  (builtins.match "((a)*)*" "aa")
  (builtins.match "(a*)?" "aa")
  (builtins.match "(a)*" "aaa")
  (builtins.match "(a*){1,2}" "aa")
  (builtins.match "x|(a*)*" "x")
  (builtins.split "(a*)*" "baab")
]
