/* vfio-user message checks against malformed messages: every lie about a
 * size, a short message, impossible areas and looping capability chains. */
#include <errno.h>
#include <string.h>

#include "devices/vfio/vfio_user_proto.h"
#include "tests/unit/harness.h"

TEST(header_sizes)
{
    uint8_t b[16] = { 0 };
    VFUHeader h;
    CHECK_EQ(vfu_parse_header(b, 15, &h), -EPROTO);
    vfu_put_header(b, &(VFUHeader){ .id = 7, .cmd = 9, .size = 15 });
    CHECK_EQ(vfu_parse_header(b, 16, &h), -EPROTO);          /* smaller than a header */
    vfu_put_header(b, &(VFUHeader){ .size = VFU_MAX_MSG + 1 });
    CHECK_EQ(vfu_parse_header(b, 16, &h), -EPROTO);          /* larger than we accept */
    vfu_put_header(b, &(VFUHeader){ .id = 7, .cmd = 9, .size = 40, .flags = 1 });
    CHECK_EQ(vfu_parse_header(b, 16, &h), 0);
    CHECK_EQ(h.id, 7);
    CHECK_EQ(h.cmd, 9);
    CHECK_EQ(h.size, 40);
}

TEST(version)
{
    uint8_t b[128];
    uint16_t ma, mi;
    size_t n = vfu_build_version(b, sizeof(b));
    CHECK_EQ(vfu_parse_version(b, n, &ma, &mi), 0);
    CHECK_EQ(vfu_parse_version(b, 3, &ma, &mi), -EPROTO);
    CHECK_EQ(vfu_parse_version(b, n - 1, &ma, &mi), -EPROTO);  /* JSON not terminated */
    b[0] = 1;
    CHECK_EQ(vfu_parse_version(b, n, &ma, &mi), -EPROTONOSUPPORT);
    b[0] = 0;
    b[2] = 0;
    CHECK_EQ(vfu_parse_version(b, n, &ma, &mi), -EPROTONOSUPPORT);   /* minor 0 */
}

TEST(device_info)
{
    uint8_t b[16];
    unsigned r, i;
    put_le32(b, 16);
    put_le32(b + 8, 9);
    put_le32(b + 12, 5);
    CHECK_EQ(vfu_parse_device_info(b, 16, &r, &i), 0);
    CHECK_EQ(vfu_parse_device_info(b, 12, &r, &i), -EPROTO);
    put_le32(b, 32);                                         /* argsz beyond the message */
    CHECK_EQ(vfu_parse_device_info(b, 16, &r, &i), -EPROTO);
    put_le32(b, 16);
    put_le32(b + 8, 7);                                      /* no config region */
    CHECK_EQ(vfu_parse_device_info(b, 16, &r, &i), -EPROTO);
    put_le32(b + 8, 100000);
    CHECK_EQ(vfu_parse_device_info(b, 16, &r, &i), -EPROTO);
}

static size_t region(uint8_t *b, uint32_t flags, uint64_t size, uint32_t cap_off,
                     uint32_t nr_areas, const uint64_t *areas)
{
    memset(b, 0, 256);
    put_le32(b + 4, flags);
    put_le32(b + 8, 0);
    put_le32(b + 12, cap_off);
    put_le64(b + 16, size);
    size_t len = 32;
    if (cap_off) {
        b[cap_off] = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
        b[cap_off + 2] = 1;
        put_le32(b + cap_off + 8, nr_areas);
        for (unsigned i = 0; i < 2 * nr_areas && i < 4; i++)
            put_le64(b + cap_off + 16 + 8 * i, areas[i]);
        len = cap_off + 16 + 16 * (nr_areas < 2 ? nr_areas : 2);
    }
    put_le32(b, (uint32_t)len);
    return len;
}

TEST(region_info_with_sparse_areas)
{
    uint8_t b[256];
    VFIORegionInfo r;
    uint64_t fdo;
    const uint32_t RWM = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                         VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
    uint64_t good[] = { 0, 0x1000, 0x4000, 0x4000 };
    size_t n = region(b, RWM, 0x8000, 32, 2, good);
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 1, &r, &fdo), 0);
    CHECK_EQ(r.nr_areas, 2);
    CHECK_EQ(r.areas[1].offset, 0x4000);
    CHECK_EQ(r.areas[1].size, 0x4000);
    CHECK_EQ(vfu_parse_region_info(b, n, 1, 1, &r, &fdo), -EPROTO);  /* another index */
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 0, &r, &fdo), -EPROTO);  /* mmap without fd */
    CHECK_EQ(vfu_parse_region_info(b, n - 1, 0, 1, &r, &fdo), -EPROTO); /* short */
    uint64_t outside[] = { 0x4000, 0x8000 };
    n = region(b, RWM, 0x8000, 32, 1, outside);
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 1, &r, &fdo), -EPROTO);
    uint64_t wrap[] = { 0x1000, UINT64_MAX - 0xfff };
    n = region(b, RWM, 0x8000, 32, 1, wrap);
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 1, &r, &fdo), -EPROTO);
    uint64_t unaligned[] = { 0x800, 0x1000 };
    n = region(b, RWM, 0x8000, 32, 1, unaligned);
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 1, &r, &fdo), -EPROTO);
    n = region(b, RWM, 0x8000, 32, 200, good);               /* more areas than sent */
    put_le32(b, 64);
    CHECK_EQ(vfu_parse_region_info(b, 64, 0, 1, &r, &fdo), -EPROTO);
    n = region(b, RWM, 0x8000, 32, 2, good);
    put_le32(b + 36, 32);                                    /* capability loops to itself */
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 1, &r, &fdo), -EPROTO);
    n = region(b, RWM, 0x8000, 200, 2, good);                 /* cap offset past argsz */
    put_le32(b, 64);
    CHECK_EQ(vfu_parse_region_info(b, 64, 0, 1, &r, &fdo), -EPROTO);
    /* no capability: the whole region, which must then be whole pages */
    n = region(b, VFIO_REGION_INFO_FLAG_MMAP, 0x2000, 0, 0, NULL);
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 1, &r, &fdo), 0);
    CHECK_EQ(r.nr_areas, 1);
    CHECK_EQ(r.areas[0].size, 0x2000);
    n = region(b, VFIO_REGION_INFO_FLAG_MMAP, 0x100, 0, 0, NULL);
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 1, &r, &fdo), -EPROTO);
    /* an fd with a region that cannot be mapped */
    n = region(b, VFIO_REGION_INFO_FLAG_READ, 0x100, 0, 0, NULL);
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 1, &r, &fdo), -EPROTO);
    CHECK_EQ(vfu_parse_region_info(b, n, 0, 0, &r, &fdo), 0);
    CHECK_EQ(r.nr_areas, 0);
}

