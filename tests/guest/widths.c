/* widths: access sizes and alignments reach the test device exactly as issued.
 *
 * Phase 1 (mark 0x1): for size 1, 2, 4, 8, for base 0x0 and 0xf8 (where the
 * pattern wraps from 0xff to 0x00), for alignment 0..7: one MMIO write of
 * `size` bytes at off = base + alignment, then one MMIO read there.
 * Phase 2 (mark 0x2): for size 1, 2, 4, for port 0xe00 + 0 .. 0xe00 + 8 - size:
 * one OUT of `size` bytes, then one IN.
 * Then mark 0x3.
 *
 * Written values: byte i of an access of `size` bytes at offset `off` is
 * (size << 4) | ((off + i) & 0xf), little-endian (e.g. 4 bytes at 0x41:
 * 0x44434241). Read values must be the device pattern: byte i is
 * ((off + i) & 0xff) ^ 0xa5, little-endian.
 * tests/integration/guests.sh rebuilds the expected log from this description. */
#include "guest.h"

static unsigned failures;

static uint64_t pattern(unsigned off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)(((off + i) & 0xff) ^ 0xa5) << (8 * i);
    return v;
}

static uint64_t wvalue(unsigned off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)((size << 4) | ((off + i) & 0xf)) << (8 * i);
    return v;
}

static void check(const char *what, unsigned where, unsigned size, uint64_t got)
{
    uint64_t want = pattern(where, size);
    if (got != want) {
        failures++;
        guest_printf("mismatch: %s 0x%x size %u: got 0x%lx, want 0x%lx\n",
                     what, where, size, (unsigned long)got, (unsigned long)want);
    }
}

static void mmio_phase(void)
{
    static const unsigned bases[] = { 0x0, 0xf8 };
    for (unsigned size = 1; size <= 8; size <<= 1) {
        for (unsigned b = 0; b < 2; b++) {
            for (unsigned a = 0; a < 8; a++) {
                unsigned off = bases[b] + a;
                uint64_t addr = LAYOUT_TESTDEV_MMIO + off, w = wvalue(off, size), r;
                switch (size) {
                case 1: mmio_write8(addr, (uint8_t)w); r = mmio_read8(addr); break;
                case 2: mmio_write16(addr, (uint16_t)w); r = mmio_read16(addr); break;
                case 4: mmio_write32(addr, (uint32_t)w); r = mmio_read32(addr); break;
                default: mmio_write64(addr, w); r = mmio_read64(addr); break;
                }
                check("mmio off", off, size, r);
            }
        }
    }
}

static void pio_phase(void)
{
    for (unsigned size = 1; size <= 4; size <<= 1) {
        for (unsigned a = 0; a + size <= TESTDEV_PIO_SIZE; a++) {
            uint16_t port = (uint16_t)(LAYOUT_TESTDEV_PIO + a);
            uint32_t w = (uint32_t)wvalue(a, size), r;
            switch (size) {
            case 1: outb(port, (uint8_t)w); r = inb(port); break;
            case 2: outw(port, (uint16_t)w); r = inw(port); break;
            default: outl(port, w); r = inl(port); break;
            }
            /* The pattern is defined on the offset in the window. */
            check("pio offset", a, size, r);
        }
    }
}

int guest_main(void *info, unsigned long magic)
{
    (void)info;
    (void)magic;
    puts("widths: mmio 1/2/4/8 bytes, pio 1/2/4 bytes, alignments 0..7\n");
    mark(1);
    mmio_phase();
    mark(2);
    pio_phase();
    mark(3);
    if (failures) {
        guest_printf("widths: %u mismatches\n", failures);
        return 1;
    }
    puts("widths: ok\n");
    return 0;
}
