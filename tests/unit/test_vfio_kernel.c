/* The kernel VFIO backend over a fake host (VFIOSys): which interface it
 * picks, what it asks the kernel and in which order, how it reads region
 * info with sparse-mmap capabilities, and every bad-input error. What only a
 * real host with vfio-pci proves: that the kernel accepts these ioctls as
 * laid out here (ABI), pins and maps the pages, and signals the eventfds. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/vfio/vfio_internal.h"
#include "devices/vfio/vfio_sys.h"
#include "tests/unit/harness.h"
#include "tests/unit/pci_util.h"
#include "vmm/irq.h"

enum { FD_DEVICE = 10, FD_GROUP, FD_CONTAINER, FD_IOMMUFD };
#define REGION_OFF(i) ((uint64_t)(i) << 40)   /* like vfio-pci's offsets */

static struct host {
    const char *driver;          /* NULL: no driver link */
    bool cdev, iommufd, viable, busy, config_exists;
    unsigned long calls[64];
    unsigned nr_calls;
    uint64_t map_iova, map_size, map_va;
    uint32_t map_flags, irq_flags, irq_count;
    int32_t irq_fds[4];
    off_t last_off;
    size_t last_len;
    uint8_t config[256];
    void *bar;
} H;

static void host_reset(void)
{
    memset(&H, 0, sizeof(H));
    H.driver = "vfio-pci";
    H.viable = true;
    H.config[0] = 0x86, H.config[1] = 0x80, H.config[2] = 0x10, H.config[3] = 0x15;
    H.config[0x10] = 0;                                      /* BAR0 32-bit memory */
    H.bar = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
}

static int f_open(const char *p, int flags)
{
    (void)flags;
    if (!strcmp(p, "/dev/iommu"))
        return H.iommufd ? FD_IOMMUFD : (errno = ENOENT, -1);
    if (!strncmp(p, "/dev/vfio/devices/", 18) || !strcmp(p, "/dev/vfio/7")) {
        if (H.busy)
            return errno = EBUSY, -1;
        return p[10] == 'd' ? FD_DEVICE : FD_GROUP;
    }
    if (!strcmp(p, "/dev/vfio/vfio"))
        return FD_CONTAINER;
    if (strstr(p, "/config") && H.config_exists)
        return 99;
    return errno = ENOENT, -1;
}
static int f_close(int fd) { (void)fd; return 0; }

static void region_info(struct vfio_region_info *ri)
{
    uint8_t *b = (uint8_t *)ri;
    uint32_t room = ri->argsz;
    ri->offset = REGION_OFF(ri->index);
    if (ri->index == 0) {
        ri->size = 0x4000;
        ri->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                    VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
        /* 1024 bytes of capabilities: the first call's room is too small */
        ri->argsz = 1024;
        if (room < 1024)
            return;
        ri->cap_offset = 512;
        struct vfio_region_info_cap_sparse_mmap *c = (void *)(b + 512);
        c->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
        c->header.version = 1;
        c->nr_areas = 1;
        c->areas[0].offset = 0x2000;
        c->areas[0].size = 0x2000;
    } else if (ri->index == VFIO_PCI_CONFIG_REGION_INDEX) {
        ri->size = 256;
        ri->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        ri->argsz = sizeof(*ri);
    } else {
        ri->argsz = sizeof(*ri);
        ri->size = 0;
    }
}

