/* PCI configuration access on bus 0 for guest programs: the 0xCF8/0xCFC
 * mechanism at any width, ECAM reads, the capability list and finding a
 * function by its IDs. Header-only, everything static inline. */
#ifndef GUEST_PCIDEV_H
#define GUEST_PCIDEV_H

#include <stdbool.h>

#include "guest.h"

static inline uint32_t pci_cfg_read(unsigned devfn, unsigned off, unsigned len)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (off & 0xfc));
    if (len == 1)
        return inb((uint16_t)(0xcfc + (off & 3)));
    if (len == 2)
        return inw((uint16_t)(0xcfc + (off & 2)));
    return inl(0xcfc);
}

static inline void pci_cfg_write(unsigned devfn, unsigned off, uint32_t v, unsigned len)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (off & 0xfc));
    if (len == 1)
        outb((uint16_t)(0xcfc + (off & 3)), (uint8_t)v);
    else if (len == 2)
        outw((uint16_t)(0xcfc + (off & 2)), (uint16_t)v);
    else
        outl(0xcfc, v);
}

static inline uint32_t pci_ecam_read(unsigned devfn, unsigned off)
{
    return mmio_read32(LAYOUT_PCI_ECAM + ((uint64_t)devfn << 12) + off);
}

/* Offset of capability `id` in devfn's list, or 0 (bounded against loops). */
static inline unsigned pci_find_cap(unsigned devfn, uint8_t id)
{
    unsigned off = pci_cfg_read(devfn, 0x34, 1);
    for (unsigned n = 0; off && n < 48; n++) {
        uint32_t h = pci_cfg_read(devfn, off, 4);
        if ((h & 0xff) == id)
            return off;
        off = (h >> 8) & 0xff;
    }
    return 0;
}

/* devfn of the first function 0 on bus 0 with `device << 16 | vendor`, or -1. */
static inline int pci_find(uint32_t id)
{
    for (unsigned slot = 0; slot < 32; slot++)
        if (pci_cfg_read(slot << 3, 0, 4) == id)
            return (int)(slot << 3);
    return -1;
}

/* A modern virtio-pci function's BARs placed at `bar_addr` (every structure's
 * BAR there: the test devices keep them all in one), memory decode and bus
 * mastering on; the common and notify structures' addresses and the notify
 * multiplier. False if either structure is missing. */
static inline bool virtio_pci_caps(unsigned devfn, uint64_t bar_addr, uint64_t *common,
                                   uint64_t *notify, uint32_t *notify_mult)
{
    *common = *notify = 0;
    for (unsigned c = pci_cfg_read(devfn, 0x34, 1); c; c = pci_cfg_read(devfn, c + 1, 1)) {
        if (pci_cfg_read(devfn, c, 1) != 0x09)
            continue;
        unsigned bar = pci_cfg_read(devfn, c + 4, 1);
        pci_cfg_write(devfn, 0x10 + 4 * bar, (uint32_t)bar_addr, 4);
        pci_cfg_write(devfn, 0x14 + 4 * bar, (uint32_t)(bar_addr >> 32), 4);
        uint64_t at = bar_addr + pci_cfg_read(devfn, c + 8, 4);
        if (pci_cfg_read(devfn, c + 3, 1) == 1)
            *common = at;
        if (pci_cfg_read(devfn, c + 3, 1) == 2)
            *notify = at, *notify_mult = pci_cfg_read(devfn, c + 16, 4);
    }
    pci_cfg_write(devfn, 4, 0x6, 2);
    return *common && *notify;
}

#endif
