#!/bin/sh
# Regenerates ../ok/ from the expressions in this directory with the reference Nix 2.8.
#
# Every expression is instantiated into a throw-away chroot store; every .drv file Nix writes
# there (including those of dependencies) is copied to ../ok/ under its store base name, so the
# file name asserts the store path. Nix's own configuration and state are kept off the machine's
# (the same isolation as kiln_testkit::reference_command).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ok="$here/../ok"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT

export NIX_CONF_DIR="$tmp/etc" NIX_STATE_DIR="$tmp/var" NIX_LOG_DIR="$tmp/log" \
    HOME="$tmp/home" XDG_CACHE_HOME="$tmp/cache"
unset NIX_PATH NIX_REMOTE

nix-instantiate --version | grep -q ' 2\.8\.' || { echo "need Nix 2.8" >&2; exit 1; }
for expr in basic fixed sources special; do
    nix-instantiate --store "$tmp/root" "$here/$expr.nix" >/dev/null
done
nix-instantiate --store "$tmp/root" --extra-experimental-features ca-derivations \
    "$here/ca.nix" >/dev/null

rm -f "$ok"/*.drv
cp "$tmp"/root/nix/store/*.drv "$ok"/
chmod 644 "$ok"/*.drv
ls "$ok" | wc -l
