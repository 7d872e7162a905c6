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

#include "vblk.h"

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
