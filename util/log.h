/* Logging. Errors and warnings go to stderr prefixed with "minivmm: ". */
#ifndef MINIVMM_LOG_H
#define MINIVMM_LOG_H

#include <stdbool.h>
#include <stdint.h>

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only printed with MINIVMM_DEBUG set in the environment. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Guest-triggered messages: at most a burst of 10 per second, per call site.
 * Safe to use from several threads at once. */
#define LOG_RATELIMIT_BURST 10
typedef struct LogRateLimit {   /* atomic fields */
    uint64_t window_start_ns;
    unsigned count;
    unsigned suppressed;
} LogRateLimit;
bool log_ratelimit_allow(LogRateLimit *rl, unsigned *suppressed);
void log_ratelimited_(LogRateLimit *rl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_guest_error(...)                                                   \
    do {                                                                       \
        static LogRateLimit rl_;                                               \
        log_ratelimited_(&rl_, __VA_ARGS__);                                   \
    } while (0)

#endif
