/* Shared by the hostile-guest programs (tests/guest/hostile_*.c): the DMA
 * test device (--test-device dma, 1234:7e5d) and edu (--edu, 1234:11e8)
 * placed at fixed BARs and driven one DMA at a time, and a bounded wait.
 * Header-only; one program includes it once. */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include <stdbool.h>

#include "pcidev.h"

#define EDU_BAR     0xd0000000u
#define TDEV_BAR    0xd1000000u
#define TDEV_MSIX   (TDEV_BAR + 0x800)
#define TDEV_PBA    (TDEV_BAR + 0xc00)
#define TDEV_NR_MSIX 4
enum { TD_ADDR = 0x08, TD_WIDTH = 0x10, TD_ORDER = 0x14, TD_VALUE = 0x18, TD_CMD = 0x20,
       TD_STATUS = 0x28 };
enum { TD_LOAD = 1, TD_STORE = 2, TD_MSIX = 3, TD_INTX = 4 };
/* MemTxResult as the test device reports it. */
enum { ST_OK = 0, ST_DECODE = 1, ST_ACCESS = 2, ST_IOMMU = 3 };

static int edu = -1, tdev = -1;
static uint64_t edu_bar = EDU_BAR;    /* a program may move it (edu's DMA mask is 28 bits) */

/* Finds the devices present and places their BARs (memory + bus master on). */
static inline void hostile_devices(void)
{
    edu = pci_find(0x11e81234u);
    tdev = pci_find(0x7e5d1234u);
    if (edu >= 0) {
        pci_cfg_write((unsigned)edu, 0x10, (uint32_t)edu_bar, 4);
        pci_cfg_write((unsigned)edu, 4, 0x6, 2);
    }
    if (tdev >= 0) {
        pci_cfg_write((unsigned)tdev, 0x10, TDEV_BAR, 4);
        pci_cfg_write((unsigned)tdev, 0x14, 0, 4);
        pci_cfg_write((unsigned)tdev, 4, 0x6, 2);
    }
}

/* One test-device DMA (TD_LOAD / TD_STORE, little-endian): its status. */
static inline uint32_t tdev_dma(unsigned cmd, uint64_t addr, unsigned width, uint64_t *value)
{
    mmio_write64(TDEV_BAR + TD_ADDR, addr);
    mmio_write32(TDEV_BAR + TD_WIDTH, width);
    mmio_write32(TDEV_BAR + TD_ORDER, 0);
    if (cmd == TD_STORE)
        mmio_write64(TDEV_BAR + TD_VALUE, *value);
    mmio_write32(TDEV_BAR + TD_CMD, cmd);
    if (cmd == TD_LOAD)
        *value = mmio_read64(TDEV_BAR + TD_VALUE);
    return mmio_read32(TDEV_BAR + TD_STATUS);
}

/* The test device stores `v` (8 bytes) at RAM `addr` and loads it back:
 * proof that it still serves. */
static inline bool tdev_works(uint64_t addr)
{
    volatile uint64_t *p = (volatile uint64_t *)addr;
    *p = 0;
    uint64_t v = 0x600dd0a5c0ffee00ull ^ addr, back = 0;
    return tdev_dma(TD_STORE, addr, 8, &v) == ST_OK && *p == v &&
           tdev_dma(TD_LOAD, addr, 8, &back) == ST_OK && back == v;
}

/* One edu DMA (cmd 1: RAM -> buffer, 3: buffer -> RAM), waited for (bounded). */
static inline bool edu_dma(uint64_t src, uint64_t dst, uint64_t len, uint64_t cmd)
{
    mmio_write64(edu_bar + 0x80, src);
    mmio_write64(edu_bar + 0x88, dst);
    mmio_write64(edu_bar + 0x90, len);
    mmio_write64(edu_bar + 0x98, cmd);
    for (unsigned i = 0; i < 100000; i++)
        if (!(mmio_read64(edu_bar + 0x98) & 1))
            return true;
    return false;
}

/* edu copies `len` bytes RAM `a` -> its buffer -> RAM `b` and they match;
 * the device sees RAM address x at x + `delta` (an IOVA behind the IOMMU). */
static inline bool edu_works(uint64_t a, uint64_t b, unsigned len, uint64_t delta)
{
    volatile uint8_t *s = (volatile uint8_t *)a, *d = (volatile uint8_t *)b;
    for (unsigned i = 0; i < len; i++) {
        s[i] = (uint8_t)(i * 13 + 5);
        d[i] = 0;
    }
    if (!edu_dma(a + delta, 0x40000, len, 1) || !edu_dma(0x40000, b + delta, len, 3))
        return false;
    for (unsigned i = 0; i < len; i++)
        if (d[i] != (uint8_t)(i * 13 + 5))
            return false;
    return true;
}

/* ---- virtio-rng (1af4:1044): BAR at VBAR, queue 0 of 8 at VRING, one
 * 16-byte buffer at VBUF; the runner's source starts with
 * "minivmm-rng-src:0123456789abcdef" ---- */
#define VBAR      0xc0000000ull
#define VRING     0x500000ull
#define VBUF      (VRING + 0x3000)
static int vrng = -1;
static uint64_t vcommon, vnotify;
static uint16_t vavail;

/* Set up with VERSION_1 only, DRIVER_OK; false if absent. */
static inline bool virtio_setup(void)
{
    int d = pci_find(0x10441af4u);
    if (d < 0)
        return false;
    vrng = d;
    uint32_t mult;
    if (!virtio_pci_caps((unsigned)d, VBAR, &vcommon, &vnotify, &mult))
        return false;
    mmio_write8(vcommon + 0x14, 0);
    mmio_write8(vcommon + 0x14, 3);
    mmio_write32(vcommon + 0x08, 1);
    mmio_write32(vcommon + 0x0c, 1);
    mmio_write8(vcommon + 0x14, 0xb);
    memset((void *)VRING, 0, 0x3000);
    mmio_write16(vcommon + 0x16, 0);
    mmio_write16(vcommon + 0x18, 8);
    const uint64_t rings[3] = { VRING, VRING + 0x1000, VRING + 0x2000 };
    for (unsigned i = 0; i < 3; i++) {
        mmio_write32(vcommon + 0x20 + 8 * i, (uint32_t)rings[i]);
        mmio_write32(vcommon + 0x24 + 8 * i, 0);
    }
    mmio_write16(vcommon + 0x1c, 1);
    mmio_write8(vcommon + 0x14, 0xf);
    return mmio_read8(vcommon + 0x14) == 0xf;
}

/* Posts one 16-byte request (not kicked). */
static inline void virtio_post(void)
{
    memset((void *)VBUF, 0, 16);
    volatile uint64_t *d = (volatile uint64_t *)VRING;
    d[0] = VBUF;
    d[1] = 16 | 2ull << 32;                     /* device-writable */
    ((volatile uint16_t *)(VRING + 0x1000 + 4))[vavail % 8] = 0;
    barrier();
    vavail++;
    ((volatile uint16_t *)(VRING + 0x1000))[1] = vavail;
}

/* used->idx reaches `want` with the next 16 bytes of the runner's source. */
static inline bool virtio_done(uint16_t want, const char *data)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 2000000000ull;)
        if (((volatile uint16_t *)(VRING + 0x2000))[1] == want)
            return !strncmp((const char *)VBUF, data, 16);
    return false;
}

#endif
