/* libFuzzer target: PCI config space and what it controls. The input is a list
 * of 8-byte operations on a VM with the host bridge, an edu device and the
 * PCIe test device:
 *   byte 0: op % 6 -> 0 write CONFIG_ADDRESS (0xCF8), 1 CONFIG_DATA read,
 *           2 CONFIG_DATA write, 3 ECAM read, 4 ECAM write,
 *           5 memory access inside the PCI windows (moved BARs, MSI-X table)
 *   byte 1: width selector (1, 2, 4, 8 bytes; 8 only for memory)
 *   bytes 2-3: offset (ECAM: devfn << 12 | register; 0xCFC: 0-3; memory: byte 2
 *              picks a 16-byte slot in the first 4 KiB of the MiB byte 3 picks)
 *   bytes 4-7: value
 * Every device is reset after each input, so inputs do not depend on each
 * other. Crashes, sanitizer reports and hangs are the findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "iommu/iommu.h"
#include "pci/pci.h"
#include "tests/unit/fake_vm.h"
#include "vmm/layout.h"

static struct fake_vm f;
static unsigned msis;

static void count_msi(struct vm *vm, const struct MSIMessage *m)
{
    (void)vm, (void)m;
    msis++;
}

static void setup(void)
{
    if (!fake_vm_init_with_ram(&f, 16 << 20, 1))
        abort();
    f.vm.msi_hook = count_msi;
    if (pci_host_init(&f.vm) || edu_init(&f.vm) || dma_testdev_init(&f.vm))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    struct vm *vm = &f.vm;
    for (size_t i = 0; i + 8 <= size && i < 8 * 4096; i += 8) {
        const uint8_t *op = data + i;
        unsigned width = 1u << (op[1] & 3);
        uint32_t off = (uint32_t)op[2] | (uint32_t)op[3] << 8;
        uint64_t val = (uint64_t)op[4] | (uint64_t)op[5] << 8 | (uint64_t)op[6] << 16 |
                       (uint64_t)op[7] << 24;
        uint64_t v = 0;
        if (width == 8 && op[0] % 6 != 5)
            width = 4;
        switch (op[0] % 6) {
        case 0:
            address_space_write(vm->as_io, 0xcf8, &val, 4);
            break;
        case 1:
            address_space_read(vm->as_io, 0xcfc + (off & 3), &v, width);
            break;
        case 2:
            address_space_write(vm->as_io, 0xcfc + (off & 3), &val, width);
            break;
        case 3:
            address_space_read(vm->as_mem, LAYOUT_PCI_ECAM + (off & 0xfffff), &v, width);
            break;
        case 4:
            address_space_write(vm->as_mem, LAYOUT_PCI_ECAM + (off & 0xfffff), &val, width);
            break;
        case 5: {
            /* where BARs land: the 32-bit window and the start of the 64-bit one */
            uint64_t base = op[1] & 4 ? 0x100000000ull : LAYOUT_PCI_MMIO32;
            uint64_t a = base + ((uint64_t)(off >> 8) << 20) + (off & 0xff) * 16 + (op[1] >> 4);
            if (op[1] & 8)
                address_space_write(vm->as_mem, a, &val, width);
            else
                address_space_read(vm->as_mem, a, &v, width);
            break;
        }
        }
    }
    vm_devices_reset(vm);
    return 0;
}
