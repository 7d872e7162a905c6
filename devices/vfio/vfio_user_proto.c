/* vfio-user messages: building and checking (see vfio_user_proto.h). */
#include <errno.h>
#include <string.h>

#include "devices/vfio/vfio_user_proto.h"

#define PAGE 4096ull

int vfu_parse_header(const void *buf, size_t len, VFUHeader *h)
{
    const uint8_t *p = buf;
    if (len < VFU_HDR_SIZE)
        return -EPROTO;
    h->id = get_le16(p);
    h->cmd = get_le16(p + 2);
    h->size = get_le32(p + 4);
    h->flags = get_le32(p + 8);
    h->error = get_le32(p + 12);
    if (h->size < VFU_HDR_SIZE || h->size > VFU_MAX_MSG)
        return -EPROTO;
    return 0;
}

void vfu_put_header(void *buf, const VFUHeader *h)
{
    uint8_t *p = buf;
    put_le16(p, h->id);
    put_le16(p + 2, h->cmd);
    put_le32(p + 4, h->size);
    put_le32(p + 8, h->flags);
    put_le32(p + 12, h->error);
}

/* ---- replies ---------------------------------------------------------------------- */
int vfu_parse_version(const uint8_t *p, size_t len, uint16_t *major, uint16_t *minor)
{
    if (len < 4)
        return -EPROTO;
    *major = get_le16(p);
    *minor = get_le16(p + 2);
    /* Capabilities are JSON text; if present they must be a terminated string. */
    if (len > 4 && !memchr(p + 4, 0, len - 4))
        return -EPROTO;
    if (*major != VFU_MAJOR || *minor < VFU_MINOR)
        return -EPROTONOSUPPORT;
    return 0;
}

/* argsz: what the sender says it filled; never more than arrived, never less
 * than the fixed part. */
static int check_argsz(const uint8_t *p, size_t len, size_t fixed)
{
    if (len < fixed)
        return -EPROTO;
    uint32_t argsz = get_le32(p);
    if (argsz < fixed || argsz > len)
        return -EPROTO;
    return 0;
}

int vfu_parse_device_info(const uint8_t *p, size_t len, unsigned *nr_regions,
                          unsigned *nr_irqs)
{
    if (check_argsz(p, len, 16))
        return -EPROTO;
    *nr_regions = get_le32(p + 8);
    *nr_irqs = get_le32(p + 12);
    if (*nr_regions <= VFIO_PCI_CONFIG_REGION_INDEX || *nr_regions > VFIO_MAX_REGIONS ||
        *nr_irqs > VFIO_PCI_NUM_IRQS + 8)
        return -EPROTO;
    return 0;
}

static int parse_sparse(const uint8_t *cap, size_t avail, const VFIORegionInfo *r,
                        VFIORegionInfo *out)
{
    if (avail < 16)
        return -EPROTO;
    uint32_t n = get_le32(cap + 8);
    if (n > VFIO_MAX_AREAS || 16 + 16ull * n > avail)
        return -EPROTO;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = get_le64(cap + 16 + 16 * i), size = get_le64(cap + 24 + 16 * i);
        if ((off | size) & (PAGE - 1) || !size || off > r->size || size > r->size - off)
            return -EPROTO;
        out->areas[i] = (VFIOArea){ off, size };
    }
    out->nr_areas = n;
    return 0;
}

int vfu_parse_region_info(const uint8_t *p, size_t len, unsigned index, unsigned nr_fds,
                          VFIORegionInfo *out, uint64_t *fd_offset)
{
    if (check_argsz(p, len, 32))
        return -EPROTO;
    len = get_le32(p);     /* what the server filled */
    memset(out, 0, sizeof(*out));
    out->flags = get_le32(p + 4);
    if (get_le32(p + 8) != index)
        return -EPROTO;
    uint32_t cap_off = get_le32(p + 12);
    out->size = get_le64(p + 16);
    *fd_offset = get_le64(p + 24);
    if (out->size > (1ull << 40))
        return -EPROTO;
    bool mmap = out->flags & VFIO_REGION_INFO_FLAG_MMAP;
    if (mmap && nr_fds != 1)
        return -EPROTO;
    if (!mmap && nr_fds)
        return -EPROTO;
    if (mmap && ((*fd_offset & (PAGE - 1)) || *fd_offset > UINT64_MAX - out->size))
        return -EPROTO;
    bool sparse = false;
    /* Capabilities: a chain of headers {id u16, version u16, next u32}; each
     * next must move forward, so a chain cannot loop. */
    for (unsigned n = 0; cap_off; n++) {
        if (n >= 16 || cap_off < 32 || cap_off > len - 8 || (cap_off & 3))
            return -EPROTO;
        const uint8_t *cap = p + cap_off;
        uint32_t next = get_le32(cap + 4);
        if (next && next <= cap_off)
            return -EPROTO;
        size_t avail = (next ? next : len) - cap_off;
        if (next > len)
            return -EPROTO;
        if (get_le16(cap) == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
            if (sparse || parse_sparse(cap, avail, out, out))
                return -EPROTO;
            sparse = true;
        }
        cap_off = next;
    }
    if (!mmap) {
        out->nr_areas = 0;
    } else if (!sparse) {
        if (out->size & (PAGE - 1) || !out->size)
            return -EPROTO;
        out->nr_areas = 1;
        out->areas[0] = (VFIOArea){ 0, out->size };
    }
    return 0;
}