static int f_ioctl(int fd, unsigned long req, void *arg)
{
    if (H.nr_calls < 64)
        H.calls[H.nr_calls++] = req;
    switch (req) {
    case VFIO_GROUP_GET_STATUS:
        ((struct vfio_group_status *)arg)->flags = H.viable ? VFIO_GROUP_FLAGS_VIABLE : 0;
        return 0;
    case VFIO_GET_API_VERSION: return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION: return (uintptr_t)arg == VFIO_TYPE1v2_IOMMU;
    case VFIO_GROUP_SET_CONTAINER: return *(int *)arg == FD_CONTAINER ? 0 : -1;
    case VFIO_SET_IOMMU: return (uintptr_t)arg == VFIO_TYPE1v2_IOMMU ? 0 : -1;
    case VFIO_GROUP_GET_DEVICE_FD: return strcmp(arg, "0000:01:00.0") ? -1 : FD_DEVICE;
    case VFIO_DEVICE_BIND_IOMMUFD_IOCTL:
        return ((struct vfio_iommufd_bind *)arg)->iommufd == FD_IOMMUFD ? 0 : -1;
    case IOMMUFD_IOAS_ALLOC_IOCTL: ((struct iommufd_ioas_alloc *)arg)->out_ioas_id = 5; return 0;
    case VFIO_DEVICE_ATTACH_PT_IOCTL: return ((struct vfio_iommufd_attach *)arg)->pt_id == 5 ? 0 : -1;
    case VFIO_DEVICE_GET_INFO: {
        struct vfio_device_info *i = arg;
        i->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
        i->num_regions = VFIO_PCI_NUM_REGIONS;
        i->num_irqs = VFIO_PCI_NUM_IRQS;
        return fd == FD_DEVICE ? 0 : -1;
    }
    case VFIO_DEVICE_GET_REGION_INFO: region_info(arg); return 0;
    case VFIO_DEVICE_GET_IRQ_INFO: ((struct vfio_irq_info *)arg)->count = 1; return 0;
    case VFIO_DEVICE_SET_IRQS: {
        struct vfio_irq_set *s = arg;
        H.irq_flags = s->flags;
        H.irq_count = s->count;
        if (s->flags & VFIO_IRQ_SET_DATA_EVENTFD)
            memcpy(H.irq_fds, s->data, 4 * (s->count < 4 ? s->count : 4));
        return 0;
    }
    case VFIO_DEVICE_RESET: return 0;
    case VFIO_IOMMU_MAP_DMA: {
        struct vfio_iommu_type1_dma_map *m = arg;
        H.map_iova = m->iova, H.map_size = m->size, H.map_va = m->vaddr, H.map_flags = m->flags;
        return fd == FD_CONTAINER ? 0 : -1;
    }
    case IOMMUFD_IOAS_MAP_IOCTL: {
        struct iommufd_ioas_map *m = arg;
        H.map_iova = m->iova, H.map_size = m->length, H.map_va = m->user_va, H.map_flags = m->flags;
        return fd == FD_IOMMUFD && m->ioas_id == 5 ? 0 : -1;
    }
    case VFIO_IOMMU_UNMAP_DMA: case IOMMUFD_IOAS_UNMAP_IOCTL: return 0;
    }
    return errno = ENOTTY, -1;
}

static ssize_t f_pread(int fd, void *buf, size_t len, off_t off)
{
    H.last_off = off, H.last_len = len;
    if (fd != FD_DEVICE)
        return -1;
    if ((uint64_t)off >= REGION_OFF(VFIO_PCI_CONFIG_REGION_INDEX)) {
        uint64_t o = (uint64_t)off - REGION_OFF(VFIO_PCI_CONFIG_REGION_INDEX);
        if (o + len > 256)
            return -1;
        memcpy(buf, H.config + o, len);
        return (ssize_t)len;
    }
    memset(buf, 0x5a, len);
    return (ssize_t)len;
}
static ssize_t f_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    (void)buf;
    H.last_off = off, H.last_len = len;
    return fd == FD_DEVICE ? (ssize_t)len : -1;
}
static void *f_mmap(size_t len, int fd, off_t off)
{
    if (fd != FD_DEVICE || off != (off_t)(REGION_OFF(0) + 0x2000) || len != 0x2000)
        return MAP_FAILED;
    return mremap((uint8_t *)H.bar + 0x2000, 0, len, MREMAP_MAYMOVE);
}
static ssize_t f_readlink(const char *p, char *buf, size_t len)
{
    const char *t = NULL;
    if (strstr(p, "/driver") && H.driver)
        t = H.driver;
    else if (strstr(p, "/iommu_group"))
        t = "../../../kernel/iommu_groups/7";
    if (!t)
        return -1;
    snprintf(buf, len, "../../bus/pci/drivers/%s", t);
    if (strstr(p, "/iommu_group"))
        snprintf(buf, len, "%s", t);
    return (ssize_t)strlen(buf);
}
static int f_find_entry(const char *dir, const char *prefix, char *name, size_t len)
{
    (void)dir, (void)prefix;
    if (!H.cdev)
        return -1;
    snprintf(name, len, "vfio3");
    return 0;
}

static const VFIOSys fake_sys = {
    .open = f_open, .close = f_close, .ioctl = f_ioctl, .pread = f_pread, .pwrite = f_pwrite,
    .mmap = f_mmap, .readlink = f_readlink, .find_entry = f_find_entry,
};

#define PATH "/sys/bus/pci/devices/0000:01:00.0"

static bool called(unsigned long req)
{
    for (unsigned i = 0; i < H.nr_calls; i++)
        if (H.calls[i] == req)
            return true;
    return false;
}

TEST(bad_input_is_refused_with_a_reason)
{
    host_reset();
    H.driver = "e1000e";
    CHECK(!vfio_kernel_open_sys(PATH, &fake_sys));
    H.driver = NULL;
    CHECK(!vfio_kernel_open_sys(PATH, &fake_sys));             /* not a PCI device */
    H.config_exists = true;
    CHECK(!vfio_kernel_open_sys(PATH, &fake_sys));             /* no driver */
    host_reset();
    H.viable = false;
    CHECK(!vfio_kernel_open_sys(PATH, &fake_sys));
    host_reset();
    H.busy = true;
    CHECK(!vfio_kernel_open_sys(PATH, &fake_sys));
    H.cdev = H.iommufd = true;
    CHECK(!vfio_kernel_open_sys(PATH, &fake_sys));
    munmap(H.bar, 0x4000);
}

