#ifndef YTAUTO_WRITE_WAKE_H
#define YTAUTO_WRITE_WAKE_H
#include <stdint.h>

/// A 32-bit word in a MAP_SHARED file mapping that processes use to hand over SQLite's
/// write lock: the one that ends a write transaction bumps it and wakes a waiter; a
/// waiter sleeps on it (a shared futex on Linux) with a timeout. The word after it counts
/// the sleepers, so a bump with nobody asleep makes no system call: pass a pointer to two.

/// The word's value (acquire).
uint32_t ytauto_wake_load(const uint32_t *word);

/// Adds one to the word and wakes up to `count` waiters in any process.
/// Returns how many it woke. With `count` 0 it only moves the word (sleepers see the change
/// when their timeout ends).
int ytauto_wake_bump(uint32_t *word, int count);

/// Sleeps while the word equals `expected`, until a bump wakes it or `timeout_ns` passes.
/// Returns at once when the word already differs. Without futexes it just sleeps.
void ytauto_wake_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

#endif
