/* A minimal unit-test harness. Each test file defines tests with TEST(name); the
 * harness's main() runs them all (or those named on the command line) and ends
 * with "N passed, N failed". A test fails when any CHECK in it fails. */
#ifndef MINIVMM_TEST_HARNESS_H
#define MINIVMM_TEST_HARNESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail_(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)            \
    {                                                                          \
        test_register(#name, test_##name);                                     \
    }                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            test_fail_(__FILE__, __LINE__, "CHECK(%s)", #cond);                \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                       \
        if (a_ != b_)                                                          \
            test_fail_(__FILE__, __LINE__, "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, \
                       #a, #b, a_, b_);                                        \
    } while (0)

/* Fatal inside the current test: stop it here (after recording the failure). */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            test_fail_(__FILE__, __LINE__, "REQUIRE(%s)", #cond);              \
            return;                                                            \
        }                                                                      \
    } while (0)

#endif
