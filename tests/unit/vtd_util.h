/* Helpers for the VT-d unit tests: a fake VM with RAM and the unit, its
 * registers driven through the system address space as a vCPU does, and
 * root/context/page tables built in guest RAM. */
#ifndef MINIVMM_TEST_VTD_UTIL_H
#define MINIVMM_TEST_VTD_UTIL_H

#include "devices/device.h"
#include "iommu/iommu.h"
#include "iommu/vtd.h"
#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"

#define T_RAM        (64ull << 20)
#define T_ROOT       0x100000ull
#define T_CTX        0x101000ull        /* context table of bus 0 */
#define T_QUEUE      0x102000ull
#define T_STATUS     0x103000ull
#define T_IRT        0x104000ull
#define T_TABLES     0x200000ull        /* page tables from here */
#define T_MAX_MSIS   16

/* register offsets and bits the tests use */
enum { R_CAP = 0x08, R_ECAP = 0x10, R_GCMD = 0x18, R_GSTS = 0x1c, R_RTADDR = 0x20,
       R_CCMD = 0x28, R_FSTS = 0x34, R_FECTL = 0x38, R_FEDATA = 0x3c, R_FEADDR = 0x40,
       R_IQH = 0x80, R_IQT = 0x88, R_IQA = 0x90, R_ICS = 0x9c, R_IECTL = 0xa0,
       R_IEDATA = 0xa4, R_IEADDR = 0xa8, R_IRTA = 0xb8, R_IVA = 0x200, R_IOTLB = 0x208,
       R_FRCD = 0x220 };
#define G_TE    (1u << 31)
#define G_SRTP  (1u << 30)
#define G_QIE   (1u << 26)
#define G_IRE   (1u << 25)
#define G_SIRTP (1u << 24)
#define G_CFI   (1u << 23)

struct vtd_test {
    struct fake_vm f;
    VTDState *s;
    uint64_t next_table;
    unsigned nr_msis;
    MSIMessage msis[T_MAX_MSIS];
    unsigned qtail;                     /* descriptors queued so far */
};

static struct vtd_test *vtd_test_current;

static inline void vt_msi_hook(struct vm *vm, const MSIMessage *msg)
{
    (void)vm;
    struct vtd_test *t = vtd_test_current;
    if (t->nr_msis < T_MAX_MSIS)
        t->msis[t->nr_msis] = *msg;
    t->nr_msis++;
}

static inline uint64_t rd(struct vtd_test *t, unsigned off, unsigned size)
{
    uint64_t v = 0;
    address_space_read(t->f.vm.as_mem, VTD_BASE + off, &v, size);
    return v;
}

static inline void wr(struct vtd_test *t, unsigned off, uint64_t v, unsigned size)
{
    address_space_write(t->f.vm.as_mem, VTD_BASE + off, &v, size);
}

static inline void ram_q(struct vtd_test *t, uint64_t gpa, uint64_t v)
{
    address_space_stq_le(t->f.vm.as_mem, gpa, v);
}

static inline uint64_t ram_rq(struct vtd_test *t, uint64_t gpa)
{
    MemTxResult r;
    return address_space_ldq_le(t->f.vm.as_mem, gpa, &r);
}

/* GCMD with the persistent status bits kept, `bit` set or cleared. */
static inline void gcmd(struct vtd_test *t, uint32_t bit, bool on)
{
    uint32_t st = (uint32_t)rd(t, R_GSTS, 4) & (G_TE | G_QIE | G_IRE | G_CFI);
    wr(t, R_GCMD, on ? st | bit : st & ~bit, 4);
}

static inline bool vt_setup_cfg(struct vtd_test *t, bool caching_mode, bool intremap)
{
    memset(t, 0, sizeof(*t));
    vtd_test_current = t;
    if (!fake_vm_init_with_ram(&t->f, T_RAM, 1))
        return false;
    t->f.vm.msi_hook = vt_msi_hook;
    t->s = vtd_create(&t->f.vm, &(VTDConfig){ .caching_mode = caching_mode,
                                               .intremap = intremap });
    t->next_table = T_TABLES;
    return t->s != NULL;
}

