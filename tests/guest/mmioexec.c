/* mmioexec: jumps into the test device's MMIO window. The vCPU cannot fetch
 * code there, so minivmm exits with status 6 and a crash report; the report
 * must not read the instruction bytes through the device (its read ops have
 * side effects: here, a "mmio read" line in the test-device log). */
#include "guest.h"

int guest_main(void *info, unsigned long magic)
{
    (void)info;
    (void)magic;
    puts("mmioexec: jumping into MMIO\n");
    mark(1);
    void (*code)(void) = (void (*)(void))LAYOUT_TESTDEV_MMIO;
    code();
    puts("mmioexec: still running\n");
    return 0x7f;
}
