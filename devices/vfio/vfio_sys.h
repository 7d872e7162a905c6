/* The thin layer between the kernel VFIO backend and the host: every system
 * call it makes goes through one of these, so unit tests replace the host with
 * a fake (tests/unit/test_vfio_kernel.c). vfio_sys_host is the real one. */
#ifndef MINIVMM_VFIO_SYS_H
#define MINIVMM_VFIO_SYS_H

#include <stddef.h>
#include <sys/types.h>

#include "devices/vfio/vfio.h"

typedef struct VFIOSys {
    int (*open)(const char *path, int flags);                 /* -1 and errno */
    int (*close)(int fd);
    int (*ioctl)(int fd, unsigned long req, void *arg);       /* -1 and errno */
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    void *(*mmap)(size_t len, int fd, off_t off);             /* MAP_FAILED and errno */
    ssize_t (*readlink)(const char *path, char *buf, size_t len);
    /* The first entry of directory `dir` whose name starts with `prefix`. */
    int (*find_entry)(const char *dir, const char *prefix, char *name, size_t len);
} VFIOSys;

extern const VFIOSys vfio_sys_host;

VFIOBackend *vfio_kernel_open_sys(const char *sysfs_path, const VFIOSys *sys);

/* iommufd's UAPI (linux/iommufd.h, Linux 6.2+), for hosts whose headers predate it. */
#define VFIO_IOMMUFD_TYPE ';'
struct vfio_iommufd_bind { uint32_t argsz, flags; int32_t iommufd; uint32_t out_devid; };
struct vfio_iommufd_attach { uint32_t argsz, flags, pt_id; };
struct iommufd_ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct iommufd_ioas_map {
    uint32_t size, flags, ioas_id, reserved;
    uint64_t user_va, length, iova;
};
struct iommufd_ioas_unmap { uint32_t size, ioas_id; uint64_t iova, length; };
#define VFIO_DEVICE_BIND_IOMMUFD_IOCTL   _IO(VFIO_TYPE, VFIO_BASE + 18)
#define VFIO_DEVICE_ATTACH_PT_IOCTL      _IO(VFIO_TYPE, VFIO_BASE + 19)
#define IOMMUFD_IOAS_ALLOC_IOCTL         _IO(VFIO_IOMMUFD_TYPE, 0x81)
#define IOMMUFD_IOAS_MAP_IOCTL           _IO(VFIO_IOMMUFD_TYPE, 0x85)
#define IOMMUFD_IOAS_UNMAP_IOCTL         _IO(VFIO_IOMMUFD_TYPE, 0x86)
#define IOMMUFD_MAP_FIXED_IOVA  1u
#define IOMMUFD_MAP_WRITEABLE   2u
#define IOMMUFD_MAP_READABLE    4u

#endif
