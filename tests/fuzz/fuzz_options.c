/* libFuzzer target: the command-line parser (options_parse and the option
 * parsers it calls: virtio, VFIO, CPU features, ...). The input is argv[1..],
 * NUL-separated. options_parse must return, never exit or crash; checked:
 * an error comes with a non-empty message, a configuration to run has a
 * kernel, 1..OPTIONS_MAX_CPUS vCPUs and 2M..1T of memory in 4 KiB units.
 * The parser opens the kernel and initramfs paths to check they are readable,
 * so every '/' becomes '_': paths name entries of the working directory (the
 * tree's top when run by run.sh: the seeds use "Makefile" and "tests") and
 * never reach a device node. */
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/options.h"

#define MAX_ARGS 64

static void check(bool ok, const char *what)
{
    if (!ok) {
        /* to the report stream, which libFuzzer keeps when -close_fd_mask=2
         * silences the code's own logging */
        char line[160];
        snprintf(line, sizeof(line), "fuzz_options: invariant violated: %s", what);
        __sanitizer_report_error_summary(line);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private NUL-terminated copy: the parser keeps pointers into argv. */
    char *buf = malloc(size + 1);
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (size_t i = 0; i < size; i++)
        if (buf[i] == '/')
            buf[i] = '_';
    argv[argc++] = "minivmm";
    for (char *p = buf; p <= buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    struct vm_config cfg;
    char err[256];
    err[0] = '\0';
    enum options_result r = options_parse(argc, argv, &cfg, err, sizeof(err));
    check(memchr(err, '\0', sizeof(err)) != NULL, "unterminated error message");
    switch (r) {
    case OPTIONS_ERROR:
        check(err[0] != '\0', "an error without a message");
        break;
    case OPTIONS_RUN:
        check(cfg.kernel || cfg.dump_mtree || cfg.dump_pci, "no kernel");
        check(cfg.nr_cpus >= 1 && cfg.nr_cpus <= OPTIONS_MAX_CPUS, "vCPU count out of range");
        check(cfg.mem_size >= (2ull << 20) && cfg.mem_size <= (1ull << 40) &&
                  cfg.mem_size % 4096 == 0, "memory size out of range");
        check(cfg.cmdline != NULL, "no command line");
        break;
    case OPTIONS_HELP:
    case OPTIONS_VERSION:
        break;
    default:
        check(false, "unknown result");
    }
    free(buf);
    return 0;
}
