#define _GNU_SOURCE
#include "write_wake.h"
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

uint32_t ytauto_wake_load(const uint32_t *word) {
    return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}

int ytauto_wake_bump(uint32_t *word, int count) {
    __atomic_add_fetch(word, 1, __ATOMIC_RELEASE);
#ifdef __linux__
    // Not FUTEX_PRIVATE: the waiters are other processes mapping the same file.
    long woken = syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0);
    return woken > 0 ? (int)woken : 0;
#else
    (void)count;
    return 0;
#endif
}

void ytauto_wake_wait(const uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    if (timeout_ns <= 0) return;
    struct timespec t = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
#ifdef __linux__
    // Returns at once (EAGAIN) when the word is no longer `expected`; EINTR and
    // ETIMEDOUT end the wait too. Every outcome sends the caller back to try the lock.
    syscall(SYS_futex, word, FUTEX_WAIT, expected, &t, NULL, 0);
#else
    if (ytauto_wake_load(word) == expected) nanosleep(&t, NULL);
#endif
}
