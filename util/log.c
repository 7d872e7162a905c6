#include "util/log.h"
#include "util/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void log_v(const char *level, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(stderr, "minivmm: %s%s\n", level, line);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v("error: ", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v("warning: ", fmt, ap);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    static int enabled = -1;
    if (enabled < 0)
        enabled = getenv("MINIVMM_DEBUG") != NULL;
    if (!enabled)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_v("debug: ", fmt, ap);
    va_end(ap);
}

/* vCPU threads share one limiter per call site: every field is updated
 * atomically. The thread that moves the window on collects the count of
 * suppressed messages; a racing thread may at worst let one extra line through
 * at a window change. */
bool log_ratelimit_allow(LogRateLimit *rl, unsigned *suppressed)
{
    uint64_t now = (uint64_t)monotonic_ns();
    *suppressed = 0;
    uint64_t start = __atomic_load_n(&rl->window_start_ns, __ATOMIC_ACQUIRE);
    if (now - start >= 1000000000ull &&
        __atomic_compare_exchange_n(&rl->window_start_ns, &start, now, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        *suppressed = __atomic_exchange_n(&rl->suppressed, 0, __ATOMIC_ACQ_REL);
        __atomic_store_n(&rl->count, 0, __ATOMIC_RELEASE);
    }
    if (__atomic_fetch_add(&rl->count, 1, __ATOMIC_ACQ_REL) < LOG_RATELIMIT_BURST)
        return true;
    __atomic_fetch_add(&rl->suppressed, 1, __ATOMIC_RELAXED);
    return false;
}

void log_ratelimited_(LogRateLimit *rl, const char *fmt, ...)
{
    unsigned suppressed;
    if (!log_ratelimit_allow(rl, &suppressed))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_v("guest: ", fmt, ap);
    va_end(ap);
    if (suppressed)
        fprintf(stderr, "minivmm: guest: (%u similar messages suppressed)\n", suppressed);
}
