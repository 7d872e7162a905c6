/* The kernel VFIO backend: VFIOBackendOps over a device bound to vfio-pci.
 *
 * Opening prefers the iommufd + device cdev interface (Linux 6.2+:
 * /dev/vfio/devices/vfioN bound to an iommufd with one IOAS), else the legacy
 * group/container interface with the type1 IOMMU. Everything after opening is
 * the same device fd: region info (sparse mmap capabilities parsed by the same
 * code as vfio-user's, the layout is the kernel's), pread/pwrite of one exact
 * width, mmap of the areas, eventfds for interrupts, reset.
 *
 * Every system call goes through VFIOSys (vfio_sys.h) so unit tests run all of
 * this over a fake host; only the kernel's own behaviour behind the calls
 * needs a real host with vfio-pci to prove. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>

#include <glib.h>

#include "devices/vfio/vfio_sys.h"
#include "devices/vfio/vfio_user_proto.h"
#include "util/log.h"

typedef struct VFIOKernel {
    VFIOBackend be;
    const VFIOSys *sys;
    int device, container, group, iommufd;
    uint32_t ioas;
    bool can_reset;
    uint64_t region_offset[VFIO_MAX_REGIONS];
    VFIORegionInfo regions[VFIO_MAX_REGIONS];
} VFIOKernel;

static VFIOKernel *kern(VFIOBackend *b) { return (VFIOKernel *)b; }

static int err(void) { return errno ? -errno : -EIO; }

static int k_device_info(VFIOBackend *b, unsigned *nr_regions, unsigned *nr_irqs)
{
    VFIOKernel *k = kern(b);
    struct vfio_device_info info = { .argsz = sizeof(info) };
    if (k->sys->ioctl(k->device, VFIO_DEVICE_GET_INFO, &info))
        return err();
    if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) || info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
        return -ENODEV;
    k->can_reset = info.flags & VFIO_DEVICE_FLAGS_RESET;
    *nr_regions = info.num_regions < VFIO_MAX_REGIONS ? info.num_regions : VFIO_MAX_REGIONS;
    *nr_irqs = info.num_irqs;
    return 0;
}

static int k_region_info(VFIOBackend *b, unsigned index, VFIORegionInfo *out)
{
    VFIOKernel *k = kern(b);
    if (index >= VFIO_MAX_REGIONS)
        return -EINVAL;
    /* Room for the capabilities; the kernel says (argsz) when it needs more. */
    uint32_t room = 512;
    for (int attempt = 0; attempt < 2; attempt++) {
        uint8_t *buf = g_malloc0(room);
        struct vfio_region_info *ri = (struct vfio_region_info *)buf;
        ri->argsz = room;
        ri->index = index;
        if (k->sys->ioctl(k->device, VFIO_DEVICE_GET_REGION_INFO, ri)) {
            int r = err();
            g_free(buf);
            return r;
        }
        if (ri->argsz > room) {
            room = ri->argsz > 65536 ? 65536 : ri->argsz;
            g_free(buf);
            continue;
        }
        /* vfio-user's reply has this layout; check it the same way. */
        uint32_t filled = ri->argsz < sizeof(*ri) ? (uint32_t)sizeof(*ri) : ri->argsz;
        put_le32(buf, filled);
        uint64_t offset;
        int r = vfu_parse_region_info(buf, room, index,
                                      (ri->flags & VFIO_REGION_INFO_FLAG_MMAP) ? 1 : 0, out,
                                      &offset);
        g_free(buf);
        if (r)
            return -EPROTO;
        k->region_offset[index] = offset;
        k->regions[index] = *out;
        return 0;
    }
    return -EPROTO;
}

static int k_rw(VFIOKernel *k, unsigned index, uint64_t off, void *buf, unsigned len, bool w)
{
    if (index >= VFIO_MAX_REGIONS)
        return -EINVAL;
    off_t pos = (off_t)(k->region_offset[index] + off);
    ssize_t n = w ? k->sys->pwrite(k->device, buf, len, pos)
                  : k->sys->pread(k->device, buf, len, pos);
    return n == (ssize_t)len ? 0 : n < 0 ? err() : -EIO;
}

static int k_region_read(VFIOBackend *b, unsigned index, uint64_t off, void *buf, unsigned len)
{
    return k_rw(kern(b), index, off, buf, len, false);
}

