/* The vfio-user protocol's messages (QEMU docs/interop/vfio-user.rst):
 * building them and checking them, without sockets, so the checks are unit
 * tested and fuzzed on their own. Both our client (vfio_user.c) and our test
 * server (tests/vfio_user_server/) use it.
 *
 * Every parse function takes the payload after the 16-byte header and its
 * length as received, and returns 0 or -EPROTO (or -EINVAL) for a message
 * that is short, claims sizes beyond what arrived, or describes something
 * impossible (areas outside their region, capability chains that loop). */
#ifndef MINIVMM_VFIO_USER_PROTO_H
#define MINIVMM_VFIO_USER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "devices/vfio/vfio.h"
#include "util/bytes.h"

enum {
    VFU_VERSION = 1,
    VFU_DMA_MAP = 2,
    VFU_DMA_UNMAP = 3,
    VFU_DEVICE_GET_INFO = 4,
    VFU_DEVICE_GET_REGION_INFO = 5,
    VFU_DEVICE_GET_IRQ_INFO = 7,
    VFU_DEVICE_SET_IRQS = 8,
    VFU_REGION_READ = 9,
    VFU_REGION_WRITE = 10,
    VFU_DEVICE_RESET = 13,
    VFU_CMD_MAX = 14,
};

#define VFU_MAJOR 0
#define VFU_MINOR 1
#define VFU_HDR_SIZE 16
#define VFU_TYPE_COMMAND 0
#define VFU_TYPE_REPLY 1
#define VFU_F_TYPE_MASK 0xf
#define VFU_F_NO_REPLY 0x10
#define VFU_F_ERROR 0x20
/* Largest message either side accepts: a config-space or BAR access of 4 KiB
 * plus headers, region info with capabilities. */
#define VFU_MAX_MSG 8192
#define VFU_MAX_DATA 4096
#define VFU_MAX_FDS 8
#define VFU_DMA_READ 1
#define VFU_DMA_WRITE 2

typedef struct VFUHeader {
    uint16_t id, cmd;
    uint32_t size;             /* header included */
    uint32_t flags, error;
} VFUHeader;

/* Header at buf (len bytes available): size within [16, VFU_MAX_MSG]. */
int vfu_parse_header(const void *buf, size_t len, VFUHeader *h);
void vfu_put_header(void *buf, const VFUHeader *h);

/* ---- replies the client checks ---------------------------------------------------- */
/* VERSION: major must be ours, minor at least 1. */
int vfu_parse_version(const uint8_t *p, size_t len, uint16_t *major, uint16_t *minor);
/* DEVICE_GET_INFO: a PCI device has at least the config region (index 7). */
int vfu_parse_device_info(const uint8_t *p, size_t len, unsigned *nr_regions,
                          unsigned *nr_irqs);
/* DEVICE_GET_REGION_INFO for `index`; `nr_fds` file descriptors came with it.
 * Fills `out` (areas from the sparse mmap capability, page-aligned and inside
 * the region) and *fd_offset (where the region starts in the fd). An MMAP
 * flag without an fd is refused. */
int vfu_parse_region_info(const uint8_t *p, size_t len, unsigned index, unsigned nr_fds,
                          VFIORegionInfo *out, uint64_t *fd_offset);
int vfu_parse_irq_info(const uint8_t *p, size_t len, unsigned index, uint32_t *count,
                       uint32_t *flags);
/* REGION_READ/WRITE reply for the access asked: same region, offset and count;
 * a read reply carries count bytes (*data points at them). */
int vfu_parse_region_reply(const uint8_t *p, size_t len, unsigned region, uint64_t offset,
                           uint32_t count, int is_read, const uint8_t **data);

/* ---- requests the server checks -------------------------------------------------- */
typedef struct VFURegionAccess {
    uint64_t offset;
    uint32_t region, count;
    const uint8_t *data;       /* WRITE: count bytes */
} VFURegionAccess;
int vfu_parse_region_access(const uint8_t *p, size_t len, int is_write, VFURegionAccess *a);

typedef struct VFUDMAMap {
    uint32_t flags;
    uint64_t offset, addr, size;
} VFUDMAMap;
int vfu_parse_dma_map(const uint8_t *p, size_t len, VFUDMAMap *m);
int vfu_parse_dma_unmap(const uint8_t *p, size_t len, uint64_t *addr, uint64_t *size);

typedef struct VFUIrqSet {
    uint32_t flags, index, start, count;
} VFUIrqSet;
/* SET_IRQS with `nr_fds` descriptors: eventfd triggers need one per vector. */
int vfu_parse_irq_set(const uint8_t *p, size_t len, unsigned nr_fds, VFUIrqSet *s);
/* GET_REGION_INFO / GET_IRQ_INFO requests: the index asked for. */
int vfu_parse_index_request(const uint8_t *p, size_t len, size_t min, unsigned *index);

/* ---- building (returns the payload length written) -------------------------------- */
size_t vfu_build_version(uint8_t *p, size_t cap);
size_t vfu_build_region_access(uint8_t *p, unsigned region, uint64_t offset, uint32_t count,
                               const void *data);
size_t vfu_build_dma_map(uint8_t *p, const VFUDMAMap *m);
size_t vfu_build_dma_unmap(uint8_t *p, uint64_t addr, uint64_t size);
size_t vfu_build_irq_set(uint8_t *p, const VFUIrqSet *s);
size_t vfu_build_index_request(uint8_t *p, size_t argsz, unsigned index);

#endif
