let __nixPath = [ ]; in <nowhere/at-all>
