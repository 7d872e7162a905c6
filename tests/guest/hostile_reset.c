/* hostile_reset: resets during I/O on virtio-blk (run with --disk on a
 * scratch image of at least 1 MiB).
 *  1. a modern virtio-pci driver (BAR at 0xc0000000, split queue 0 of 32):
 *     writes a pattern to the first 4 KiB, reads it back
 *  2. eight 64 KiB reads in flight, then status := 0 at once: the reset
 *     completes, and afterwards the device writes nothing more into the
 *     rings or buffers (marker bytes checked ~20 ms later)
 *  3. the same with bus mastering turned off instead of the reset: the
 *     device must not touch memory while it is off; then reset
 *  4. 40 rounds of set-up, requests, kick and immediate reset
 *  5. rings placed in device memory (the device's own BAR, the LAPIC,
 *     unassigned space) and kicked; a notify of a queue that does not exist
 *  6. set up once more: the pattern reads back intact.
 * Prints "hostile_reset: ok" and exits 0. */
#include "hostile.h"

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

static bool find(void)
{
    int d = pci_find(0x10421af4u);
    if (d < 0)
        return false;
    devfn = (unsigned)d;
    for (unsigned c = pci_cfg_read(devfn, 0x34, 1); c; c = pci_cfg_read(devfn, c + 1, 1)) {
        if (pci_cfg_read(devfn, c, 1) != 0x09)
            continue;
        unsigned bar = pci_cfg_read(devfn, c + 4, 1);
        pci_cfg_write(devfn, 0x10 + 4 * bar, (uint32_t)BAR, 4);
        pci_cfg_write(devfn, 0x14 + 4 * bar, 0, 4);
        uint64_t at = BAR + pci_cfg_read(devfn, c + 8, 4);
        if (pci_cfg_read(devfn, c + 3, 1) == 1)
            common = at;
        if (pci_cfg_read(devfn, c + 3, 1) == 2)
            notify = at, notify_mult = pci_cfg_read(devfn, c + 16, 4);
    }
    pci_cfg_write(devfn, 4, 0x6, 2);
    return common && notify;
}

static uint8_t status(void) { return mmio_read8(common + 0x14); }

static bool reset(void)
{
    mmio_write8(common + 0x14, 0);
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 4000000000ull;)
        if (status() == 0)
            return true;
    return false;
}

static void setup_rings(uint64_t desc_at, uint64_t avail_at, uint64_t used_at);

static void setup(void) { setup_rings(DESC, AVAIL, USED); }

static void setup_rings(uint64_t desc_at, uint64_t avail_at, uint64_t used_at)
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

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    volatile uint64_t *d = (volatile uint64_t *)(DESC + 16 * i);
    d[0] = addr;
    d[1] = len | (uint64_t)flags << 32 | (uint64_t)next << 48;
}

/* Request `n` (descriptors 3n..3n+2): type 0 read / 1 write of `len` bytes at sector. */
static void queue_req(unsigned n, uint32_t type, uint64_t sector, uint64_t buf, uint32_t len)
{
    volatile uint64_t *h = (volatile uint64_t *)(HDR + 16 * n);
    h[0] = type;
    h[1] = sector;
    *(volatile uint8_t *)(STATUS + n) = 0xff;
    desc(3 * n, HDR + 16 * n, 16, 1, (uint16_t)(3 * n + 1));
    desc(3 * n + 1, buf, len, (uint16_t)(1 | (type == 0 ? 2 : 0)), (uint16_t)(3 * n + 2));
    desc(3 * n + 2, STATUS + n, 1, 2, 0);
    ((volatile uint16_t *)(AVAIL + 4))[avail_idx % QSIZE] = (uint16_t)(3 * n);
    barrier();
    avail_idx++;
    ((volatile uint16_t *)AVAIL)[1] = avail_idx;
}

static void kick(void) { mmio_write16(notify, 0); }

static bool wait_used(uint16_t want)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 4000000000ull;)
        if (((volatile uint16_t *)USED)[1] == want)
            return true;
    return false;
}

static void rw(uint32_t type, uint64_t buf, uint32_t len)
{
    queue_req(0, type, 0, buf, len);
    kick();
    if (!wait_used(avail_idx) || *(volatile uint8_t *)STATUS != 0)
        guest_fail(4, "%s request: used %u status %u", type ? "write" : "read",
                   ((volatile uint16_t *)USED)[1], *(volatile uint8_t *)STATUS);
}

