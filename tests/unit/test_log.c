/* The guest-error rate limiter, shared by vCPU threads. */
#include <pthread.h>

#include "tests/unit/harness.h"
#include "util/log.h"

#define NR_THREADS 4
#define CALLS_PER_THREAD 50000

static LogRateLimit shared_rl;
static unsigned allowed_by[NR_THREADS];

static void *hammer(void *arg)
{
    unsigned *allowed = arg, suppressed;
    for (unsigned i = 0; i < CALLS_PER_THREAD; i++)
        if (log_ratelimit_allow(&shared_rl, &suppressed))
            (*allowed)++;
    return NULL;
}

TEST(ratelimit_burst_then_suppressed)
{
    LogRateLimit rl = { 0 };
    unsigned suppressed, allowed = 0;
    for (unsigned i = 0; i < 25; i++)
        allowed += log_ratelimit_allow(&rl, &suppressed);
    CHECK_EQ(allowed, LOG_RATELIMIT_BURST);
    CHECK_EQ(rl.suppressed, 25 - LOG_RATELIMIT_BURST);
}

/* Threads hammering one limiter inside one window: exactly the burst gets
 * through and every other call is counted as suppressed (no lost updates). */
TEST(ratelimit_is_thread_safe)
{
    unsigned suppressed;
    /* Opens the window, so the threads all run inside it. */
    REQUIRE(log_ratelimit_allow(&shared_rl, &suppressed));
    pthread_t threads[NR_THREADS];
    for (unsigned i = 0; i < NR_THREADS; i++)
        REQUIRE(pthread_create(&threads[i], NULL, hammer, &allowed_by[i]) == 0);
    unsigned allowed = 1;
    for (unsigned i = 0; i < NR_THREADS; i++) {
        pthread_join(threads[i], NULL);
        allowed += allowed_by[i];
    }
    CHECK_EQ(allowed, LOG_RATELIMIT_BURST);
    CHECK_EQ(shared_rl.suppressed, NR_THREADS * CALLS_PER_THREAD + 1 - LOG_RATELIMIT_BURST);
}
