#include "devices/vfio/vfio.h"
#include "util/log.h"
VFIOBackend *vfio_kernel_open(const char *sysfs_path)
{
    log_error("--device: %s: kernel VFIO not built yet", sysfs_path);
    return NULL;
}
