/* The VFIO PCI device model: one PCI function whose registers, interrupts and
 * DMA belong to a device reached through a backend (vfio.h). Realize reads
 * the device's config space and regions, then builds the BARs (vfio_bar.c),
 * the virtualized config space (vfio_config.c), interrupts (vfio_irq.c) and
 * DMA mappings (vfio_dma.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/vfio/vfio_internal.h"
#include "util/log.h"
#include "vmm/vm.h"

static int vfio_realize(Device *dev)
{
    VFIOPCIDevice *v = DEVICE_CAST(VFIOPCIDevice, dev);
    const VFIOBackendOps *ops = v->be->ops;
    const char *id = dev->id;
    v->intx_efd = v->ctl_efd = -1;
    if (ops->device_info(v->be, &v->nr_regions, &v->nr_irqs)) {
        log_error("%s: %s %s: cannot read the device's info", id, ops->kind, v->be->name);
        return -1;
    }
    VFIORegionInfo cfg;
    uint8_t raw[PCI_CONFIG_SPACE_SIZE];
    if (v->nr_regions <= VFIO_PCI_CONFIG_REGION_INDEX ||
        ops->region_info(v->be, VFIO_PCI_CONFIG_REGION_INDEX, &cfg) ||
        cfg.size < PCI_CONFIG_SPACE_SIZE ||
        ops->region_read(v->be, VFIO_PCI_CONFIG_REGION_INDEX, 0, raw, sizeof(raw))) {
        log_error("%s: %s %s: cannot read the device's config space", id, ops->kind,
                  v->be->name);
        return -1;
    }
    if (pci_get_word(raw + PCI_VENDOR_ID) == 0xffff ||
        (raw[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
        log_error("%s: %s %s: not an ordinary PCI function (vendor 0x%04x, header type %u)",
                  id, ops->kind, v->be->name, pci_get_word(raw + PCI_VENDOR_ID),
                  raw[PCI_HEADER_TYPE] & 0x7f);
        return -1;
    }
    PCIDeviceInfo info = {
        .vendor_id = pci_get_word(raw + PCI_VENDOR_ID),
        .device_id = pci_get_word(raw + PCI_DEVICE_ID),
        .subsystem_vendor_id = pci_get_word(raw + PCI_SUBSYSTEM_VENDOR_ID),
        .subsystem_id = pci_get_word(raw + PCI_SUBSYSTEM_ID),
        .class_code = pci_get_long(raw + PCI_CLASS_REVISION) >> 8,
        .revision = raw[PCI_REVISION_ID],
        .intx_pin = raw[PCI_INTERRUPT_PIN] <= 4 ? raw[PCI_INTERRUPT_PIN] : 0,
    };
    /* The device starts from a known state: reset if it can be. */
    ops->reset(v->be);
    if (pci_device_init(&v->pci, v->dev_bus, -1, &info, &vfio_pci_ops) ||
        vfio_bars_init(v, raw) || vfio_config_init(v, raw) || vfio_irq_init(v) ||
        vfio_dma_init(v))
        return -1;
    return 0;
}

static void vfio_reset(Device *dev)
{
    VFIOPCIDevice *v = DEVICE_CAST(VFIOPCIDevice, dev);
    int r = v->be->ops->reset(v->be);
    if (r && r != -ENOTTY)
        log_warn("%s: device reset failed: %s", dev->id, strerror(-r));
    pci_device_reset(&v->pci);
    vfio_msi_changed(&v->pci);
}

static void vfio_unrealize(Device *dev)
{
    VFIOPCIDevice *v = DEVICE_CAST(VFIOPCIDevice, dev);
    vfio_irq_release(v);
    vfio_dma_release(v);
    pci_device_uninit(&v->pci);
    memory_bql_lock();
    vfio_bars_release(v);
    memory_bql_unlock();
    if (v->be)
        v->be->ops->destroy(v->be);
    v->be = NULL;
}

static const DeviceClass vfio_pci_class = {
    .name = "vfio",
    .instance_size = sizeof(VFIOPCIDevice),
    .realize = vfio_realize,
    .reset = vfio_reset,
    .unrealize = vfio_unrealize,
};

void vfio_dump_bars(struct vm *vm, void *out)
{
    FILE *f = out;
    for (Device *dev = vm->devices; dev; dev = dev->next) {
        if (dev->cls != &vfio_pci_class)
            continue;
        VFIOPCIDevice *v = DEVICE_CAST(VFIOPCIDevice, dev);
        fprintf(f, "%s (%s %s): BAR layers, highest priority first\n", dev->id,
                v->be ? v->be->ops->kind : "?", v->be ? v->be->name : "?");
        for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
            MemoryRegion *c = v->bars[i].container;
            if (!c)
                continue;
            fprintf(f, "  %s: container, size 0x%llx\n", c->name, (unsigned long long)c->size);
            for (unsigned k = 0; k < c->nr_subregions; k++) {
                const MemoryRegion *r = c->subregions[k];
                fprintf(f, "    0x%06llx-0x%06llx (prio %2d, %s): %s\n",
                        (unsigned long long)r->addr, (unsigned long long)(r->addr + r->size - 1),
                        r->priority, r->type == MR_RAM_DEVICE ? "ram_device" : "i/o", r->name);
            }
        }
    }
}

int vfio_pci_create(struct vm *vm, VFIOBackend *be, const char *id)
{
    if (!vm->pci) {
        log_error("%s %s: no PCI bus", be->ops->kind, be->name);
        be->ops->destroy(be);
        return -1;
    }
    /* Without caching mode the guest does not tell the IOMMU about new
     * mappings, so they cannot be shadowed into the device's IOMMU. */
    if (vm->cfg->iommu && !vm->cfg->iommu_caching_mode) {
        log_error("%s %s: a device assigned behind the VT-d unit needs "
                  "--iommu caching-mode=on", be->ops->kind, be->name);
        be->ops->destroy(be);
        return -1;
    }
    Device *dev = device_new(vm, &vfio_pci_class, id);
    if (!dev) {
        be->ops->destroy(be);
        return -1;
    }
    VFIOPCIDevice *v = DEVICE_CAST(VFIOPCIDevice, dev);
    v->be = be;
    v->dev_bus = vm->pci;
    return device_realize(dev);
}

int vfio_parse_device(const char *opt, const char *key, const char *value, VFIOOptions *o,
                      char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    for (const char *p = value ? value : ""; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq) {
            snprintf(err, errlen, "%s: expected KEY=VALUE, got '%.*s'", opt, (int)len, p);
            return -1;
        }
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        char *dst = NULL;
        size_t cap = 0;
        if (klen == strlen(key) && !strncmp(p, key, klen))
            dst = o->path, cap = sizeof(o->path);
        else if (klen == 2 && !strncmp(p, "id", 2))
            dst = o->id, cap = sizeof(o->id);
        if (!dst) {
            snprintf(err, errlen, "%s: unknown key '%.*s' (expected %s= or id=)", opt,
                     (int)klen, p, key);
            return -1;
        }
        if (!vlen || vlen >= cap) {
            snprintf(err, errlen, "%s: %.*s must be 1 to %zu bytes", opt, (int)klen, p,
                     cap - 1);
            return -1;
        }
        memcpy(dst, eq + 1, vlen);
        dst[vlen] = 0;
        p += len + (end ? 1 : 0);
    }
    if (!o->path[0]) {
        snprintf(err, errlen, "%s: %s= is required", opt, key);
        return -1;
    }
    return 0;
}
