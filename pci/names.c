/* Vendor, device and class names from pci.ids through libpci. Its header is
 * <pci/pci.h>, the same name as ours: this file alone includes it (our headers
 * are found only as "...": the Makefile uses -iquote .) and nothing of ours. No
 * pci_init: that probes the host's PCI access methods and exits when it finds
 * none; name lookups need only the allocated access struct. */
#include <pci/pci.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

void *pci_names_open(void);
void pci_names_close(void *h);
const char *pci_names_lookup(void *h, char *buf, int size, int kind, unsigned a, unsigned b);

/* pci_init would install libpci's message callbacks; lookups of names missing
 * from pci.ids call them. */
static void quiet(char *msg, ...)
{
    (void)msg;
}

static __attribute__((noreturn)) void fatal(char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    fputs("minivmm: error: libpci: ", stderr);
    vfprintf(stderr, msg, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(8);   /* EXIT_HOST_ERROR */
}

void *pci_names_open(void)
{
    struct pci_access *a = pci_alloc();
    a->error = fatal;
    a->warning = a->debug = quiet;
    /* pci.ids only: libpci's udev hwdb fallback (taken for IDs pci.ids lacks)
     * makes names depend on the host and leaks libudev's context, which the
     * sanitizer build reports. */
    pci_set_param(a, "hwdb.disable", "1");
    return a;
}

void pci_names_close(void *h)
{
    pci_cleanup(h);
}

/* kind: 0 vendor, 1 vendor + device, 2 class (a = base << 8 | sub), as lspci
 * prints them (name and number). Plus 0x10: the name alone (the device's alone
 * for kind 1), NULL when pci.ids has none. */
const char *pci_names_lookup(void *h, char *buf, int size, int kind, unsigned a, unsigned b)
{
    bool plain = kind & 0x10;
    const int flags = plain ? PCI_LOOKUP_NO_NUMBERS : PCI_LOOKUP_MIXED;
    const char *s = NULL;
    switch (kind & 0xf) {
    case 0: s = pci_lookup_name(h, buf, size, PCI_LOOKUP_VENDOR | flags, a); break;
    case 1:
        s = pci_lookup_name(h, buf, size, (plain ? 0 : PCI_LOOKUP_VENDOR) | PCI_LOOKUP_DEVICE |
                            flags, a, b);
        break;
    case 2: s = pci_lookup_name(h, buf, size, PCI_LOOKUP_CLASS | flags, a); break;
    }
    return s ? s : plain ? NULL : "?";
}