/* Root table with bus 0's context table, latched; translation stays off. */
static inline bool vt_setup(struct vtd_test *t)
{
    if (!vt_setup_cfg(t, false, true))
        return false;
    ram_q(t, T_ROOT, T_CTX | 1);
    wr(t, R_RTADDR, T_ROOT, 8);
    gcmd(t, G_SRTP, true);
    return true;
}

static inline void vt_teardown(struct vtd_test *t)
{
    vm_devices_destroy(&t->f.vm);
    fake_vm_destroy(&t->f);
}

static inline uint64_t new_table(struct vtd_test *t)
{
    uint64_t a = t->next_table;
    t->next_table += 0x1000;
    for (unsigned i = 0; i < 512; i++)
        ram_q(t, a + i * 8, 0);
    return a;
}

/* Context entry of devfn on bus 0: second-level table `slpt`, `levels` 3 or 4. */
static inline void set_context(struct vtd_test *t, uint8_t devfn, uint64_t slpt, unsigned levels,
                               uint16_t did, unsigned tt)
{
    ram_q(t, T_CTX + devfn * 16ull + 8, (uint64_t)did << 8 | (levels - 2));
    ram_q(t, T_CTX + devfn * 16ull, slpt | (uint64_t)tt << 2 | 1);
}

/* Maps iova -> pa with `perm` (bit 0 read, bit 1 write) as a page of 4K
 * (leaf_level 1), 2M (2) or 1G (3) in the table tree at `top`. */
static inline void map(struct vtd_test *t, uint64_t top, unsigned levels, uint64_t iova,
                       uint64_t pa, unsigned perm, unsigned leaf_level)
{
    uint64_t table = top;
    for (unsigned level = levels; level > leaf_level; level--) {
        uint64_t slot = table + ((iova >> (12 + 9 * (level - 1))) & 0x1ff) * 8;
        uint64_t pte = ram_rq(t, slot);
        if (!(pte & 3)) {
            pte = new_table(t) | 3;
            ram_q(t, slot, pte);
        }
        table = pte & ~0xfffull;
    }
    uint64_t slot = table + ((iova >> (12 + 9 * (leaf_level - 1))) & 0x1ff) * 8;
    ram_q(t, slot, pa | perm | (leaf_level > 1 ? 1u << 7 : 0));
}

static inline IOMMUTLBEntry xlate(struct vtd_test *t, uint16_t rid, uint64_t iova,
                                  IOMMUAccessFlags access)
{
    MemoryRegion *mr = vtd_dma_region(t->s, rid);
    return mr->iommu_ops->translate(mr, iova, access, true);
}

/* Fault record i: reason (0 when none), source id, address, read(1)/write(0). */
static inline unsigned frcd_reason(struct vtd_test *t, unsigned i)
{
    uint64_t hi = rd(t, R_FRCD + 16 * i + 8, 8);
    return hi >> 63 ? (unsigned)(hi >> 32) & 0xff : 0;
}

static inline void clear_faults(struct vtd_test *t)
{
    for (unsigned i = 0; i < 8; i++)
        wr(t, R_FRCD + 16 * i + 12, 1u << 31, 4);
    wr(t, R_FSTS, 0x7d, 4);
}

/* Queued invalidation: an 8-entry... 256-entry ring at T_QUEUE. */
static inline void qi_enable(struct vtd_test *t)
{
    wr(t, R_IQA, T_QUEUE, 8);
    wr(t, R_IQT, 0, 8);
    gcmd(t, G_QIE, true);
    t->qtail = 0;
}

static inline void qi_submit(struct vtd_test *t, uint64_t lo, uint64_t hi)
{
    ram_q(t, T_QUEUE + (t->qtail % 256) * 16ull, lo);
    ram_q(t, T_QUEUE + (t->qtail % 256) * 16ull + 8, hi);
    t->qtail++;
    wr(t, R_IQT, (t->qtail % 256) << 4, 8);
}

/* A wait descriptor writing `data` to T_STATUS; true if it was written. */
static inline bool qi_wait(struct vtd_test *t, uint32_t data)
{
    ram_q(t, T_STATUS, 0);
    qi_submit(t, (uint64_t)data << 32 | 1u << 5 | 5, T_STATUS);
    return ram_rq(t, T_STATUS) == data;
}

#endif
