/* Shared by the PCI unit tests: a fake VM with RAM and a PCI host, config
 * accesses as a vCPU does them, and recorded MSIs. */
#ifndef MINIVMM_TEST_PCI_UTIL_H
#define MINIVMM_TEST_PCI_UTIL_H

#include "devices/devices.h"
#include "iommu/iommu.h"
#include "pci/dma.h"
#include "pci/pci.h"
#include "tests/unit/fake_vm.h"
#include "vmm/layout.h"

#define MAX_MSIS 32
static MSIMessage msis[MAX_MSIS];
static unsigned nr_msis;

static inline void record_msi(struct vm *vm, const MSIMessage *m)
{
    (void)vm;
    if (nr_msis < MAX_MSIS)
        msis[nr_msis] = *m;
    nr_msis++;
}

static inline bool pci_vm_init(struct fake_vm *f)
{
    if (!fake_vm_init_with_ram(f, 64 << 20, 1))
        return false;
    f->vm.msi_hook = record_msi;
    nr_msis = 0;
    return pci_host_init(&f->vm) == 0;
}

static inline void pci_vm_destroy(struct fake_vm *f)
{
    vm_devices_destroy(&f->vm);
    fake_vm_destroy(f);
}

static inline uint32_t cf8_read(struct vm *vm, uint8_t devfn, uint32_t off, unsigned len)
{
    uint32_t a = 0x80000000u | devfn << 8 | (off & 0xfc), v = 0;
    address_space_write(vm->as_io, 0xcf8, &a, 4);
    address_space_read(vm->as_io, 0xcfc + (off & 3), &v, len);
    return v;
}

static inline void cf8_write(struct vm *vm, uint8_t devfn, uint32_t off, uint32_t v, unsigned len)
{
    uint32_t a = 0x80000000u | devfn << 8 | (off & 0xfc);
    address_space_write(vm->as_io, 0xcf8, &a, 4);
    address_space_write(vm->as_io, 0xcfc + (off & 3), &v, len);
}

static inline uint32_t ecam_read(struct vm *vm, uint8_t bus, uint8_t devfn, uint32_t off,
                                 unsigned len)
{
    uint32_t v = 0;
    address_space_read(vm->as_mem, LAYOUT_PCI_ECAM + ((uint64_t)bus << 20) +
                                       ((uint64_t)devfn << 12) + off, &v, len);
    return v;
}

static inline void ecam_write(struct vm *vm, uint8_t devfn, uint32_t off, uint32_t v,
                              unsigned len)
{
    address_space_write(vm->as_mem, LAYOUT_PCI_ECAM + ((uint64_t)devfn << 12) + off, &v, len);
}

static inline uint32_t mmio_read32(struct vm *vm, uint64_t addr)
{
    uint32_t v = 0;
    address_space_read(vm->as_mem, addr, &v, 4);
    return v;
}

static inline MemTxResult mmio_write64(struct vm *vm, uint64_t addr, uint64_t v)
{
    return address_space_write(vm->as_mem, addr, &v, 8);
}

#endif
