/* A tiny virtio-pci modern driver for the unit tests: finds the vendor
 * capabilities, negotiates features and sets up queue 0 as a split ring at
 * VQ_DESC/VQ_AVAIL/VQ_USED, all through config and MMIO accesses as a vCPU
 * does them. The device's I/O work is run with virtio_device_run. */
#ifndef MINIVMM_TEST_VIRTIO_DRIVER_H
#define MINIVMM_TEST_VIRTIO_DRIVER_H

#include "tests/unit/virtio_util.h"

typedef struct Drv {
    struct fake_vm f;
    struct vm *vm;
    uint8_t devfn;
    PCIDevice *d;
    VirtIODevice *vdev;
    uint8_t *ram;
    uint64_t bar;
    uint8_t cap[6];            /* config offset of each capability type */
} Drv;

static inline uint32_t drv_mmio_read(Drv *v, uint64_t off, unsigned size)
{
    uint32_t x = 0;
    address_space_read(v->vm->as_mem, v->bar + off, &x, size);
    return x;
}

static inline void drv_mmio_write(Drv *v, uint64_t off, uint32_t x, unsigned size)
{
    address_space_write(v->vm->as_mem, v->bar + off, &x, size);
}

static inline uint32_t drv_common(Drv *v, unsigned reg, unsigned size)
{
    return drv_mmio_read(v, VIRTIO_PCI_COMMON_OFF + reg, size);
}

static inline void drv_set_common(Drv *v, unsigned reg, uint32_t x, unsigned size)
{
    drv_mmio_write(v, VIRTIO_PCI_COMMON_OFF + reg, x, size);
}

/* After the device was created on v->f: finds it, its capabilities, enables decode. */
static inline bool drv_attach(Drv *v)
{
    v->vm = &v->f.vm;
    v->devfn = PCI_DEVFN(1, 0);
    v->d = pci_bus_device(pci_root_bus(v->vm), v->devfn);
    if (!v->d)
        return false;
    v->vdev = (VirtIODevice *)v->d;
    v->ram = vm_guest_ram(v->vm, 0, 0x100000);
    for (uint8_t c = (uint8_t)cf8_read(v->vm, v->devfn, PCI_CAPABILITY_LIST, 1); c;
         c = (uint8_t)cf8_read(v->vm, v->devfn, c + 1u, 1))
        if (cf8_read(v->vm, v->devfn, c, 1) == PCI_CAP_ID_VNDR) {
            unsigned type = cf8_read(v->vm, v->devfn, c + 3u, 1);
            if (type < 6)
                v->cap[type] = c;
        }
    cf8_write(v->vm, v->devfn, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    v->bar = pci_bar_address(v->d, VIRTIO_PCI_BAR);
    return v->ram && v->bar != PCI_BAR_UNMAPPED;
}

static inline uint64_t drv_device_features(Drv *v)
{
    drv_set_common(v, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    uint64_t lo = drv_common(v, VIRTIO_PCI_COMMON_DF, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    return lo | (uint64_t)drv_common(v, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

/* ACKNOWLEDGE | DRIVER, the features, FEATURES_OK; returns the status read back. */
static inline uint8_t drv_negotiate(Drv *v, uint64_t features)
{
    drv_set_common(v, VIRTIO_PCI_COMMON_STATUS,
                   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    drv_set_common(v, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_GF, (uint32_t)features, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_GF, (uint32_t)(features >> 32), 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE |
                   VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
    return (uint8_t)drv_common(v, VIRTIO_PCI_COMMON_STATUS, 1);
}

/* Queue 0 with `size` entries at the fixed ring addresses, then DRIVER_OK. */
static inline void drv_start(Drv *v, uint16_t size, uint16_t vector)
{
    memset(v->ram + VQ_DESC, 0, 0x3000);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_MSIX, vector, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)VQ_DESC, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_DESCHI, 0, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)VQ_AVAIL, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_AVAILHI, 0, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)VQ_USED, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_USEDHI, 0, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    uint8_t st = (uint8_t)drv_common(v, VIRTIO_PCI_COMMON_STATUS, 1);
    drv_set_common(v, VIRTIO_PCI_COMMON_STATUS, st | VIRTIO_STATUS_DRIVER_OK, 1);
}

/* The guest's notify write for queue 0, then the I/O thread's pass. */
static inline void drv_kick_and_run(Drv *v)
{
    drv_mmio_write(v, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
    virtio_device_run(v->vdev);
}

static inline void drv_reset(Drv *v)
{
    drv_set_common(v, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    virtio_device_run(v->vdev);
}

#endif
