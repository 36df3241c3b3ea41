let x = throw "no"; y = abort "no"; z = 3; in z
