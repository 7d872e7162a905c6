/* A vfio-user test device, served over one connected socket (see README.md
 * here). Used by the test-server program (main.c) and, in-process, by unit
 * tests. It speaks through devices/vfio/vfio_user_proto.c and vfio_user_sock.c,
 * as the client does.
 *
 * The PCI function 1234:5678, class ff0000, INTA, MSI-X with 4 vectors:
 *   BAR0, 32 KiB memory:
 *     0x0000-0x0fff  "data page": mmap-able (sparse area 0), shared memfd
 *     0x1000-0x10ff  registers, served by REGION_READ/WRITE messages:
 *       0x00 SCRATCH (8 bytes, any width)    0x08 ID (4: 0x56535255)
 *       0x10 DMA_ADDR (8)  0x18 DMA_LEN (4)  0x1c DMA_CMD (4: 1 = data page ->
 *            guest, 2 = guest -> data page)  0x20 DMA_STATUS (4: 0 ok, 1 fault)
 *       0x24 IRQ (4: write a vector number: signal that MSI-X vector)
 *       0x28 COUNT (4: accesses to this register block so far)
 *     0x4000-0x7fff  mmap-able (sparse area 1); the client overlays the MSI-X
 *            table at 0x4000 and the PBA at 0x4800 on it.
 * Every register access is appended to the log as "R|W OFFSET WIDTH VALUE". */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/vfio/vfio_user_proto.h"
#include "devices/vfio/vfio_user_sock.h"

#define TS_BAR_SIZE 0x8000u
#define TS_REGS 0x1000u
#define TS_NR_VECTORS 4
#define TS_MAX_DMA 64

typedef struct TestServer {
    int sock;
    FILE *log;
    uint16_t major;              /* what VERSION replies (tests use a wrong one) */
    int bar_fd;
    uint8_t *bar;                /* TS_BAR_SIZE, shared with the client's mmaps */
    uint8_t config[256];
    uint64_t scratch, dma_addr;
    uint32_t dma_len, dma_status, count;
    int irq_fd[TS_NR_VECTORS];
    int intx_fd;
    struct { uint64_t addr, size; uint8_t *host; bool writable; } dma[TS_MAX_DMA];
    uint8_t in[VFU_MAX_MSG], out[VFU_MAX_MSG];
} TestServer;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static void ts_init_config(TestServer *s)
{
    uint8_t *c = s->config;
    memset(c, 0, sizeof(s->config));
    put16(c + 0x00, 0x1234);
    put16(c + 0x02, 0x5678);
    put16(c + 0x06, 0x0010);                     /* capability list */
    put_le32(c + 0x08, 0xff000001);             /* class ff0000, revision 1 */
    put_le32(c + 0x10, 0x00000000);             /* BAR0: 32-bit memory */
    c[0x34] = 0x40;
    c[0x3d] = 1;                                 /* INTA */
    c[0x40] = 0x11;                              /* MSI-X */
    c[0x41] = 0;
    put16(c + 0x42, TS_NR_VECTORS - 1);
    put_le32(c + 0x44, 0x4000);                 /* table: BAR0 + 0x4000 */
    put_le32(c + 0x48, 0x4800);                 /* PBA: BAR0 + 0x4800 */
}

static void ts_reset(TestServer *s)
{
    s->scratch = s->dma_addr = 0;
    s->dma_len = s->dma_status = 0;
}

static uint8_t *dma_host(TestServer *s, uint64_t addr, uint64_t len, bool write)
{
    for (unsigned i = 0; i < TS_MAX_DMA; i++)
        if (s->dma[i].host && addr >= s->dma[i].addr && len <= s->dma[i].size &&
            addr - s->dma[i].addr <= s->dma[i].size - len && (!write || s->dma[i].writable))
            return s->dma[i].host + (addr - s->dma[i].addr);
    return NULL;
}

