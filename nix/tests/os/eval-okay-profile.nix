# /etc/profile sets the login shells' variables: PATH into the system's packages by default.
let os = import ./os.nix {
  environment.variables = { EDITOR = "vi"; GREETING = "it's here"; };
  environment.shellInit = "umask 022";
}; in
os.config.environment.etc.profile.text
