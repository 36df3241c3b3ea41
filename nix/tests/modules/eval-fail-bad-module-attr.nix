{ lib ? import <kiln/lib> }:
(lib.evalModules {
  modules = [ { options = { }; services.x = 1; } ];
}).config