static void do_dma(TestServer *s, uint32_t cmd)
{
    uint64_t len = s->dma_len;
    uint8_t *g = len && len <= 0x1000 ? dma_host(s, s->dma_addr, len, cmd == 1) : NULL;
    s->dma_status = g ? 0 : 1;
    if (!g)
        return;
    if (cmd == 1)
        memcpy(g, s->bar, len);
    else
        memcpy(s->bar, g, len);
}

static uint64_t reg_read(TestServer *s, uint64_t off, unsigned w)
{
    uint64_t v = 0;
    switch (off & ~7ull) {
    case 0x00: v = s->scratch; break;
    case 0x08: v = 0x56535255; break;
    case 0x10: v = s->dma_addr; break;
    case 0x18: v = s->dma_len; break;
    case 0x20: v = s->dma_status; break;
    case 0x28: v = s->count; break;
    }
    v >>= 8 * (off & 7);
    return w == 8 ? v : v & ((1ull << (8 * w)) - 1);
}

static void reg_write(TestServer *s, uint64_t off, unsigned w, uint64_t v)
{
    uint64_t mask = w == 8 ? UINT64_MAX : ((1ull << (8 * w)) - 1);
    unsigned sh = 8 * (off & 7);
    switch (off & ~7ull) {
    case 0x00: s->scratch = (s->scratch & ~(mask << sh)) | (v & mask) << sh; break;
    case 0x10: s->dma_addr = (s->dma_addr & ~(mask << sh)) | (v & mask) << sh; break;
    case 0x18:
        if (off == 0x18 && w == 4)
            s->dma_len = (uint32_t)v;
        else if (off == 0x1c && w == 4)
            do_dma(s, (uint32_t)v);
        break;
    case 0x20:
        if (off == 0x24 && w == 4 && v < TS_NR_VECTORS && s->irq_fd[v] >= 0)
            eventfd_write(s->irq_fd[v], 1);
        break;
    }
}

/* A BAR access: registers log it; the mmap-able parts are plain memory. */
static void bar_access(TestServer *s, uint64_t off, uint8_t *data, unsigned count, bool write)
{
    if (off >= TS_REGS && off < TS_REGS + 0x100 && count <= 8 && !(count & (count - 1))) {
        uint64_t v = 0;
        if (write) {
            memcpy(&v, data, count);
            reg_write(s, off - TS_REGS, count, v);
        } else {
            v = reg_read(s, off - TS_REGS, count);
            memcpy(data, &v, count);
        }
        s->count++;
        if (s->log) {
            fprintf(s->log, "%c 0x%llx %u 0x%llx\n", write ? 'W' : 'R',
                    (unsigned long long)(off - TS_REGS), count, (unsigned long long)v);
            fflush(s->log);
        }
    } else if (off < TS_REGS || off >= 0x4000) {
        if (write)
            memcpy(s->bar + off, data, count);
        else
            memcpy(data, s->bar + off, count);
    } else if (!write) {
        memset(data, 0, count);
    }
}

static int send_reply(TestServer *s, const VFUHeader *req, size_t len, int err, const int *fds,
                      unsigned nr_fds)
{
    VFUHeader h = { .id = req->id, .cmd = req->cmd, .size = (uint32_t)(VFU_HDR_SIZE + len),
                    .flags = VFU_TYPE_REPLY | (err ? VFU_F_ERROR : 0), .error = (uint32_t)err };
    if (err)
        h.size = VFU_HDR_SIZE;
    vfu_put_header(s->out, &h);
    return vfu_send(s->sock, s->out, s->out + VFU_HDR_SIZE, h.size - VFU_HDR_SIZE, fds, nr_fds)
               ? -1 : 0;
}

static size_t region_info(TestServer *s, unsigned index, uint8_t *p, int *fd)
{
    memset(p, 0, 80);
    put_le32(p + 8, index);
    uint32_t flags = 0;
    uint64_t size = 0;
    size_t len = 32;
    if (index == 0) {
        flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
        size = TS_BAR_SIZE;
        put_le32(p + 12, 32);                   /* cap_offset */
        put16(p + 32, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
        put16(p + 34, 1);
        put_le32(p + 36, 0);                    /* next */
        put_le32(p + 40, 2);                    /* nr_areas */
        put_le64(p + 48, 0);
        put_le64(p + 56, 0x1000);
        put_le64(p + 64, 0x4000);
        put_le64(p + 72, 0x4000);
        len = 80;
        *fd = s->bar_fd;
    } else if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
        flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        size = sizeof(s->config);
    }
    put_le32(p, (uint32_t)len);
    put_le32(p + 4, flags);
    put_le64(p + 16, size);
    return len;
}

