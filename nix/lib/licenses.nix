# The licenses packages commonly name (a subset; `shortName` and `spdxId` as SPDX spells them).
{ lib }:
let
  mk = spdxId: fullName: extra: { inherit spdxId fullName; shortName = spdxId; url = "https://spdx.org/licenses/${spdxId}.html"; free = true; redistributable = true; deprecated = false; } // extra;
in
{
  mit = mk "MIT" "MIT License" { };
  asl20 = mk "Apache-2.0" "Apache License 2.0" { };
  bsd2 = mk "BSD-2-Clause" "BSD 2-clause \"Simplified\" License" { };
  bsd3 = mk "BSD-3-Clause" "BSD 3-clause \"New\" or \"Revised\" License" { };
  isc = mk "ISC" "ISC License" { };
  zlib = mk "Zlib" "zlib License" { };
  mpl20 = mk "MPL-2.0" "Mozilla Public License 2.0" { };
  gpl2 = mk "GPL-2.0" "GNU General Public License v2.0" { deprecated = true; };
  gpl2Only = mk "GPL-2.0-only" "GNU General Public License v2.0 only" { };
  gpl2Plus = mk "GPL-2.0-or-later" "GNU General Public License v2.0 or later" { };
  gpl3 = mk "GPL-3.0" "GNU General Public License v3.0" { deprecated = true; };
  gpl3Only = mk "GPL-3.0-only" "GNU General Public License v3.0 only" { };
  gpl3Plus = mk "GPL-3.0-or-later" "GNU General Public License v3.0 or later" { };
  lgpl21 = mk "LGPL-2.1" "GNU Lesser General Public License v2.1" { deprecated = true; };
  lgpl21Only = mk "LGPL-2.1-only" "GNU Lesser General Public License v2.1 only" { };
  lgpl21Plus = mk "LGPL-2.1-or-later" "GNU Lesser General Public License v2.1 or later" { };
  lgpl3Plus = mk "LGPL-3.0-or-later" "GNU Lesser General Public License v3.0 or later" { };
  agpl3Plus = mk "AGPL-3.0-or-later" "GNU Affero General Public License v3.0 or later" { };
  publicDomain = { shortName = "publicDomain"; fullName = "Public Domain"; free = true; redistributable = true; deprecated = false; };
  unfree = { shortName = "unfree"; fullName = "Unfree"; free = false; redistributable = false; deprecated = false; };
}
