"""Free memory that glibc's allocator keeps, handed back to the system: a long saliency game's stays bounded.

Why: glibc's ``malloc`` keeps what a thread frees in its heap for reuse, and hands pages back only from the top
of the heap. A saliency map runs a 33 MB batch of 290 perturbed inputs through the network, whose activations
take tens of MB more, every 2nd step, while the game's longer-lived buffers (the screens queued for the
renderer, the maps kept for ``saliency.npz``) are allocated between them: the heap fragments, and freed
memory piles up below live blocks. A 10,000-step saliency game grew to 2.4 GB resident this way (its maps are
141 MB; Python's own allocations barely grew; ``malloc_stats``: 603 MB of heap for 132 MB in use after
2,500 steps). ``malloc_trim`` gives the free pages anywhere in every heap back (``madvise``), so calling it
now and then bounds what the game holds to what it uses, plus about one map's buffers and what piles up between
two calls (README, "Saliency on the longest game"; ``bench/saliency_long_game.py``).

Two other fixes were measured (one 2,500-step game each; the growth varies from run to run) and not taken:
a fixed mmap threshold of 1 MB (``mallopt``; glibc's threshold otherwise rises to 32 MB after the first map)
maps and unmaps each of a map's buffers, which cost 9 times the system time (the pages are zeroed again each
map) and still grew by 300 MB; one malloc arena for all threads (``M_ARENA_MAX``) still grew by 570 MB in
2,500 steps: the growth is the main thread's own heap.

Elsewhere than glibc (macOS, musl) this does nothing.
"""

import ctypes
import functools


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library this process runs on, if it is glibc (which alone has ``gnu_get_libc_version``)."""
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded into this process
    except OSError:  # Windows: no such handle
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "malloc_trim") else None


def give_back_free_memory() -> bool:
    """glibc's ``malloc_trim(0)``: the free pages of every heap handed back to the system. Returns whether any
    were (``False`` where the C library is not glibc)."""
    libc = _glibc()
    return bool(libc.malloc_trim(ctypes.c_size_t(0))) if libc is not None else False