/* One request; -1 when the connection is over. */
static int serve_one(TestServer *s)
{
    int fds[VFU_MAX_FDS];
    unsigned nr_fds;
    VFUHeader h;
    if (vfu_recv(s->sock, s->in, &h, fds, VFU_MAX_FDS, &nr_fds))
        return -1;
    const uint8_t *p = s->in + VFU_HDR_SIZE;
    size_t len = h.size - VFU_HDR_SIZE;
    uint8_t *o = s->out + VFU_HDR_SIZE;
    int r = 0, out_fd = -1;
    size_t olen = 0;
    unsigned index;
    switch (h.cmd) {
    case VFU_VERSION: {
        uint16_t major, minor;
        if (vfu_parse_version(p, len, &major, &minor)) {
            r = EINVAL;
            break;
        }
        olen = vfu_build_version(o, VFU_MAX_MSG - VFU_HDR_SIZE);
        put16(o, s->major);
        break;
    }
    case VFU_DEVICE_GET_INFO:
        put_le32(o, 16);
        put_le32(o + 4, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
        put_le32(o + 8, VFIO_PCI_NUM_REGIONS);
        put_le32(o + 12, VFIO_PCI_NUM_IRQS);
        olen = 16;
        break;
    case VFU_DEVICE_GET_REGION_INFO:
        if (vfu_parse_index_request(p, len, 32, &index) || index >= VFIO_PCI_NUM_REGIONS)
            r = EINVAL;
        else
            olen = region_info(s, index, o, &out_fd);
        break;
    case VFU_DEVICE_GET_IRQ_INFO:
        if (vfu_parse_index_request(p, len, 16, &index) || index >= VFIO_PCI_NUM_IRQS) {
            r = EINVAL;
            break;
        }
        put_le32(o, 16);
        put_le32(o + 4, VFIO_IRQ_INFO_EVENTFD);
        put_le32(o + 8, index);
        put_le32(o + 12, index == VFIO_PCI_MSIX_IRQ_INDEX ? TS_NR_VECTORS
                          : index == VFIO_PCI_INTX_IRQ_INDEX ? 1 : 0);
        olen = 16;
        break;
    case VFU_DEVICE_SET_IRQS: {
        VFUIrqSet st;
        if (vfu_parse_irq_set(p, len, nr_fds, &st)) {
            r = EINVAL;
            break;
        }
        bool trigger = st.flags & VFIO_IRQ_SET_ACTION_TRIGGER;
        if (st.index == VFIO_PCI_MSIX_IRQ_INDEX && trigger) {
            if (!st.count)
                for (unsigned v = 0; v < TS_NR_VECTORS; v++)
                    if (s->irq_fd[v] >= 0)
                        close(s->irq_fd[v]), s->irq_fd[v] = -1;
            for (unsigned i = 0; i < st.count && nr_fds; i++) {
                unsigned v = st.start + i;
                if (v < TS_NR_VECTORS) {
                    if (s->irq_fd[v] >= 0)
                        close(s->irq_fd[v]);
                    s->irq_fd[v] = fds[i];
                    fds[i] = -1;
                }
            }
        } else if (st.index == VFIO_PCI_INTX_IRQ_INDEX && trigger && st.count == 1 && nr_fds) {
            if (s->intx_fd >= 0)
                close(s->intx_fd);
            s->intx_fd = fds[0];
            fds[0] = -1;
        }
        break;
    }
    case VFU_REGION_READ:
    case VFU_REGION_WRITE: {
        VFURegionAccess a;
        bool write = h.cmd == VFU_REGION_WRITE;
        if (vfu_parse_region_access(p, len, write, &a)) {
            r = EINVAL;
            break;
        }
        uint8_t *data = o + 16;
        if (write)
            memcpy(data, a.data, a.count);
        if (a.region == 0 && a.offset + a.count <= TS_BAR_SIZE) {
            bar_access(s, a.offset, data, a.count, write);
        } else if (a.region == VFIO_PCI_CONFIG_REGION_INDEX &&
                   a.offset + a.count <= sizeof(s->config)) {
            if (!write)
                memcpy(data, s->config + a.offset, a.count);
            else if (a.offset == 4 && a.count >= 2)
                memcpy(s->config + 4, data, 2);   /* the command register only */
        } else {
            r = EINVAL;
            break;
        }
        olen = vfu_build_region_access(o, a.region, a.offset, a.count, write ? NULL : data);
        break;
    }
    case VFU_DMA_MAP: {
        VFUDMAMap dm;
        unsigned slot = 0;
        while (slot < TS_MAX_DMA && s->dma[slot].host)
            slot++;
        if (nr_fds != 1 || vfu_parse_dma_map(p, len, &dm) || slot == TS_MAX_DMA) {
            r = EINVAL;
            break;
        }
        void *host = mmap(NULL, dm.size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0],
                          (off_t)dm.offset);
        if (host == MAP_FAILED) {
            r = errno;
            break;
        }
        s->dma[slot].addr = dm.addr;
        s->dma[slot].size = dm.size;
        s->dma[slot].host = host;
        s->dma[slot].writable = dm.flags & VFU_DMA_WRITE;
        break;
    }
    case VFU_DMA_UNMAP: {
        uint64_t addr, size;
        if (vfu_parse_dma_unmap(p, len, &addr, &size)) {
            r = EINVAL;
            break;
        }
        for (unsigned i = 0; i < TS_MAX_DMA; i++)
            if (s->dma[i].host && s->dma[i].addr >= addr &&
                s->dma[i].addr + s->dma[i].size <= addr + size) {
                munmap(s->dma[i].host, s->dma[i].size);
                s->dma[i].host = NULL;
            }
        break;
    }
    case VFU_DEVICE_RESET:
        ts_reset(s);
        break;
    default:
        r = ENOSYS;
    }
    vfu_close_fds(fds, nr_fds);
    return send_reply(s, &h, olen, r, &out_fd, out_fd >= 0 ? 1 : 0);
}

