/* The VFIO PCI model over an in-memory backend (vfio_fake.h): BAR layering
 * and flattening (sparse areas, sub-page pieces, the MSI-X overlay, memslots
 * on a real KVM VM), config-space virtualization, interrupt modes, and the
 * DMA mapping bookkeeping from memory-listener and IOMMU notifications. */
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/rcu.h"

#include "devices/vfio/vfio_internal.h"
#include "tests/unit/fake_iommu.h"
#include "tests/unit/harness.h"
#include "tests/unit/pci_util.h"
#include "tests/unit/vfio_fake.h"
#include "vmm/irq.h"
#include "vmm/kvm_memory.h"

#define BAR_SIZE 0x10000u
static const VFIOArea areas[] = { { 0, 0x8000 } };

struct rig {
    struct fake_vm f;
    FakeVFIO fk;
    PCIDevice *d;
    uint64_t bar;
};

static bool rig_up(struct rig *r, bool enable)
{
    memset(r, 0, sizeof(*r));
    fake_vfio_init(&r->fk, BAR_SIZE, areas, 1, 0x2000, 0x3000);
    if (!pci_vm_init(&r->f) || irq_routes_init(&r->f.vm) ||
        vfio_pci_create(&r->f.vm, &r->fk.be, "vf0"))
        return false;
    r->d = (PCIDevice *)vm_find_device(&r->f.vm, "vf0");
    if (enable)
        cf8_write(&r->f.vm, r->d->devfn, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    r->bar = pci_bar_address(r->d, 0);
    return r->d && (!enable || r->bar != PCI_BAR_UNMAPPED);
}

static void rig_down(struct rig *r)
{
    pci_vm_destroy(&r->f);
    irq_routes_free(&r->f.vm);
    munmap(r->fk.bar0_mem, BAR_SIZE);
}

TEST(flattened_bar_pieces)
{
    struct rig r;
    REQUIRE(rig_up(&r, true));
    struct { uint64_t off, end; MemoryRegionType type; } want[] = {
        { 0x0000, 0x2000, MR_RAM_DEVICE }, { 0x2000, 0x2080, MR_MMIO },   /* table: 8 x 16 */
        { 0x2080, 0x3000, MR_RAM_DEVICE }, { 0x3000, 0x3008, MR_MMIO },   /* PBA */
        { 0x3008, 0x8000, MR_RAM_DEVICE }, { 0x8000, 0x10000, MR_MMIO },  /* slow path */
    };
    rcu_read_lock();
    FlatView *fv = address_space_get_flatview(r.f.vm.as_mem);
    for (unsigned i = 0; i < 6; i++) {
        const FlatRange *fr = flatview_lookup(fv, r.bar + want[i].off);
        REQUIRE(fr);
        CHECK_EQ(fr->addr, r.bar + want[i].off);
        CHECK_EQ(fr->addr + fr->size, r.bar + want[i].end);
        CHECK_EQ(fr->mr->type, want[i].type);
    }
    rcu_read_unlock();
    rig_down(&r);
}

TEST(sub_page_pieces_and_slow_path_keep_exact_widths)
{
    struct rig r;
    REQUIRE(rig_up(&r, true));
    AddressSpace *as = r.f.vm.as_mem;
    MemTxResult res;
    /* beside the MSI-X table: device memory through dispatch, never the backend */
    CHECK_EQ(address_space_stq_le(as, r.bar + 0x2088, 0x1122334455667788ull), MEMTX_OK);
    CHECK_EQ(address_space_ldl_le(as, r.bar + 0x300c, &res), 0);
    uint64_t v;
    memcpy(&v, r.fk.bar0_mem + 0x2088, 8);
    CHECK_EQ(v, 0x1122334455667788ull);
    CHECK_EQ(r.fk.nr_log, 0);
    /* the slow path: one backend access per guest access, same width */
    address_space_stb(as, r.bar + 0x8001, 1);
    address_space_stw_le(as, r.bar + 0x8002, 2);
    address_space_stl_le(as, r.bar + 0x8004, 3);
    address_space_stq_le(as, r.bar + 0x8008, 4);
    CHECK_EQ(address_space_ldq_le(as, r.bar + 0x8008, &res), 4);
    unsigned lens[] = { 1, 2, 4, 8, 8 };
    uint64_t offs[] = { 0x8001, 0x8002, 0x8004, 0x8008, 0x8008 };
    REQUIRE(r.fk.nr_log == 5);
    for (unsigned i = 0; i < 5; i++) {
        CHECK_EQ(r.fk.log[i].len, lens[i]);
        CHECK_EQ(r.fk.log[i].off, offs[i]);
        CHECK_EQ(r.fk.log[i].write, i < 4);
    }
    /* the MSI-X table is ours: the device never sees it */
    address_space_stl_le(as, r.bar + 0x2000, 0xfee00000);
    CHECK_EQ(address_space_ldl_le(as, r.bar + 0x2000, &res), 0xfee00000);
    memcpy(&v, r.fk.bar0_mem + 0x2000, 8);
    CHECK_EQ(v, 0);
    rig_down(&r);
}

TEST(page_aligned_mapped_parts_become_memslots)
{
    struct rig r;
    REQUIRE(rig_up(&r, false));
    if (!fake_vm_open_kvm(&r.f)) {
        rig_down(&r);
        return;
    }
    REQUIRE(kvm_memory_listener_init(&r.f.vm) == 0);
    unsigned before = kvm_memory_slots_used(&r.f.vm);
    cf8_write(&r.f.vm, r.d->devfn, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    /* [0, 0x2000) and [0x4000, 0x8000): the pages beside the table and PBA trap */
    CHECK_EQ(kvm_memory_slots_used(&r.f.vm), before + 2);
    cf8_write(&r.f.vm, r.d->devfn, PCI_COMMAND, 0, 2);
    CHECK_EQ(kvm_memory_slots_used(&r.f.vm), before);
    kvm_memory_listener_free(&r.f.vm);
    rig_down(&r);
    fake_vm_close_kvm(&r.f);
}

TEST(config_space_virtualization)
{
    struct rig r;
    REQUIRE(rig_up(&r, false));
    struct vm *vm = &r.f.vm;
    uint8_t dfn = r.d->devfn;
    CHECK_EQ(cf8_read(vm, dfn, 0, 4), 0x12341af4);
    /* 64-bit BAR sizing is ours */
    cf8_write(vm, dfn, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    cf8_write(vm, dfn, PCI_BASE_ADDRESS_1, 0xffffffff, 4);
    CHECK_EQ(cf8_read(vm, dfn, PCI_BASE_ADDRESS_0, 4), 0xffff000c);
    CHECK_EQ(cf8_read(vm, dfn, PCI_BASE_ADDRESS_1, 4), 0xffffffff);
    CHECK(!r.fk.config_written[PCI_BASE_ADDRESS_0]);
    /* the ROM is absent; the command register is ours and the device's */
    cf8_write(vm, dfn, PCI_ROM_ADDRESS, 0xffffffff, 4);
    CHECK_EQ(cf8_read(vm, dfn, PCI_ROM_ADDRESS, 4), 0);
    cf8_write(vm, dfn, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    CHECK_EQ(cf8_read(vm, dfn, PCI_COMMAND, 2), PCI_COMMAND_MASTER);
    CHECK(r.fk.config_written[PCI_COMMAND]);
    CHECK_EQ(r.fk.config[PCI_COMMAND], PCI_COMMAND_MASTER);
    /* status and the PM capability come from the device, live */
    r.fk.config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    CHECK_EQ(cf8_read(vm, dfn, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    r.fk.config[0x94] = 3;
    CHECK_EQ(cf8_read(vm, dfn, 0x94, 1), 3);
    cf8_write(vm, dfn, 0x94, 0, 2);
    CHECK(r.fk.config_written[0x94]);
    /* the device's capability list, with MSI and MSI-X bodies emulated */
    CHECK_EQ(cf8_read(vm, dfn, PCI_CAPABILITY_LIST, 1), 0x50);
    CHECK_EQ(cf8_read(vm, dfn, 0x50, 2), 0x7005);
    CHECK_EQ(cf8_read(vm, dfn, 0x70, 4), 0x00079011);   /* next: the PM capability */
    cf8_write(vm, dfn, 0x70, (uint32_t)PCI_MSIX_FLAGS_ENABLE << 16, 4);
    CHECK(!r.fk.config_written[0x72] && !r.fk.config_written[0x73]);
    CHECK_EQ(cf8_read(vm, dfn, 0x72, 2), PCI_MSIX_FLAGS_ENABLE | 7);
    /* enabling MSI-X hands the device its 8 eventfds */
    CHECK_EQ(r.fk.irq_index_set[VFIO_PCI_MSIX_IRQ_INDEX], 1);
    CHECK_EQ(r.fk.irq_count_set[VFIO_PCI_MSIX_IRQ_INDEX], 8);
    rig_down(&r);
}

TEST(msi_vectors_get_routes_when_unmasked)
{
    struct rig r;
    REQUIRE(rig_up(&r, true));
    struct vm *vm = &r.f.vm;
    uint8_t dfn = r.d->devfn;
    VFIOPCIDevice *v = (VFIOPCIDevice *)r.d;
    cf8_write(vm, dfn, 0x54, 0xfee00000, 4);
    cf8_write(vm, dfn, 0x58, 0, 4);
    cf8_write(vm, dfn, 0x5c, 0x60, 2);
    cf8_write(vm, dfn, 0x60, 0xe, 4);                   /* vectors 1-3 masked */
    cf8_write(vm, dfn, 0x52, PCI_MSI_FLAGS_ENABLE | (2 << 4), 2);   /* 4 vectors */
    CHECK_EQ(v->irq_index, VFIO_PCI_MSI_IRQ_INDEX);
    CHECK_EQ(v->nr_vectors, 4);
    MSIMessage m;
    REQUIRE(v->vectors[0].gsi >= 0);
    CHECK_EQ(irq_route_lookup(vm, v->vectors[0].gsi, &m), 1);
    CHECK_EQ(m.data, 0x60);
    CHECK(v->vectors[1].gsi < 0);
    cf8_write(vm, dfn, 0x60, 0x0, 4);
    REQUIRE(v->vectors[3].gsi >= 0);
    CHECK_EQ(irq_route_lookup(vm, v->vectors[3].gsi, &m), 1);
    CHECK_EQ(m.data, 0x63);
    /* off again: routes gone, INTx back */
    cf8_write(vm, dfn, 0x52, 0, 2);
    CHECK_EQ(v->irq_index, VFIO_PCI_INTX_IRQ_INDEX);
    CHECK(v->vectors[0].gsi < 0);
    rig_down(&r);
}

TEST(intx_raised_from_its_eventfd_lowered_and_unmasked_on_a_bar_access)
{
    struct rig r;
    REQUIRE(rig_up(&r, true));
    VFIOPCIDevice *v = (VFIOPCIDevice *)r.d;
    unsigned gsi = pci_intx_gsi(r.d->devfn, 1);
    CHECK(!r.f.irq_level[gsi]);
    eventfd_write(v->intx_efd, 1);                      /* what the device does */
    for (int i = 0; i < 2000 && !__atomic_load_n(&r.f.irq_level[gsi], __ATOMIC_ACQUIRE); i++)
        usleep(1000);
    CHECK(r.f.irq_level[gsi]);
    CHECK_EQ(r.fk.nr_unmask, 0);
    MemTxResult res;
    address_space_ldl_le(r.f.vm.as_mem, r.bar + 0x8000, &res);   /* the handler's read */
    CHECK(!r.f.irq_level[gsi]);
    CHECK_EQ(r.fk.nr_unmask, 1);
    address_space_ldl_le(r.f.vm.as_mem, r.bar + 0x8000, &res);
    CHECK_EQ(r.fk.nr_unmask, 1);                         /* only after an assertion */
    rig_down(&r);
}

static bool has_map(const FakeVFIO *f, uint64_t iova, uint64_t size)
{
    for (unsigned i = 0; i < f->nr_maps; i++)
        if (f->maps[i].iova == iova && f->maps[i].size == size)
            return true;
    return false;
}

TEST(dma_maps_follow_system_memory_ram)
{
    struct rig r;
    REQUIRE(rig_up(&r, false));
    CHECK_EQ(r.fk.nr_maps, 1);
    CHECK(has_map(&r.fk, 0, 64 << 20));
    CHECK_EQ(r.fk.maps[0].fd, r.f.vm.ram->fd);
    CHECK(r.fk.maps[0].writable);
    MemoryRegion *more = memory_region_new_ram("more", 1 << 20);
    memory_region_add_subregion(r.f.vm.sysmem, 0x10000000, more);
    CHECK(has_map(&r.fk, 0x10000000, 1 << 20));
    CHECK_EQ(r.fk.maps[1].fd, more->fd);
    /* the device's own BAR (MMIO, device memory) is never mapped for DMA */
    cf8_write(&r.f.vm, r.d->devfn, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    CHECK_EQ(r.fk.nr_maps, 2);
    memory_region_del_subregion(r.f.vm.sysmem, more);
    memory_region_unref(more);
    CHECK(!has_map(&r.fk, 0x10000000, 1 << 20));
    CHECK_EQ(r.fk.nr_maps, 1);
    rig_down(&r);
    CHECK_EQ(r.fk.nr_maps, 0);
    CHECK(r.fk.destroyed);
}

/* ---- a fake IOMMU (fake_iommu.h) for the shadowing: nothing is mapped; the
 * tests send the map and unmap notifications a guest's invalidations cause ---- */
static FakeIOMMU fake_iommu;

static void notify(struct vm *vm, IOMMUNotifierFlag ev, uint64_t iova, uint64_t pa,
                   uint64_t mask, IOMMUAccessFlags perm)
{
    IOMMUTLBEntry e = { .target_as = vm->as_mem, .iova = iova, .translated_addr = pa,
                        .addr_mask = mask, .perm = perm };
    memory_bql_lock();
    memory_region_iommu_notify(fake_iommu.mr, ev, &e);
    memory_bql_unlock();
}

TEST(dma_maps_shadow_iommu_notifications)
{
    struct rig r;
    memset(&r, 0, sizeof(r));
    fake_vfio_init(&r.fk, BAR_SIZE, areas, 1, 0x2000, 0x3000);
    REQUIRE(pci_vm_init(&r.f) && irq_routes_init(&r.f.vm) == 0);
    struct vm *vm = &r.f.vm;
    fake_iommu_attach(&fake_iommu, &r.f, 0);
    fake_iommu.mapped = false;
    REQUIRE(vfio_pci_create(vm, &r.fk.be, "vf0") == 0);
    CHECK_EQ(r.fk.nr_maps, 0);                          /* nothing until the guest maps */
    notify(vm, IOMMU_NOTIFIER_MAP, 0x1000, 0x200000, 0xfff, IOMMU_RW);
    notify(vm, IOMMU_NOTIFIER_MAP, 0x2000, 0x300000, 0xfff, IOMMU_RO);
    notify(vm, IOMMU_NOTIFIER_MAP, 0x200000, 0x400000, 0x1fffff, IOMMU_RW);
    CHECK_EQ(r.fk.nr_maps, 3);
    CHECK(has_map(&r.fk, 0x1000, 0x1000));
    CHECK_EQ(r.fk.maps[0].fd_offset, 0x200000);
    CHECK(!r.fk.maps[1].writable);
    CHECK(has_map(&r.fk, 0x200000, 0x200000));
    /* a page the guest points at MMIO (ECAM) or nothing is not handed over */
    notify(vm, IOMMU_NOTIFIER_MAP, 0x5000, LAYOUT_PCI_ECAM, 0xfff, IOMMU_RW);
    notify(vm, IOMMU_NOTIFIER_MAP, 0x6000, 1ull << 40, 0xfff, IOMMU_RW);
    CHECK_EQ(r.fk.nr_maps, 3);
    /* remapping an IOVA replaces the mapping */
    notify(vm, IOMMU_NOTIFIER_MAP, 0x1000, 0x280000, 0xfff, IOMMU_RW);
    CHECK_EQ(r.fk.nr_maps, 3);
    CHECK_EQ(r.fk.nr_unmap_calls, 1);
    /* an UNMAP drops what it covers, whole mappings only */
    notify(vm, IOMMU_NOTIFIER_UNMAP, 0, 0, 0x1fff, IOMMU_NONE);
    CHECK(!has_map(&r.fk, 0x1000, 0x1000));
    CHECK(has_map(&r.fk, 0x2000, 0x1000));
    notify(vm, IOMMU_NOTIFIER_UNMAP, 0x300000, 0, 0xfff, IOMMU_NONE);   /* inside the 2M page */
    CHECK(!has_map(&r.fk, 0x200000, 0x200000));
    notify(vm, IOMMU_NOTIFIER_UNMAP, 0, 0, UINT64_MAX, IOMMU_NONE);     /* global flush */
    CHECK_EQ(r.fk.nr_maps, 0);
    pci_vm_destroy(&r.f);
    irq_routes_free(vm);
    memory_region_unref(fake_iommu.mr);
    munmap(r.fk.bar0_mem, BAR_SIZE);
}

TEST(behind_the_iommu_caching_mode_is_required)
{
    struct fake_vm f;
    FakeVFIO fk;
    fake_vfio_init(&fk, BAR_SIZE, areas, 1, 0x2000, 0x3000);
    REQUIRE(pci_vm_init(&f));
    f.cfg.iommu = true;
    CHECK(vfio_pci_create(&f.vm, &fk.be, "vf0") != 0);
    CHECK(fk.destroyed);
    CHECK(!vm_find_device(&f.vm, "vf0"));
    pci_vm_destroy(&f);
    munmap(fk.bar0_mem, BAR_SIZE);
}
