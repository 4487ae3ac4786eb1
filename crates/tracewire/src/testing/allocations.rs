//! Counting heap allocations in a test, for tests that hold a path's allocation count.

/// Installs a counting global allocator in the calling test binary (forwarding to the system
/// allocator, counting per thread) and defines `fn allocations(f: impl FnOnce()) -> usize`: how
/// many allocations `f` made on this thread. A macro, not a type: the allocator's `unsafe impl`
/// belongs in the test binary that installs it (this crate forbids `unsafe`).
///
/// ```
/// tracewire::count_allocations!();
///
/// assert_eq!(allocations(|| drop(std::hint::black_box(1 + 1))), 0);
/// assert_eq!(allocations(|| drop(std::hint::black_box(vec![1u8]))), 1);
/// ```
#[macro_export]
macro_rules! count_allocations {
    () => {
        struct CountingAllocator;

        ::std::thread_local! {
            static ALLOCATIONS: ::std::cell::Cell<usize> = const { ::std::cell::Cell::new(0) };
        }

        // SAFETY: forwards to the system allocator; the counter is a thread-local `Cell`.
        #[allow(unsafe_code)]
        unsafe impl ::std::alloc::GlobalAlloc for CountingAllocator {
            unsafe fn alloc(&self, layout: ::std::alloc::Layout) -> *mut u8 {
                ALLOCATIONS.with(|c| c.set(c.get() + 1));
                unsafe { ::std::alloc::GlobalAlloc::alloc(&::std::alloc::System, layout) }
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: ::std::alloc::Layout) {
                unsafe { ::std::alloc::GlobalAlloc::dealloc(&::std::alloc::System, ptr, layout) }
            }
        }

        #[global_allocator]
        static COUNTING_ALLOCATOR: CountingAllocator = CountingAllocator;

        /// How many heap allocations `f` made on this thread.
        fn allocations(f: impl FnOnce()) -> usize {
            let before = ALLOCATIONS.with(::std::cell::Cell::get);
            f();
            ALLOCATIONS.with(::std::cell::Cell::get) - before
        }
    };
}
