/* A minimal modern virtio-blk driver for guest programs (tests/guest/): the
 * device's BAR at 0xc0000000, split queue 0 of 32 entries in RING, requests of
 * three descriptors (header, data, status; a flush has no data). A program
 * includes it once, after hostile.h or pcidev.h. */
#ifndef GUEST_VBLK_H
#define GUEST_VBLK_H

#define BAR     0xc0000000ull
#define RING    0x200000ull
#define DESC    (RING + 0x0000)
#define AVAIL   (RING + 0x1000)
#define USED    (RING + 0x2000)
#define HDR     (RING + 0x3000)
#define STATUS  (RING + 0x3800)
#define DATA    (RING + 0x10000)
#define QSIZE   32
#define BIG     0x10000u
#define USED_LEN (4 + 8 * QSIZE)

static unsigned devfn;
static uint64_t common, notify;
static uint32_t notify_mult;
static uint16_t avail_idx;

static inline bool find(void)
{
    int d = pci_find(0x10421af4u);
    if (d < 0)
        return false;
    devfn = (unsigned)d;
    return virtio_pci_caps(devfn, BAR, &common, &notify, &notify_mult);
}

static inline uint8_t status(void) { return mmio_read8(common + 0x14); }

static inline bool reset(void)
{
    mmio_write8(common + 0x14, 0);
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 4000000000ull;)
        if (status() == 0)
            return true;
    return false;
}

static inline void setup_rings(uint64_t desc_at, uint64_t avail_at, uint64_t used_at);

static inline void setup(void) { setup_rings(DESC, AVAIL, USED); }

static inline void setup_rings(uint64_t desc_at, uint64_t avail_at, uint64_t used_at)
{
    if (!reset())
        guest_fail(3, "reset never completed");
    mmio_write8(common + 0x14, 3);
    mmio_write32(common + 0x08, 1);
    mmio_write32(common + 0x0c, 1);                 /* VERSION_1 */
    mmio_write8(common + 0x14, 0xb);
    if (status() != 0xb)
        guest_fail(3, "FEATURES_OK refused");
    ((volatile uint32_t *)AVAIL)[0] = 0;           /* flags, idx */
    ((volatile uint32_t *)USED)[0] = 0;
    memset((void *)USED, 0, USED_LEN);
    avail_idx = 0;
    mmio_write16(common + 0x16, 0);
    if (mmio_read16(common + 0x18) < QSIZE)
        guest_fail(3, "queue 0 smaller than %u", QSIZE);
    mmio_write16(common + 0x18, QSIZE);
    const uint64_t rings[3] = { desc_at, avail_at, used_at };
    for (unsigned i = 0; i < 3; i++) {              /* 64-bit fields: two 32-bit halves */
        mmio_write32(common + 0x20 + 8 * i, (uint32_t)rings[i]);
        mmio_write32(common + 0x24 + 8 * i, (uint32_t)(rings[i] >> 32));
    }
    mmio_write16(common + 0x1c, 1);
    mmio_write8(common + 0x14, 0xf);
}

static inline void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    volatile uint64_t *d = (volatile uint64_t *)(DESC + 16 * i);
    d[0] = addr;
    d[1] = len | (uint64_t)flags << 32 | (uint64_t)next << 48;
}

/* Request `n` (descriptors 3n..3n+2): type 0 read / 1 write of `len` bytes at
 * sector, or with `len` 0 a request without data (4: flush). */
static inline void queue_req(unsigned n, uint32_t type, uint64_t sector, uint64_t buf, uint32_t len)
{
    volatile uint64_t *h = (volatile uint64_t *)(HDR + 16 * n);
    h[0] = type;
    h[1] = sector;
    *(volatile uint8_t *)(STATUS + n) = 0xff;
    if (len) {
        desc(3 * n, HDR + 16 * n, 16, 1, (uint16_t)(3 * n + 1));
        desc(3 * n + 1, buf, len, (uint16_t)(1 | (type == 0 ? 2 : 0)), (uint16_t)(3 * n + 2));
    } else {
        desc(3 * n, HDR + 16 * n, 16, 1, (uint16_t)(3 * n + 2));
    }
    desc(3 * n + 2, STATUS + n, 1, 2, 0);
    ((volatile uint16_t *)(AVAIL + 4))[avail_idx % QSIZE] = (uint16_t)(3 * n);
    barrier();
    avail_idx++;
    ((volatile uint16_t *)AVAIL)[1] = avail_idx;
}

static inline void kick(void) { mmio_write16(notify, 0); }

static inline bool wait_used(uint16_t want)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 4000000000ull;)
        if (((volatile uint16_t *)USED)[1] == want)
            return true;
    return false;
}

/* One request at `sector`, waited for; any status but OK fails the program. */
static inline void rw_at(uint32_t type, uint64_t sector, uint64_t buf, uint32_t len)
{
    static const char *const names[] = { "read", "write", "?", "?", "flush" };
    queue_req(0, type, sector, buf, len);
    kick();
    if (!wait_used(avail_idx) || *(volatile uint8_t *)STATUS != 0)
        guest_fail(4, "%s request: used %u status %u", names[type < 5 ? type : 2],
                   ((volatile uint16_t *)USED)[1], *(volatile uint8_t *)STATUS);
}

static inline void rw(uint32_t type, uint64_t buf, uint32_t len) { rw_at(type, 0, buf, len); }

#endif
