/* The integration test device (--test-device log=PATH). Guest programs in
 * tests/guest/ drive it; the integration runner compares the log it writes with
 * what the guest program was expected to do. Every access below is logged as one
 * line, flushed at once, e.g.
 *     mmio write off=0x10 size=4 val=0x11223344
 *     pio read port=0xe02 size=2 val=0xa6a7
 *     rom write off=0x20 size=1 val=0x7f
 *     mark 0x3
 * Values are the device's view (little-endian) in hex, no leading zeros.
 */
#ifndef MINIVMM_TESTDEV_H
#define MINIVMM_TESTDEV_H

#include "vmm/layout.h"

/* MMIO window: 4 KiB at LAYOUT_TESTDEV_MMIO; valid and impl 1..8 bytes, unaligned
 * allowed, so every guest access arrives exactly as the guest issued it. Reads
 * return the pattern byte (offset & 0xff) ^ 0xa5 at each offset. */
#define TESTDEV_MMIO_SIZE    0x1000
/* Ports LAYOUT_TESTDEV_PIO .. +7: same pattern and logging ("pio", port number);
 * valid and impl 1..4 bytes, unaligned allowed. */
#define TESTDEV_PIO_SIZE     8
/* Control port (32-bit writes): commands below. Known commands are not logged
 * (their effect shows in later rom lines); others log "bad command 0xV". */
#define TESTDEV_PORT_CTRL    (LAYOUT_TESTDEV_PIO + 0x10)
/* Mark port (32-bit writes): logs "mark 0xV", so the log shows a guest's phases. */
#define TESTDEV_PORT_MARK    (LAYOUT_TESTDEV_PIO + 0x14)

#define TESTDEV_CMD_ROMD_OFF 1   /* ROM device: reads and writes go to its ops */
#define TESTDEV_CMD_ROMD_ON  2   /* ROM device: reads from its RAM backing again */
#define TESTDEV_CMD_ROM_SWAP 3   /* hand the ROM device a new backing (image 2) */
#define TESTDEV_CMD_STALL    4   /* a stuck device: the op returns after 60 s, holding
                                    the big lock all along (teardown tests) */
#define TESTDEV_CMD_FORBIDDEN_SYSCALL 5 /* the vCPU thread calls uname(2), which no
                                    seccomp filter allows; logs "syscall returned"
                                    if it comes back (--seccomp false or log) */

/* ROM device: 64 KiB at LAYOUT_TESTDEV_ROM, starting in romd mode with image 1.
 * Image n holds, at offset 0, x86 code `mov eax, TESTDEV_ROM_MAGIC(n); ret`
 * (b8 imm32 c3), callable from 32- or 64-bit code, and the rest of the image is
 * zero. In romd mode writes go to the device ("rom write ...", memory unchanged);
 * with romd off reads go to the device too ("rom read ...") and return 0x5a in
 * every byte. */
#define TESTDEV_ROM_SIZE     0x10000
#define TESTDEV_ROM_MAGIC(n) (0x524f4d30u + (n)) /* "0MOR" + n: 'ROM1', 'ROM2' in memory */

#endif
