/* libFuzzer target for the VT-d register file and page walk: the input is a
 * program of register accesses, guest-RAM stores (tables, queue) and
 * translations/interrupt remaps on a fake VM with the unit. Whatever the guest
 * writes must end in a fault record, all-ones or an ignored write, never a
 * crash, a hang or a sanitizer report.
 *
 * Each operation is one byte of opcode followed by its operands:
 *   0: register write  off(2) size(1) value(8)
 *   1: register read   off(2) size(1)
 *   2: RAM store       addr(3, in the first 16 MiB, 8-aligned) value(8)
 *   3: translate       rid(2) iova(8) access(1)
 *   4: interrupt       rid(2) address-low(4) data(4)
 */
#include <stdint.h>
#include <string.h>

#include "devices/device.h"
#include "iommu/iommu.h"
#include "iommu/vtd.h"
#include "tests/unit/fake_vm.h"
#include "util/rcu.h"
#include "vmm/irq.h"

static void msi_sink(struct vm *vm, const MSIMessage *msg)
{
    (void)vm, (void)msg;
}

static uint64_t take(const uint8_t **p, const uint8_t *end, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n && *p < end; i++, (*p)++)
        v |= (uint64_t)**p << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fake_vm f;
    if (!fake_vm_init_with_ram(&f, 16ull << 20, 1))
        return 0;
    f.vm.msi_hook = msi_sink;
    VTDState *s = vtd_create(&f.vm, &(VTDConfig){ .caching_mode = size & 1, .intremap = true });
    const uint8_t *p = data, *end = data + size;
    for (unsigned ops = 0; s && p < end && ops < 512; ops++) {
        uint64_t v;
        switch (*p++ % 5) {
        case 0: {
            unsigned off = (unsigned)take(&p, end, 2) & 0xfff;
            unsigned sz = 1u << (take(&p, end, 1) & 3);
            v = take(&p, end, 8);
            address_space_write(f.vm.as_mem, VTD_BASE + (off & ~(sz - 1)), &v, sz);
            break;
        }
        case 1: {
            unsigned off = (unsigned)take(&p, end, 2) & 0xfff;
            unsigned sz = 1u << (take(&p, end, 1) & 3);
            v = 0;
            address_space_read(f.vm.as_mem, VTD_BASE + (off & ~(sz - 1)), &v, sz);
            break;
        }
        case 2: {
            uint64_t addr = (take(&p, end, 3) & 0xffffff) & ~7ull;
            address_space_stq_le(f.vm.as_mem, addr, take(&p, end, 8));
            break;
        }
        case 3: {
            uint16_t rid = (uint16_t)take(&p, end, 2);
            uint64_t iova = take(&p, end, 8);
            MemoryRegion *mr = vtd_dma_region(s, rid);
            mr->iommu_ops->translate(mr, iova, (IOMMUAccessFlags)(take(&p, end, 1) % 3 + 1),
                                     true);
            break;
        }
        case 4: {
            uint16_t rid = (uint16_t)take(&p, end, 2);
            MSIMessage m = { .address = 0xfee00000ull | (take(&p, end, 4) & 0xfffff),
                             .data = (uint32_t)take(&p, end, 4) };
            vm_send_msi(&f.vm, &m, rid);
            break;
        }
        }
    }
    vm_devices_destroy(&f.vm);
    fake_vm_destroy(&f);
    /* Regions and views are freed after a grace period: wait for it, or
     * libFuzzer takes them for a leak and runs its leak check per input. */
    rcu_barrier();
    return 0;
}
