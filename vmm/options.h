/* The command line (Cloud Hypervisor style: --cpus boot=2 --memory size=1G). */
#ifndef MINIVMM_OPTIONS_H
#define MINIVMM_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "vmm/vm.h"

#define MINIVMM_VERSION "0.1.0"

/* --cpus boot=N: 1 to this. */
#define OPTIONS_MAX_CPUS 64
/* sun_path holds 108 bytes with the terminating NUL. */
#define API_SOCKET_PATH_MAX 108

enum options_result {
    OPTIONS_RUN,      /* cfg is complete: build and run the VM */
    OPTIONS_HELP,     /* --help: print options_usage() and exit 0 */
    OPTIONS_VERSION,  /* --version */
    OPTIONS_ERROR,    /* `err` names the problem; exit EXIT_USAGE */
};

/* Parses argv into `cfg` (defaults for what is not given). Strings in `cfg`
 * point into argv. Never prints and never exits. */
enum options_result options_parse(int argc, char *const argv[], struct vm_config *cfg,
                                  char *err, size_t errlen);

void options_usage(FILE *out);

#endif
