/* blkflush: what a guest has flushed is on the image even if the VMM dies at
 * once (run with --disk on a scratch image of at least 64 KiB).
 *  1. writes a marker, "minivmm-flushed-N" with N the `token=` number from
 *     the command line, padded with newlines to 512 bytes, to sector 16 and
 *     flushes (VIRTIO_BLK_T_FLUSH: fdatasync);
 *  2. prints "blkflush: flushed N" and then waits, never exiting: the
 *     runner kills minivmm with SIGKILL and reads sector 16 of the image.
 * Any request that fails exits non-zero. */
#include "hostile.h"

#include "vblk.h"

#define MARK_SECTOR 16

int guest_main(void *info, unsigned long magic)
{
    (void)magic;
    struct hvm_start_info *si = info;
    const char *cmdline = si->cmdline_paddr ? (const char *)si->cmdline_paddr : "";
    unsigned long token = cmdline_ulong(cmdline, "token", 0);
    if (!token)
        guest_fail(2, "no token= on the command line");
    if (!find())
        guest_fail(2, "no virtio-blk (1af4:1042) with its capabilities");
    setup();
    volatile char *b = (volatile char *)DATA;
    static const char prefix[] = "minivmm-flushed-";
    unsigned n = 0;
    for (; prefix[n]; n++)
        b[n] = prefix[n];
    char digits[24];
    unsigned nd = 0;
    for (unsigned long t = token; t; t /= 10)
        digits[nd++] = (char)('0' + t % 10);
    while (nd)
        b[n++] = digits[--nd];
    for (unsigned i = n; i < 512; i++)
        b[i] = '\n';
    rw_at(1, MARK_SECTOR, DATA, 512);
    rw_at(4, 0, 0, 0);
    guest_printf("blkflush: flushed %lu\n", token);
    for (;;)
        cpu_relax();
}
