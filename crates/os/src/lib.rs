//! The OS layer: a whole system declared in `.nix` files, built into one toplevel store path,
//! activated into a root directory as a new generation, and rolled back.
//!
//! The Nix side lives in the repository's `nix/` tree: `nix/lib` (the `lib` functions and the
//! module system), `nix/os` (the OS modules and the toplevel), `nix/pkgs` (the package set). The
//! contract between the two sides (the toplevel's layout and its `kiln-system.json`) is in
//! `docs/design/os.md`.