static void pattern_check(const char *when)
{
    volatile uint8_t *b = (volatile uint8_t *)(DATA + 0x1000);
    memset((void *)(DATA + 0x1000), 0, 4096);
    rw(0, DATA + 0x1000, 4096);
    for (unsigned i = 0; i < 4096; i++)
        if (b[i] != (uint8_t)(i * 7 + 3))
            guest_fail(5, "%s: byte %u reads %x", when, i, b[i]);
}

/* Eight big reads in flight; then ring, headers and buffers get marker bytes. */
static void in_flight(void)
{
    for (unsigned n = 0; n < 8; n++)
        queue_req(n, 0, 8 * n, DATA + 0x2000 + (uint64_t)BIG * n, BIG);
    kick();
}

static void mark_memory(void)
{
    memset((void *)USED, 0xee, USED_LEN);
    memset((void *)STATUS, 0xee, 16);
    for (unsigned n = 0; n < 8; n++)
        memset((void *)(DATA + 0x2000 + (uint64_t)BIG * n), 0xee, 64);
}

/* ~20 ms later every marker byte is still there: the device stayed quiet. */
static void check_quiet(const char *what)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 60000000ull;)
        cpu_relax();
    for (unsigned i = 0; i < USED_LEN; i++)
        if (*(volatile uint8_t *)(USED + i) != 0xee)
            guest_fail(6, "%s: used ring byte %u written afterwards", what, i);
    for (unsigned n = 0; n < 8; n++)
        if (*(volatile uint8_t *)(STATUS + n) != 0xee ||
            *(volatile uint8_t *)(DATA + 0x2000 + (uint64_t)BIG * n) != 0xee)
            guest_fail(6, "%s: request %u written afterwards", what, n);
    guest_printf("hostile_reset: %s: the device stays quiet\n", what);
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    if (!find())
        guest_fail(2, "no virtio-blk (1af4:1042) with its capabilities");
    setup();
    volatile uint8_t *b = (volatile uint8_t *)DATA;
    for (unsigned i = 0; i < 4096; i++)
        b[i] = (uint8_t)(i * 7 + 3);
    rw(1, DATA, 4096);
    pattern_check("first read");
    puts("hostile_reset: 4 KiB written and read back\n");

    in_flight();
    if (!reset())
        guest_fail(6, "reset with requests in flight never completed");
    mark_memory();
    check_quiet("reset with 8 requests in flight");

    setup();
    in_flight();
    pci_cfg_write(devfn, 4, 0x2, 2);                /* bus mastering off */
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 10000000ull;)
        cpu_relax();
    mark_memory();
    check_quiet("bus mastering off with 8 requests in flight");
    pci_cfg_write(devfn, 4, 0x6, 2);
    setup();

    for (unsigned r = 0; r < 40; r++) {
        setup();
        in_flight();
        if (!reset())
            guest_fail(7, "reset %u never completed", r);
    }
    /* Rings in device memory: the device's own BAR (common configuration,
     * MSI-X table), the LAPIC, unassigned space; each kicked. */
    static const uint64_t rings[][3] = {
        { BAR, BAR + 0x100, BAR + 0x200 },
        { DESC, AVAIL, BAR + 0x4000 },
        { DESC, 0xfee00000ull, USED },
        { 0xdf000000ull, AVAIL, USED },
    };
    for (unsigned i = 0; i < 4; i++) {
        setup_rings(rings[i][0], rings[i][1], rings[i][2]);
        queue_req(0, 0, 0, DATA, 512);
        kick();
        for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 20000000ull && !(status() & 0x40);)
            cpu_relax();
        guest_printf("hostile_reset: rings at %lx %lx %lx: status 0x%x\n",
                     (unsigned long)rings[i][0], (unsigned long)rings[i][1],
                     (unsigned long)rings[i][2], status());
        if (!(status() & 0x40))
            guest_fail(8, "rings in device memory: no NEEDS_RESET");
    }
    setup();
    mmio_write16(notify + 7 * notify_mult, 7);        /* queue 7: none */
    mmio_write16(notify + 0x1000, 0xffff);            /* beyond the notify area */
    pattern_check("after the resets");
    puts("hostile_reset: 40 resets during I/O, then the data reads back\n");
    puts("hostile_reset: ok\n");
    return 0;
}
