/* Vendor, device and class names from pci.ids through libpci. Its header is
 * <pci/pci.h>, the same name as ours: this file alone includes it (built with
 * -iquote . instead of -I ., see the Makefile) and nothing of ours. No
 * pci_init: that probes the host's PCI access methods and exits when it finds
 * none; name lookups need only the allocated access struct. */
#include <pci/pci.h>
#include <stdarg.h>
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
    return a;
}

void pci_names_close(void *h)
{
    pci_cleanup(h);
}

/* kind: 0 vendor, 1 vendor + device, 2 class (a = base << 8 | sub). pci.ids only:
 * libpci's udev hwdb path, where the container has no hwdb, makes a new udev
 * context on every lookup of a name pci.ids lacks (edu's 1234:11e8) and leaks
 * the previous one (LeakSanitizer saw six). */
#define LOOKUP_FLAGS (PCI_LOOKUP_MIXED | PCI_LOOKUP_NO_HWDB)
const char *pci_names_lookup(void *h, char *buf, int size, int kind, unsigned a, unsigned b)
{
    const char *s = NULL;
    switch (kind) {
    case 0: s = pci_lookup_name(h, buf, size, PCI_LOOKUP_VENDOR | LOOKUP_FLAGS, a); break;
    case 1: s = pci_lookup_name(h, buf, size, PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE | LOOKUP_FLAGS, a, b); break;
    case 2: s = pci_lookup_name(h, buf, size, PCI_LOOKUP_CLASS | LOOKUP_FLAGS, a); break;
    }
    return s ? s : "?";
}
