/* romexec: executing from, writing to and switching a ROM device.
 *
 *   mark 1  call ROM image 1 (executes from the read-only KVM mapping) -> MAGIC(1)
 *   mark 2  write byte 0x7f at ROM+0x20 (romd mode: goes to the device, logged
 *           "rom write off=0x20 size=1 val=0x7f"); memory must stay unchanged
 *           (0 at 0x20, code bytes b8 .. c3 at 0..5), reads are not logged
 *   mark 3  CMD_ROMD_OFF; read 4 bytes at 0x0 and 1 byte at 0x21 (logged, all
 *           bytes 0x5a); write 2 bytes 0xbeef at 0x40 (logged)
 *   mark 4  CMD_ROMD_ON; ROM+0x20 still 0; call -> MAGIC(1)
 *   mark 5  CMD_ROM_SWAP; call -> MAGIC(2)
 *   mark 6  done
 * Exit codes: 0 ok; 1x wrong call result in phase x; 2x wrong memory value. */
#include "guest.h"

typedef uint32_t (*rom_fn)(void);

static void call_rom(unsigned phase, unsigned image)
{
    uint32_t r = ((rom_fn)LAYOUT_TESTDEV_ROM)();
    if (r != TESTDEV_ROM_MAGIC(image))
        guest_fail(0x10 + phase, "phase %u: ROM code returned 0x%x, want 0x%x", phase, r,
                   TESTDEV_ROM_MAGIC(image));
    guest_printf("romexec: phase %u: ROM image %u returned 0x%x\n", phase, image, r);
}

static void expect(unsigned phase, const char *what, uint64_t got, uint64_t want)
{
    if (got != want)
        guest_fail(0x20 + phase, "phase %u: %s = 0x%lx, want 0x%lx", phase, what,
                   (unsigned long)got, (unsigned long)want);
}

int guest_main(void *info, unsigned long magic)
{
    const uint64_t rom = LAYOUT_TESTDEV_ROM;
    (void)info;
    (void)magic;

    mark(1);
    call_rom(1, 1);

    mark(2);
    mmio_write8(rom + 0x20, 0x7f);
    expect(2, "rom[0x20] after write", mmio_read8(rom + 0x20), 0);
    expect(2, "rom[0]", mmio_read8(rom + 0), 0xb8);
    expect(2, "rom[5]", mmio_read8(rom + 5), 0xc3);

    mark(3);
    outl(TESTDEV_PORT_CTRL, TESTDEV_CMD_ROMD_OFF);
    expect(3, "rom[0..3] with romd off", mmio_read32(rom + 0), 0x5a5a5a5a);
    expect(3, "rom[0x21] with romd off", mmio_read8(rom + 0x21), 0x5a);
    mmio_write16(rom + 0x40, 0xbeef);

    mark(4);
    outl(TESTDEV_PORT_CTRL, TESTDEV_CMD_ROMD_ON);
    expect(4, "rom[0x20] with romd on again", mmio_read8(rom + 0x20), 0);
    expect(4, "rom[0x40] with romd on again", mmio_read16(rom + 0x40), 0);
    call_rom(4, 1);

    mark(5);
    outl(TESTDEV_PORT_CTRL, TESTDEV_CMD_ROM_SWAP);
    call_rom(5, 2);

    mark(6);
    puts("romexec: ok\n");
    return 0;
}
