//! A bare `next()` allocates nothing: not when it is made, taken apart or dropped. Counted
//! with an allocator that counts the calls made on the current thread (so that tests on
//! other threads do not add to it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tower_proxy_fn::response::Outcome;
use tower_proxy_fn::ProxyResponse;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

fn count() {
    // `try_with`: the thread's slot may already be gone while the thread shuts down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call goes to `System` unchanged; the counter is a const-initialised
// thread-local, which allocates nothing itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// How many allocations `work` made on this thread.
fn allocations<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = work();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn a_bare_next_allocates_nothing() {
    let ((), made) = allocations(|| {
        let decision = std::hint::black_box(ProxyResponse::next());
        assert!(decision.is_next() && decision.invalid_reason().is_none());
        let (outcome, additions) = decision.into_parts();
        assert!(matches!(outcome, Outcome::Next));
        assert!(additions.is_empty() && additions.cookies().is_empty());
    });
    assert_eq!(made, 0, "allocations for a bare next()");
}

/// The counter counts: a decision that carries a request header boxes its additions.
#[test]
fn a_next_with_a_request_header_is_counted() {
    let (decision, made) =
        allocations(|| std::hint::black_box(ProxyResponse::next().request_header("x-user", "ann")));
    assert!(made > 0);
    drop(decision);
}
