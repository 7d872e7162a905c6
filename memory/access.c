/* Sized accessors: exact-width device memory accesses, ordered copies, and the
 * address_space_ld / st helpers. */
#include "memory/memory-internal.h"

#include <glib.h>
#include <string.h>
#include "util/rcu.h"

#include "util/log.h"

uint64_t device_mem_load(const volatile void *p, unsigned size)
{
    switch (size) {
    case 1:
        return *(const volatile uint8_t *)p;
    case 2:
        return *(const volatile uint16_t *)p;
    case 4:
        return *(const volatile uint32_t *)p;
    case 8:
        return *(const volatile uint64_t *)p;
    }
    log_error("memory: device load of size %u", size);
    return UINT64_MAX;
}

void device_mem_store(volatile void *p, uint64_t val, unsigned size)
{
    switch (size) {
    case 1:
        *(volatile uint8_t *)p = (uint8_t)val;
        return;
    case 2:
        *(volatile uint16_t *)p = (uint16_t)val;
        return;
    case 4:
        *(volatile uint32_t *)p = (uint32_t)val;
        return;
    case 8:
        *(volatile uint64_t *)p = val;
        return;
    }
    log_error("memory: device store of size %u", size);
}

/* Largest of 8/4/2/1 that `addr` is aligned to and that fits in `left`. */
static unsigned unit_width(uintptr_t addr, size_t left)
{
    unsigned w = 8;
    while (w > 1 && ((addr & (w - 1)) || w > left))
        w >>= 1;
    return w;
}

/* One unit of the source: a single access when aligned, else byte by byte (an
 * unaligned unit cannot be one device access anyway). */
static uint64_t load_unit(const volatile uint8_t *src, unsigned w)
{
    if (!((uintptr_t)src & (w - 1)))
        return device_mem_load(src, w);
    uint8_t b[8];
    for (unsigned i = 0; i < w; i++)
        b[i] = src[i];
    return host_value(b, w);
}

void device_mem_read_ordered(void *dst, const volatile void *src, size_t len)
{
    const volatile uint8_t *s = src;
    uint8_t *d = dst;
    for (size_t pos = 0; pos < len;) {
        unsigned w = unit_width((uintptr_t)(s + pos), len - pos);
        host_bytes(d + pos, device_mem_load(s + pos, w), w);
        pos += w;
    }
}

void memory_copy_ordered(volatile void *dst, const volatile void *src, size_t len)
{
    volatile uint8_t *d = dst;
    const volatile uint8_t *s = src;
    uint8_t small[256];
    uint8_t *snapshot = NULL;
    if (len == 0)
        return;
    /* A forward copy onto a destination above the source would read bytes it has
     * already overwritten: copy the source aside first. */
    if ((uintptr_t)s < (uintptr_t)d && (uintptr_t)d < (uintptr_t)s + len) {
        snapshot = len <= sizeof(small) ? small : g_malloc(len);
        device_mem_read_ordered(snapshot, s, len);
        s = snapshot;
    }
    for (size_t pos = 0; pos < len;) {
        unsigned w = unit_width((uintptr_t)(d + pos), len - pos);
        device_mem_store(d + pos, load_unit(s + pos, w), w);
        pos += w;
    }
    if (snapshot != small)
        g_free(snapshot);
}

/* ---- address_space_ld / st ------------------------------------------------------
 * One access of exactly the width through dispatch (which makes an aligned RAM
 * access a single atomic one); the name's byte order maps value <-> bytes. */
static uint64_t bytes_to_value(const uint8_t *b, unsigned size, bool big_endian)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)b[i] << (8 * (big_endian ? size - 1 - i : i));
    return v;
}

static void value_to_bytes(uint8_t *b, uint64_t v, unsigned size, bool big_endian)
{
    for (unsigned i = 0; i < size; i++)
        b[i] = (uint8_t)(v >> (8 * (big_endian ? size - 1 - i : i)));
}

static uint64_t load(AddressSpace *as, hwaddr addr, unsigned size, bool big_endian,
                     MemTxResult *res)
{
    uint8_t b[8];
    MemTxResult r = address_space_rw(as, addr, b, size, false);
    if (res)
        *res = r;
    return bytes_to_value(b, size, big_endian);
}

static MemTxResult store(AddressSpace *as, hwaddr addr, uint64_t val, unsigned size,
                         bool big_endian)
{
    uint8_t b[8];
    value_to_bytes(b, val, size, big_endian);
    return address_space_rw(as, addr, b, size, true);
}

uint8_t address_space_ldub(AddressSpace *as, hwaddr addr, MemTxResult *res)
{
    return (uint8_t)load(as, addr, 1, false, res);
}

uint16_t address_space_lduw_le(AddressSpace *as, hwaddr addr, MemTxResult *res)
{
    return (uint16_t)load(as, addr, 2, false, res);
}

uint16_t address_space_lduw_be(AddressSpace *as, hwaddr addr, MemTxResult *res)
{
    return (uint16_t)load(as, addr, 2, true, res);
}

uint32_t address_space_ldl_le(AddressSpace *as, hwaddr addr, MemTxResult *res)
{
    return (uint32_t)load(as, addr, 4, false, res);
}

uint32_t address_space_ldl_be(AddressSpace *as, hwaddr addr, MemTxResult *res)
{
    return (uint32_t)load(as, addr, 4, true, res);
}

uint64_t address_space_ldq_le(AddressSpace *as, hwaddr addr, MemTxResult *res)
{
    return load(as, addr, 8, false, res);
}

uint64_t address_space_ldq_be(AddressSpace *as, hwaddr addr, MemTxResult *res)
{
    return load(as, addr, 8, true, res);
}

MemTxResult address_space_stb(AddressSpace *as, hwaddr addr, uint8_t val)
{
    return store(as, addr, val, 1, false);
}

MemTxResult address_space_stw_le(AddressSpace *as, hwaddr addr, uint16_t val)
{
    return store(as, addr, val, 2, false);
}

MemTxResult address_space_stw_be(AddressSpace *as, hwaddr addr, uint16_t val)
{
    return store(as, addr, val, 2, true);
}

MemTxResult address_space_stl_le(AddressSpace *as, hwaddr addr, uint32_t val)
{
    return store(as, addr, val, 4, false);
}

MemTxResult address_space_stl_be(AddressSpace *as, hwaddr addr, uint32_t val)
{
    return store(as, addr, val, 4, true);
}

MemTxResult address_space_stq_le(AddressSpace *as, hwaddr addr, uint64_t val)
{
    return store(as, addr, val, 8, false);
}

MemTxResult address_space_stq_be(AddressSpace *as, hwaddr addr, uint64_t val)
{
    return store(as, addr, val, 8, true);
}

bool address_space_ldq_le_ram(AddressSpace *as, hwaddr addr, uint64_t *vals, unsigned n)
{
    rcu_read_lock();
    bool ok = flatview_ldq_le_ram(rcu_dereference(as->current), addr, vals, n);
    rcu_read_unlock();
    return ok;
}
