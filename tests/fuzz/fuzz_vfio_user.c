/* libFuzzer target: the vfio-user message checks (vfio_user_proto.c). The
 * first byte picks the parser, the rest is the message: a header then a
 * payload. Whatever the bytes, the checks must not read outside the message,
 * and what they accept must be self-consistent (areas inside their region). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vfio/vfio_user_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0];
    /* A copy of exactly the message's length, so ASan sees any overread. */
    size_t len = size - 1;
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, data + 1, len);
    VFUHeader h;
    if (vfu_parse_header(p, len, &h) == 0 && h.size > len + 1000000)
        abort();
    const uint8_t *pl = len >= VFU_HDR_SIZE ? p + VFU_HDR_SIZE : p;
    size_t pl_len = len >= VFU_HDR_SIZE ? len - VFU_HDR_SIZE : len;
    uint16_t ma, mi;
    unsigned a, b, index;
    uint32_t c, f;
    uint64_t fdo, x, y;
    VFIORegionInfo r;
    const uint8_t *d;
    VFURegionAccess ra;
    VFUDMAMap m;
    VFUIrqSet s;
    switch (which % 10) {
    case 0: vfu_parse_version(pl, pl_len, &ma, &mi); break;
    case 1: vfu_parse_device_info(pl, pl_len, &a, &b); break;
    case 2:
        if (vfu_parse_region_info(pl, pl_len, which >> 4, (which >> 3) & 1, &r, &fdo) == 0)
            for (unsigned i = 0; i < r.nr_areas; i++)
                if (r.nr_areas > VFIO_MAX_AREAS || r.areas[i].offset > r.size ||
                    r.areas[i].size > r.size - r.areas[i].offset)
                    abort();
        break;
    case 3: vfu_parse_irq_info(pl, pl_len, which >> 4, &c, &f); break;
    case 4:
        if (vfu_parse_region_reply(pl, pl_len, 0, 0, which >> 4, 1, &d) == 0 &&
            d + (which >> 4) > pl + pl_len)
            abort();
        break;
    case 5:
        if (vfu_parse_region_access(pl, pl_len, which & 0x10, &ra) == 0 && (which & 0x10) &&
            ra.data + ra.count > pl + pl_len)
            abort();
        break;
    case 6: vfu_parse_dma_map(pl, pl_len, &m); break;
    case 7: vfu_parse_dma_unmap(pl, pl_len, &x, &y); break;
    case 8: vfu_parse_irq_set(pl, pl_len, which >> 4, &s); break;
    case 9: vfu_parse_index_request(pl, pl_len, 16, &index); break;
    }
    free(p);
    return 0;
}