TEST(region_access_reply_must_match_the_request)
{
    uint8_t b[64];
    const uint8_t *data;
    uint32_t v = 0x11223344;
    size_t n = vfu_build_region_access(b, 0, 0x1000, 4, &v);
    CHECK_EQ(vfu_parse_region_reply(b, n, 0, 0x1000, 4, 1, &data), 0);
    CHECK_EQ(get_le32(data), 0x11223344);
    CHECK_EQ(vfu_parse_region_reply(b, n - 1, 0, 0x1000, 4, 1, &data), -EPROTO);
    CHECK_EQ(vfu_parse_region_reply(b, n, 0, 0x1000, 8, 1, &data), -EPROTO);
    CHECK_EQ(vfu_parse_region_reply(b, n, 1, 0x1000, 4, 1, &data), -EPROTO);
    CHECK_EQ(vfu_parse_region_reply(b, n, 0, 0x1004, 4, 1, &data), -EPROTO);
    /* the server side */
    VFURegionAccess a;
    CHECK_EQ(vfu_parse_region_access(b, n, 1, &a), 0);
    CHECK_EQ(vfu_parse_region_access(b, n, 0, &a), -EPROTO);   /* a read carries no data */
    put_le32(b + 12, 100);                                    /* count beyond the message */
    CHECK_EQ(vfu_parse_region_access(b, n, 1, &a), -EPROTO);
    put_le32(b + 12, 0);
    CHECK_EQ(vfu_parse_region_access(b, 16, 0, &a), -EINVAL);
    put_le64(b, UINT64_MAX - 1);
    put_le32(b + 12, 4);
    CHECK_EQ(vfu_parse_region_access(b, 16, 0, &a), -EINVAL);
}

TEST(dma_and_irq_requests)
{
    uint8_t b[64];
    VFUDMAMap m;
    size_t n = vfu_build_dma_map(b, &(VFUDMAMap){ 3, 0x2000, 0x10000, 0x4000 });
    CHECK_EQ(vfu_parse_dma_map(b, n, &m), 0);
    CHECK_EQ(m.size, 0x4000);
    CHECK_EQ(vfu_parse_dma_map(b, n - 8, &m), -EPROTO);
    vfu_build_dma_map(b, &(VFUDMAMap){ 3, 0, UINT64_MAX & ~0xfffull, 0x2000 });
    CHECK_EQ(vfu_parse_dma_map(b, n, &m), -EINVAL);
    vfu_build_dma_map(b, &(VFUDMAMap){ 3, 0, 0x1000, 0x800 });
    CHECK_EQ(vfu_parse_dma_map(b, n, &m), -EINVAL);
    uint64_t a, s;
    n = vfu_build_dma_unmap(b, 0x1000, 0x1000);
    CHECK_EQ(vfu_parse_dma_unmap(b, n, &a, &s), 0);
    CHECK_EQ(vfu_parse_dma_unmap(b, n - 1, &a, &s), -EPROTO);
    VFUIrqSet st;
    n = vfu_build_irq_set(b, &(VFUIrqSet){ VFIO_IRQ_SET_DATA_EVENTFD, 2, 0, 4 });
    CHECK_EQ(vfu_parse_irq_set(b, n, 4, &st), 0);
    CHECK_EQ(vfu_parse_irq_set(b, n, 3, &st), -EINVAL);      /* one fd per vector */
    vfu_build_irq_set(b, &(VFUIrqSet){ VFIO_IRQ_SET_DATA_EVENTFD, 2, 0xffffffff, 2 });
    CHECK_EQ(vfu_parse_irq_set(b, n, 2, &st), -EINVAL);      /* start + count wraps */
    uint32_t count, flags;
    put_le32(b, 16);
    put_le32(b + 8, 2);
    put_le32(b + 12, 4);
    CHECK_EQ(vfu_parse_irq_info(b, 16, 2, &count, &flags), 0);
    CHECK_EQ(count, 4);
    CHECK_EQ(vfu_parse_irq_info(b, 16, 1, &count, &flags), -EPROTO);
    put_le32(b + 12, 1u << 20);
    CHECK_EQ(vfu_parse_irq_info(b, 16, 2, &count, &flags), -EPROTO);
}
