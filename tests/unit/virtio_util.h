/* Shared by the virtio unit tests: a driver's side of split and packed rings
 * laid out in fake-VM RAM, with the PCI test device as the DMA requester. */
#ifndef MINIVMM_TEST_VIRTIO_UTIL_H
#define MINIVMM_TEST_VIRTIO_UTIL_H

#include <string.h>

#include "tests/unit/pci_util.h"
#include "virtio/virtio.h"

#define VQ_DESC   0x10000ull
#define VQ_AVAIL  0x11000ull
#define VQ_USED   0x12000ull
#define VQ_BUF    0x20000ull
#define VQ_IND    0x30000ull

static inline void put16(uint8_t *ram, uint64_t a, uint16_t v)
{
    ram[a] = (uint8_t)v;
    ram[a + 1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *ram, uint64_t a, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        ram[a + i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *ram, uint64_t a, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        ram[a + i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get16(const uint8_t *ram, uint64_t a)
{
    return (uint16_t)(ram[a] | ram[a + 1] << 8);
}

static inline uint32_t get32(const uint8_t *ram, uint64_t a)
{
    return (uint32_t)ram[a] | (uint32_t)ram[a + 1] << 8 | (uint32_t)ram[a + 2] << 16 |
           (uint32_t)ram[a + 3] << 24;
}

/* A split-ring descriptor in the table at `table`. */
static inline void split_desc(uint8_t *ram, uint64_t table, unsigned i, uint64_t addr,
                              uint32_t len, uint16_t flags, uint16_t next)
{
    uint64_t a = table + 16ull * i;
    put64(ram, a, addr);
    put32(ram, a + 8, len);
    put16(ram, a + 12, flags);
    put16(ram, a + 14, next);
}

/* Publishes head `head` at avail slot idx % size and moves avail->idx to idx + 1. */
static inline void split_publish(uint8_t *ram, uint16_t size, uint16_t idx, uint16_t head)
{
    put16(ram, VQ_AVAIL + 4 + 2ull * (idx % size), head);
    put16(ram, VQ_AVAIL + 2, (uint16_t)(idx + 1));
}

/* A packed-ring descriptor made available with the driver's wrap counter. */
static inline void packed_desc(uint8_t *ram, uint64_t table, unsigned i, uint64_t addr,
                               uint32_t len, uint16_t id, uint16_t flags, bool wrap)
{
    uint64_t a = table + 16ull * i;
    put64(ram, a, addr);
    put32(ram, a + 8, len);
    put16(ram, a + 12, id);
    flags &= (uint16_t)~(VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED);
    if (wrap)
        flags |= VRING_PACKED_DESC_F_AVAIL;
    else
        flags |= VRING_PACKED_DESC_F_USED;
    put16(ram, a + 14, flags);
}

#endif