static TestServer *current_server;

/* The BAR memory of the server running now (for in-process tests). */
static inline uint8_t *test_server_bar(void)
{
    return current_server->bar;
}

/* Serves `sock` until the client hangs up. 0, or -1 if the BAR memory could
 * not be made. */
static int test_server_serve(int sock, FILE *log, uint16_t major)
{
    static TestServer s;
    memset(&s, 0, sizeof(s));
    current_server = &s;
    s.sock = sock;
    s.log = log;
    s.major = major;
    s.intx_fd = -1;
    for (unsigned v = 0; v < TS_NR_VECTORS; v++)
        s.irq_fd[v] = -1;
    s.bar_fd = memfd_create("vfio-user-test-bar", MFD_CLOEXEC);
    if (s.bar_fd < 0 || ftruncate(s.bar_fd, TS_BAR_SIZE) < 0)
        return -1;
    s.bar = mmap(NULL, TS_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s.bar_fd, 0);
    if (s.bar == MAP_FAILED)
        return -1;
    ts_init_config(&s);
    while (serve_one(&s) == 0)
        ;
    for (unsigned i = 0; i < TS_MAX_DMA; i++)
        if (s.dma[i].host)
            munmap(s.dma[i].host, s.dma[i].size);
    for (unsigned v = 0; v < TS_NR_VECTORS; v++)
        if (s.irq_fd[v] >= 0)
            close(s.irq_fd[v]);
    if (s.intx_fd >= 0)
        close(s.intx_fd);
    munmap(s.bar, TS_BAR_SIZE);
    close(s.bar_fd);
    return 0;
}