static int k_region_write(VFIOBackend *b, unsigned index, uint64_t off, const void *buf,
                          unsigned len)
{
    return k_rw(kern(b), index, off, (void *)buf, len, true);
}

static void *k_region_mmap(VFIOBackend *b, unsigned index, unsigned area)
{
    VFIOKernel *k = kern(b);
    if (index >= VFIO_MAX_REGIONS || area >= k->regions[index].nr_areas) {
        errno = EINVAL;
        return NULL;
    }
    const VFIOArea *a = &k->regions[index].areas[area];
    void *p = k->sys->mmap(a->size, k->device, (off_t)(k->region_offset[index] + a->offset));
    return p == MAP_FAILED ? NULL : p;
}

static int k_irq_info(VFIOBackend *b, unsigned index, uint32_t *count, uint32_t *flags)
{
    VFIOKernel *k = kern(b);
    struct vfio_irq_info info = { .argsz = sizeof(info), .index = index };
    if (k->sys->ioctl(k->device, VFIO_DEVICE_GET_IRQ_INFO, &info))
        return err();
    *count = info.count;
    *flags = info.flags;
    return 0;
}

static int irq_ioctl(VFIOKernel *k, uint32_t flags, unsigned index, unsigned start,
                     unsigned count, const int *fds)
{
    size_t size = sizeof(struct vfio_irq_set) + (fds ? count * sizeof(int32_t) : 0);
    struct vfio_irq_set *s = g_malloc0(size);
    *s = (struct vfio_irq_set){ .argsz = (uint32_t)size, .flags = flags, .index = index,
                                .start = start, .count = count };
    if (fds)
        memcpy(s->data, fds, count * sizeof(int32_t));
    int r = k->sys->ioctl(k->device, VFIO_DEVICE_SET_IRQS, s) ? err() : 0;
    g_free(s);
    return r;
}

static int k_irq_set(VFIOBackend *b, unsigned index, unsigned start, unsigned count,
                     const int *fds)
{
    if (!count)
        return irq_ioctl(kern(b), VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index,
                         0, 0, NULL);
    return irq_ioctl(kern(b), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index,
                     start, count, fds);
}

static int k_irq_unmask(VFIOBackend *b, unsigned index)
{
    return irq_ioctl(kern(b), VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index, 0, 1,
                     NULL);
}

static int k_dma_map(VFIOBackend *b, uint64_t iova, uint64_t size, void *host, int fd,
                     uint64_t fd_offset, bool writable)
{
    (void)fd, (void)fd_offset;   /* the kernel pins the process's own pages */
    VFIOKernel *k = kern(b);
    if (k->iommufd >= 0) {
        struct iommufd_ioas_map m = {
            .size = sizeof(m), .ioas_id = k->ioas, .user_va = (uintptr_t)host,
            .length = size, .iova = iova,
            .flags = IOMMUFD_MAP_FIXED_IOVA | IOMMUFD_MAP_READABLE |
                     (writable ? IOMMUFD_MAP_WRITEABLE : 0),
        };
        return k->sys->ioctl(k->iommufd, IOMMUFD_IOAS_MAP_IOCTL, &m) ? err() : 0;
    }
    struct vfio_iommu_type1_dma_map m = {
        .argsz = sizeof(m), .vaddr = (uintptr_t)host, .iova = iova, .size = size,
        .flags = VFIO_DMA_MAP_FLAG_READ | (writable ? VFIO_DMA_MAP_FLAG_WRITE : 0),
    };
    return k->sys->ioctl(k->container, VFIO_IOMMU_MAP_DMA, &m) ? err() : 0;
}

static int k_dma_unmap(VFIOBackend *b, uint64_t iova, uint64_t size)
{
    VFIOKernel *k = kern(b);
    if (k->iommufd >= 0) {
        struct iommufd_ioas_unmap u = { .size = sizeof(u), .ioas_id = k->ioas, .iova = iova,
                                        .length = size };
        return k->sys->ioctl(k->iommufd, IOMMUFD_IOAS_UNMAP_IOCTL, &u) ? err() : 0;
    }
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = size };
    return k->sys->ioctl(k->container, VFIO_IOMMU_UNMAP_DMA, &u) ? err() : 0;
}