int vfu_parse_irq_info(const uint8_t *p, size_t len, unsigned index, uint32_t *count,
                       uint32_t *flags)
{
    if (check_argsz(p, len, 16))
        return -EPROTO;
    *flags = get_le32(p + 4);
    if (get_le32(p + 8) != index)
        return -EPROTO;
    *count = get_le32(p + 12);
    if (*count > VFIO_MAX_IRQ_VECTORS)
        return -EPROTO;
    return 0;
}

int vfu_parse_region_reply(const uint8_t *p, size_t len, unsigned region, uint64_t offset,
                           uint32_t count, int is_read, const uint8_t **data)
{
    if (len < 16 || get_le64(p) != offset || get_le32(p + 8) != region ||
        get_le32(p + 12) != count)
        return -EPROTO;
    if (is_read && len != 16 + (size_t)count)
        return -EPROTO;
    *data = p + 16;
    return 0;
}

/* ---- requests --------------------------------------------------------------------- */
int vfu_parse_region_access(const uint8_t *p, size_t len, int is_write, VFURegionAccess *a)
{
    if (len < 16)
        return -EPROTO;
    a->offset = get_le64(p);
    a->region = get_le32(p + 8);
    a->count = get_le32(p + 12);
    a->data = p + 16;
    if (!a->count || a->count > VFU_MAX_DATA || a->offset > UINT64_MAX - a->count)
        return -EINVAL;
    if (len != 16 + (is_write ? (size_t)a->count : 0))
        return -EPROTO;
    return 0;
}

int vfu_parse_dma_map(const uint8_t *p, size_t len, VFUDMAMap *m)
{
    if (check_argsz(p, len, 32) || len != 32)
        return -EPROTO;
    m->flags = get_le32(p + 4);
    m->offset = get_le64(p + 8);
    m->addr = get_le64(p + 16);
    m->size = get_le64(p + 24);
    if (!m->size || m->addr > UINT64_MAX - m->size || m->offset > UINT64_MAX - m->size ||
        ((m->addr | m->size | m->offset) & (PAGE - 1)))
        return -EINVAL;
    return 0;
}

int vfu_parse_dma_unmap(const uint8_t *p, size_t len, uint64_t *addr, uint64_t *size)
{
    if (check_argsz(p, len, 24))
        return -EPROTO;
    *addr = get_le64(p + 8);
    *size = get_le64(p + 16);
    if (!*size || *addr > UINT64_MAX - *size)
        return -EINVAL;
    return 0;
}

int vfu_parse_irq_set(const uint8_t *p, size_t len, unsigned nr_fds, VFUIrqSet *s)
{
    if (check_argsz(p, len, 20))
        return -EPROTO;
    s->flags = get_le32(p + 4);
    s->index = get_le32(p + 8);
    s->start = get_le32(p + 12);
    s->count = get_le32(p + 16);
    if (s->start > VFIO_MAX_IRQ_VECTORS || s->count > VFIO_MAX_IRQ_VECTORS - s->start)
        return -EINVAL;
    bool eventfds = s->flags & VFIO_IRQ_SET_DATA_EVENTFD;
    if (eventfds ? nr_fds != s->count : nr_fds != 0)
        return -EINVAL;
    return 0;
}

int vfu_parse_index_request(const uint8_t *p, size_t len, size_t min, unsigned *index)
{
    /* A request's argsz is the room the client has for the reply. */
    if (len < min || get_le32(p) < min)
        return -EPROTO;
    *index = get_le32(p + 8);
    return 0;
}

/* ---- building ------------------------------------------------------------------------ */
size_t vfu_build_version(uint8_t *p, size_t cap)
{
    static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":4096}}";
    if (cap < 4 + sizeof(caps))
        return 0;
    put_le16(p, VFU_MAJOR);
    put_le16(p + 2, VFU_MINOR);
    memcpy(p + 4, caps, sizeof(caps));
    return 4 + sizeof(caps);
}

size_t vfu_build_region_access(uint8_t *p, unsigned region, uint64_t offset, uint32_t count,
                               const void *data)
{
    put_le64(p, offset);
    put_le32(p + 8, region);
    put_le32(p + 12, count);
    if (data)
        memcpy(p + 16, data, count);
    return 16 + (data ? count : 0);
}

size_t vfu_build_dma_map(uint8_t *p, const VFUDMAMap *m)
{
    put_le32(p, 32);
    put_le32(p + 4, m->flags);
    put_le64(p + 8, m->offset);
    put_le64(p + 16, m->addr);
    put_le64(p + 24, m->size);
    return 32;
}

size_t vfu_build_dma_unmap(uint8_t *p, uint64_t addr, uint64_t size)
{
    put_le32(p, 24);
    put_le32(p + 4, 0);
    put_le64(p + 8, addr);
    put_le64(p + 16, size);
    return 24;
}

size_t vfu_build_irq_set(uint8_t *p, const VFUIrqSet *s)
{
    put_le32(p, 20);
    put_le32(p + 4, s->flags);
    put_le32(p + 8, s->index);
    put_le32(p + 12, s->start);
    put_le32(p + 16, s->count);
    return 20;
}

size_t vfu_build_index_request(uint8_t *p, size_t argsz, unsigned index)
{
    memset(p, 0, argsz < 32 ? argsz : 32);
    put_le32(p, (uint32_t)argsz);
    put_le32(p + 8, index);
    return argsz < 32 ? argsz : 32;
}
