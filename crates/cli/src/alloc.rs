//! The global allocator: the system allocator, with transparent huge pages asked for on large
//! blocks.
//!
//! The evaluator allocates everything in bump arenas whose chunks double in size; on a machine
//! where transparent huge pages are in `madvise` mode (Debian's default), each 4 KiB page of a
//! fresh chunk costs a page fault. For `fib 30` that was 42,000 faults, a fifth of the run.
//! Asking for huge pages on blocks of 2 MiB and more cuts the faults by ~500×. Only up to
//! 64 MiB, though (the arena's first chunk, where small evaluations live): on this VM a huge
//! page is fresh guest memory the host backs on first touch, so the larger chunks of a NixOS
//! evaluation cost 2–3× the kernel time in 2 MiB pages than in 4 KiB ones (0.84–1.06 s
//! against 0.33–0.42 s of system time for the same 470 MB; bench/README.md). No crate does
//! exactly this (mimalloc and jemalloc can only be told through their own option machinery),
//! hence this small wrapper: the one `unsafe` outside the build sandbox.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large are advised to use huge pages...
const HUGE: usize = 2 << 20;
/// ... and at most this large (the arena's 64 MiB first chunk with its footer; the next is
/// 128 MiB).
const HUGE_MAX: usize = 96 << 20;

fn wants_huge(size: usize) -> bool {
    (HUGE..=HUGE_MAX).contains(&size)
}

/// [`System`], plus `madvise(MADV_HUGEPAGE)` on blocks of 2–96 MiB.
pub struct HugePageAlloc;

unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the layout comes from the caller, as `GlobalAlloc::alloc` requires.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && wants_huge(layout.size()) {
            advise(ptr, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() && wants_huge(layout.size()) {
            advise(ptr, layout.size());
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `ptr` and `layout` describe a live block of ours.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && wants_huge(new_size) {
            advise(new, new_size);
        }
        new
    }
}

/// Advises huge pages for the whole pages inside `[ptr, ptr + len)`; advice only, so a failure
/// changes nothing but speed.
fn advise(ptr: *mut u8, len: usize) {
    const PAGE: usize = 4096;
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + len) & !(PAGE - 1);
    if end > start {
        // SAFETY: the range lies within a block we just obtained from the allocator, and
        // MADV_HUGEPAGE neither moves nor frees memory.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}
