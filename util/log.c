#include "util/log.h"

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

bool log_ratelimit_allow(LogRateLimit *rl, unsigned *suppressed)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    *suppressed = 0;
    if (now - rl->window_start_ns >= 1000000000ull) {
        *suppressed = rl->suppressed;
        rl->window_start_ns = now;
        rl->count = 0;
        rl->suppressed = 0;
    }
    if (rl->count < 10) {
        rl->count++;
        return true;
    }
    rl->suppressed++;
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
