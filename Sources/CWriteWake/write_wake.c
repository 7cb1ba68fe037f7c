#define _GNU_SOURCE
#include "write_wake.h"
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

// word[0] is the sequence that waiters sleep on; word[1] counts the sleepers, so that a bump
// with nobody asleep costs no system call. A sleeper killed in its sleep leaves the count
// high, which only means every later bump makes the (harmless) call.

uint32_t ytauto_wake_load(const uint32_t *word) {
    return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}

int ytauto_wake_bump(uint32_t *word, int count) {
    // Sequentially consistent on both sides: either the sleeper's count is seen here, or the
    // sleeper's futex call sees the new sequence and does not sleep.
    __atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
    if (count <= 0 || __atomic_load_n(word + 1, __ATOMIC_SEQ_CST) == 0) return 0;
#ifdef __linux__
    // Not FUTEX_PRIVATE: the waiters are other processes mapping the same file.
    long woken = syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0);
    return woken > 0 ? (int)woken : 0;
#else
    (void)count;
    return 0;
#endif
}

void ytauto_wake_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    if (timeout_ns <= 0) return;
    struct timespec t = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    uint32_t *sleepers = word + 1;
    __atomic_add_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
#ifdef __linux__
    // Returns at once (EAGAIN) when the word is no longer `expected`; EINTR and
    // ETIMEDOUT end the wait too. Every outcome sends the caller back to try the lock.
    syscall(SYS_futex, word, FUTEX_WAIT, expected, &t, NULL, 0);
#else
    if (ytauto_wake_load(word) == expected) nanosleep(&t, NULL);
#endif
    __atomic_sub_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
}