static int k_reset(VFIOBackend *b)
{
    VFIOKernel *k = kern(b);
    if (!k->can_reset)
        return -ENOTTY;
    return k->sys->ioctl(k->device, VFIO_DEVICE_RESET, NULL) ? err() : 0;
}

static void k_destroy(VFIOBackend *b)
{
    VFIOKernel *k = kern(b);
    int fds[] = { k->device, k->group, k->container, k->iommufd };
    for (unsigned i = 0; i < 4; i++)
        if (fds[i] >= 0)
            k->sys->close(fds[i]);
    g_free(k->be.name);
    g_free(k);
}

static const VFIOBackendOps vfio_kernel_ops = {
    .kind = "vfio",
    .device_info = k_device_info,
    .region_info = k_region_info,
    .region_read = k_region_read,
    .region_write = k_region_write,
    .region_mmap = k_region_mmap,
    .irq_info = k_irq_info,
    .irq_set = k_irq_set,
    .irq_unmask = k_irq_unmask,
    .dma_map = k_dma_map,
    .dma_unmap = k_dma_unmap,
    .reset = k_reset,
    .destroy = k_destroy,
};

/* ---- opening ------------------------------------------------------------------------ */
#define FAIL(...) do { log_error(__VA_ARGS__); goto fail; } while (0)

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* iommufd + device cdev: 1 opened, 0 not offered here, -1 failed (reported). */
static int open_cdev(VFIOKernel *k, const char *path)
{
    const VFIOSys *sys = k->sys;
    char dir[PATH_MAX + 16], name[64], dev[96];
    snprintf(dir, sizeof(dir), "%s/vfio-dev", path);
    if (sys->find_entry(dir, "vfio", name, sizeof(name)))
        return 0;
    int iommufd = sys->open("/dev/iommu", O_RDWR | O_CLOEXEC);
    if (iommufd < 0)
        return 0;
    k->iommufd = iommufd;
    snprintf(dev, sizeof(dev), "/dev/vfio/devices/%s", name);
    k->device = sys->open(dev, O_RDWR | O_CLOEXEC);
    if (k->device < 0) {
        if (errno == EBUSY)
            log_error("--device: %s is in use (%s busy)", path, dev);
        else
            log_error("--device: %s: cannot open %s: %s", path, dev, strerror(errno));
        return -1;
    }
    struct vfio_iommufd_bind bind = { .argsz = sizeof(bind), .iommufd = iommufd };
    struct iommufd_ioas_alloc alloc = { .size = sizeof(alloc) };
    if (sys->ioctl(k->device, VFIO_DEVICE_BIND_IOMMUFD_IOCTL, &bind)) {
        log_error("--device: %s: cannot bind to iommufd: %s%s", path, strerror(errno),
                  errno == EBUSY ? " (the device is in use)" : "");
        return -1;
    }
    if (sys->ioctl(iommufd, IOMMUFD_IOAS_ALLOC_IOCTL, &alloc)) {
        log_error("--device: %s: cannot allocate an IOMMU address space: %s", path,
                  strerror(errno));
        return -1;
    }
    k->ioas = alloc.out_ioas_id;
    struct vfio_iommufd_attach at = { .argsz = sizeof(at), .pt_id = k->ioas };
    if (sys->ioctl(k->device, VFIO_DEVICE_ATTACH_PT_IOCTL, &at)) {
        log_error("--device: %s: cannot attach to its IOMMU address space: %s", path,
                  strerror(errno));
        return -1;
    }
    return 1;
}