TEST(legacy_group_and_type1_container)
{
    host_reset();
    VFIOBackend *b = vfio_kernel_open_sys(PATH, &fake_sys);
    REQUIRE(b);
    CHECK(called(VFIO_GROUP_SET_CONTAINER) && called(VFIO_SET_IOMMU));
    CHECK(!called(VFIO_DEVICE_BIND_IOMMUFD_IOCTL));
    static uint8_t page[4096];
    CHECK_EQ(b->ops->dma_map(b, 0x100000, 0x200000, page, 3, 0, true), 0);
    CHECK_EQ(H.map_iova, 0x100000);
    CHECK_EQ(H.map_size, 0x200000);
    CHECK_EQ(H.map_va, (uintptr_t)page);
    CHECK_EQ(H.map_flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
    CHECK_EQ(b->ops->dma_unmap(b, 0x100000, 0x200000), 0);
    CHECK(called(VFIO_IOMMU_UNMAP_DMA));
    b->ops->destroy(b);
    munmap(H.bar, 0x4000);
}

TEST(iommufd_and_the_device_cdev_when_the_host_has_them)
{
    host_reset();
    H.cdev = H.iommufd = true;
    VFIOBackend *b = vfio_kernel_open_sys(PATH, &fake_sys);
    REQUIRE(b);
    CHECK(called(VFIO_DEVICE_BIND_IOMMUFD_IOCTL) && called(VFIO_DEVICE_ATTACH_PT_IOCTL));
    CHECK(!called(VFIO_GROUP_GET_STATUS));
    static uint8_t page[4096];
    CHECK_EQ(b->ops->dma_map(b, 0x3000, 0x1000, page, 3, 0, false), 0);
    CHECK_EQ(H.map_flags, IOMMUFD_MAP_FIXED_IOVA | IOMMUFD_MAP_READABLE);
    CHECK_EQ(b->ops->dma_unmap(b, 0x3000, 0x1000), 0);
    CHECK(called(IOMMUFD_IOAS_UNMAP_IOCTL));
    b->ops->destroy(b);
    munmap(H.bar, 0x4000);
}

TEST(regions_irqs_and_reset)
{
    host_reset();
    VFIOBackend *b = vfio_kernel_open_sys(PATH, &fake_sys);
    REQUIRE(b);
    unsigned nr, ni;
    CHECK_EQ(b->ops->device_info(b, &nr, &ni), 0);
    VFIORegionInfo r;
    CHECK_EQ(b->ops->region_info(b, 0, &r), 0);               /* grows its buffer once */
    CHECK_EQ(r.size, 0x4000);
    CHECK_EQ(r.nr_areas, 1);
    CHECK_EQ(r.areas[0].offset, 0x2000);
    void *m = b->ops->region_mmap(b, 0, 0);
    CHECK(m != NULL);
    if (m)
        munmap(m, 0x2000);
    uint64_t v = 0;
    CHECK_EQ(b->ops->region_read(b, 0, 0x10, &v, 2), 0);     /* one pread, exact width */
    CHECK_EQ(H.last_off, (off_t)(REGION_OFF(0) + 0x10));
    CHECK_EQ(H.last_len, 2);
    CHECK_EQ(v, 0x5a5a);
    int fds[2] = { 7, 8 };
    CHECK_EQ(b->ops->irq_set(b, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, fds), 0);
    CHECK_EQ(H.irq_flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
    CHECK_EQ(H.irq_fds[1], 8);
    CHECK_EQ(b->ops->irq_unmask(b, VFIO_PCI_INTX_IRQ_INDEX), 0);
    CHECK_EQ(H.irq_flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK);
    CHECK_EQ(b->ops->reset(b), 0);
    b->ops->destroy(b);
    munmap(H.bar, 0x4000);
}

TEST(the_pci_model_over_the_kernel_backend)
{
    host_reset();
    struct fake_vm f;
    REQUIRE(pci_vm_init(&f) && irq_routes_init(&f.vm) == 0);
    VFIOBackend *b = vfio_kernel_open_sys(PATH, &fake_sys);
    REQUIRE(b && vfio_pci_create(&f.vm, b, "hostdev") == 0);
    PCIDevice *d = (PCIDevice *)vm_find_device(&f.vm, "hostdev");
    CHECK_EQ(cf8_read(&f.vm, d->devfn, 0, 4), 0x15108086);
    CHECK_EQ(d->bars[0].size, 0x4000);
    CHECK(called(VFIO_IOMMU_MAP_DMA));                        /* guest RAM for its DMA */
    CHECK_EQ(H.map_size, 64 << 20);
    pci_vm_destroy(&f);
    irq_routes_free(&f.vm);
    munmap(H.bar, 0x4000);
}
