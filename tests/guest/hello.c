/* hello: the smallest guest. 64-bit entry; prints one line and exits 0. */
#include "guest.h"

int guest_main(void *info, unsigned long magic)
{
    (void)info;
    (void)magic;
    puts("hello from minivmm guest\n");
    return 0;
}