/* The legacy group and type1 container. 0 or -1 (reported). */
static int open_group(VFIOKernel *k, const char *path)
{
    const VFIOSys *sys = k->sys;
    char link[PATH_MAX], target[PATH_MAX], dev[PATH_MAX + 16];
    snprintf(link, sizeof(link), "%s/iommu_group", path);
    ssize_t n = sys->readlink(link, target, sizeof(target) - 1);
    if (n <= 0) {
        log_error("--device: %s has no IOMMU group (is the host IOMMU on?)", path);
        return -1;
    }
    target[n] = 0;
    const char *group = base_name(target);
    snprintf(dev, sizeof(dev), "/dev/vfio/%s", group);
    k->group = sys->open(dev, O_RDWR | O_CLOEXEC);
    if (k->group < 0) {
        if (errno == EBUSY)
            log_error("--device: %s is in use (VFIO group %s is open elsewhere)", path, group);
        else
            log_error("--device: %s: cannot open %s: %s", path, dev, strerror(errno));
        return -1;
    }
    struct vfio_group_status st = { .argsz = sizeof(st) };
    if (sys->ioctl(k->group, VFIO_GROUP_GET_STATUS, &st) || !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        log_error("--device: %s: VFIO group %s is not viable (bind every device of "
                  "/sys/kernel/iommu_groups/%s/devices to vfio-pci)", path, group, group);
        return -1;
    }
    k->container = sys->open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (k->container < 0 || sys->ioctl(k->container, VFIO_GET_API_VERSION, NULL) != VFIO_API_VERSION) {
        log_error("--device: %s: /dev/vfio/vfio unusable", path);
        return -1;
    }
    unsigned long type = sys->ioctl(k->container, VFIO_CHECK_EXTENSION,
                                    (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU) > 0
                             ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
    if (sys->ioctl(k->group, VFIO_GROUP_SET_CONTAINER, &k->container) ||
        sys->ioctl(k->container, VFIO_SET_IOMMU, (void *)(uintptr_t)type)) {
        log_error("--device: %s: cannot set up the type1 IOMMU: %s", path, strerror(errno));
        return -1;
    }
    k->device = sys->ioctl(k->group, VFIO_GROUP_GET_DEVICE_FD, (void *)base_name(path));
    if (k->device < 0) {
        log_error("--device: %s: cannot get the device from group %s: %s%s", path, group,
                  strerror(errno), errno == EBUSY ? " (in use)" : "");
        return -1;
    }
    return 0;
}

VFIOBackend *vfio_kernel_open_sys(const char *path, const VFIOSys *sys)
{
    VFIOKernel *k = g_new0(VFIOKernel, 1);
    k->be.ops = &vfio_kernel_ops;
    k->be.name = g_strdup(path);
    k->sys = sys;
    k->device = k->container = k->group = k->iommufd = -1;
    char link[PATH_MAX], target[PATH_MAX];
    snprintf(link, sizeof(link), "%s/driver", path);
    ssize_t n = sys->readlink(link, target, sizeof(target) - 1);
    if (n <= 0) {
        snprintf(link, sizeof(link), "%s/config", path);
        int fd = sys->open(link, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            FAIL("--device: %s is not a PCI device (expected /sys/bus/pci/devices/"
                 "DDDD:BB:DD.F)", path);
        sys->close(fd);
        FAIL("--device: %s is not a VFIO device: bound to no driver (bind it to vfio-pci)",
             path);
    }
    target[n] = 0;
    if (strcmp(base_name(target), "vfio-pci"))
        FAIL("--device: %s is not a VFIO device: bound to %s, not vfio-pci", path,
             base_name(target));
    int r = open_cdev(k, path);
    if (r < 0)
        goto fail;
    if (r == 0) {
        if (k->iommufd >= 0)
            sys->close(k->iommufd);
        k->iommufd = -1;
        if (open_group(k, path))
            goto fail;
    }
    return &k->be;
fail:
    k_destroy(&k->be);
    return NULL;
}

/* ---- the real host ---------------------------------------------------------------------- */
#include <dirent.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int h_open(const char *p, int flags) { return open(p, flags); }
static int h_ioctl(int fd, unsigned long req, void *arg) { return ioctl(fd, req, arg); }
static void *h_mmap(size_t len, int fd, off_t off)
{
    return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}
static int h_find_entry(const char *dir, const char *prefix, char *name, size_t len)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int r = -1;
    for (struct dirent *e; r && (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && strlen(e->d_name) < len) {
            strcpy(name, e->d_name);
            r = 0;
        }
    closedir(d);
    return r;
}

const VFIOSys vfio_sys_host = {
    .open = h_open, .close = close, .ioctl = h_ioctl, .pread = pread, .pwrite = pwrite,
    .mmap = h_mmap, .readlink = readlink, .find_entry = h_find_entry,
};

VFIOBackend *vfio_kernel_open(const char *sysfs_path)
{
    return vfio_kernel_open_sys(sysfs_path, &vfio_sys_host);
}
