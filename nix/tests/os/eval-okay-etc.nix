# The /etc entries: texts rendered from options, and the etc tree's builder.
let
  os = import ./os.nix ./configs/web.nix;
  etc = os.config.environment.etc;
in
{
  names = builtins.attrNames etc;
  fstab = etc.fstab.text;
  hostname = etc.hostname.text;
  hosts = etc.hosts.text;
  sshd_config = etc."ssh/sshd_config".text;
  authorized_keys = etc."ssh/authorized_keys.d/alice".text;
  kiln_conf = etc."kiln/kiln.conf".text;
  timezone = etc.timezone.text;
  tmpfiles = etc."tmpfiles.d/00-kiln.conf".text;
  builder = os.config.system.build.etc.buildCommand;
}
