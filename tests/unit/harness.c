#include "tests/unit/harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct test_entry {
    const char *name;
    test_fn fn;
};

static struct test_entry *tests;
static unsigned nr_tests;
static bool current_failed;
static const char *current_name;

void test_register(const char *name, test_fn fn)
{
    tests = realloc(tests, (nr_tests + 1) * sizeof(*tests));
    if (!tests)
        abort();
    tests[nr_tests++] = (struct test_entry){ name, fn };
}

void test_fail_(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  FAIL %s (%s:%d): ", current_name, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    current_failed = true;
}

static bool selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    unsigned passed = 0, failed = 0;
    for (unsigned i = 0; i < nr_tests; i++) {
        if (!selected(tests[i].name, argc, argv))
            continue;
        current_name = tests[i].name;
        current_failed = false;
        tests[i].fn();
        fflush(stdout);
        if (current_failed) {
            failed++;
            printf("not ok %s\n", tests[i].name);
        } else {
            passed++;
            printf("ok %s\n", tests[i].name);
        }
    }
    free(tests);
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
