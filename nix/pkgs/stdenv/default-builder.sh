# The builder of `stdenv.mkDerivation`: the setup script, then the phases.
source "$stdenv/setup"
genericBuild
