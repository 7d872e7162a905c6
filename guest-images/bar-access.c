/* bar-access: exact-width accesses to a PCI memory BAR from the test guest's
 * /init. Usage: bar-access RESOURCE-FILE OP...  with OP one of
 *   wW@OFFSET=VALUE   write VALUE with width W (1, 2, 4 or 8 bytes)
 *   rW@OFFSET         read with width W; prints "rW@OFFSET=0xVALUE"
 * (numbers in C notation). RESOURCE-FILE is /sys/bus/pci/devices/X/resourceN,
 * which a memory BAR offers only as mmap: the test kernel has no /dev/mem, so
 * busybox devmem cannot be used, and one process for a whole sequence costs one
 * exec (seconds on the emulating host) instead of one per access. Each access
 * is a single volatile load or store of its width, so the VMM sees exactly it.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(const char *op, char *kind, unsigned *width, uint64_t *off, uint64_t *val)
{
    char *end;
    *kind = op[0];
    if ((*kind != 'r' && *kind != 'w') || !op[1])
        return -1;
    *width = (unsigned)strtoul(op + 1, &end, 10);
    if ((*width != 1 && *width != 2 && *width != 4 && *width != 8) || *end != '@')
        return -1;
    *off = strtoull(end + 1, &end, 0);
    if (*kind == 'r')
        return *end ? -1 : 0;
    if (*end != '=')
        return -1;
    *val = strtoull(end + 1, &end, 0);
    return *end ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bar-access RESOURCE-FILE r|wWIDTH@OFFSET[=VALUE]...\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_SYNC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
        perror(argv[1]);
        return 1;
    }
    volatile uint8_t *bar = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (bar == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        char kind;
        unsigned w;
        uint64_t off, val = 0;
        if (parse(argv[i], &kind, &w, &off, &val) < 0 || off % w || off + w > (uint64_t)st.st_size) {
            fprintf(stderr, "bar-access: bad operation '%s'\n", argv[i]);
            return 2;
        }
        volatile void *p = bar + off;
        if (kind == 'w') {
            switch (w) {
            case 1: *(volatile uint8_t *)p = (uint8_t)val; break;
            case 2: *(volatile uint16_t *)p = (uint16_t)val; break;
            case 4: *(volatile uint32_t *)p = (uint32_t)val; break;
            default: *(volatile uint64_t *)p = val; break;
            }
            continue;
        }
        switch (w) {
        case 1: val = *(volatile uint8_t *)p; break;
        case 2: val = *(volatile uint16_t *)p; break;
        case 4: val = *(volatile uint32_t *)p; break;
        default: val = *(volatile uint64_t *)p; break;
        }
        printf("r%u@0x%" PRIx64 "=0x%" PRIx64 "\n", w, off, val);
    }
    return 0;
}
