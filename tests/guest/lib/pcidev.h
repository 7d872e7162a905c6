/* PCI configuration access on bus 0 for guest programs: the 0xCF8/0xCFC
 * mechanism at any width, ECAM reads, the capability list and finding a
 * function by its IDs. Header-only, everything static inline. */
#ifndef GUEST_PCIDEV_H
#define GUEST_PCIDEV_H

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

#endif
