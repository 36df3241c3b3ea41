# Package metadata helpers.
{ lib }:
rec {
  addMetaAttrs = newAttrs: drv: drv // { meta = (drv.meta or { }) // newAttrs; };
  dontDistribute = drv: addMetaAttrs { hydraPlatforms = [ ]; } drv;
  setName = name: drv: drv // { inherit name; };
  updateName = updater: drv: drv // { name = updater (drv.name); };
  appendToName = suffix: updateName (name:
    let x = builtins.parseDrvName name; in "${x.name}-${suffix}-${x.version}");
  setPrio = priority: addMetaAttrs { inherit priority; };
  lowPrio = setPrio 10;
  hiPrio = setPrio (-10);
  lowPrioSet = set: builtins.mapAttrs (_: lowPrio) set;
  hiPrioSet = set: builtins.mapAttrs (_: hiPrio) set;
  platformMatch = platform: elem:
    if builtins.isString elem then platform.system == elem
    else lib.attrsets.matchAttrs elem platform;
  availableOn = platform: pkg:
    ((!pkg ? meta.platforms) || lib.lists.any (platformMatch platform) pkg.meta.platforms)
    && lib.lists.all (elem: !platformMatch platform elem) (pkg.meta.badPlatforms or [ ]);
  getLicenseFromSpdxId = id:
    lib.lists.findFirst (l: l.spdxId or null == id) { shortName = id; spdxId = id; fullName = id; } (builtins.attrValues lib.licenses);
  # The main program of a package: `meta.mainProgram`, else its name without version.
  getExe = x:
    getExe' x (x.meta.mainProgram or (lib.strings.getName x));
  getExe' = x: y:
    assert lib.asserts.assertMsg (lib.attrsets.isDerivation x) "lib.meta.getExe': The first argument is of type ${builtins.typeOf x}, but it should be a derivation instead.";
    "${lib.attrsets.getBin x}/bin/${y}";
}
