/* The VT-d unit at 0xfed90000 (minivmm --iommu) from a guest: its registers,
 * the one-bit-at-a-time GCMD protocol, root -> context -> 4-level
 * second-level tables in guest memory, register-based and queued
 * invalidation, the fault recording registers and the interrupt-remapping
 * table. Header-only; one program includes it once. */
#ifndef GUEST_VTD_H
#define GUEST_VTD_H

#include <stdbool.h>

#include "guest.h"

#define VTD_BASE   0xfed90000ull
enum {
    VTD_CAP = 0x08, VTD_ECAP = 0x10, VTD_GCMD = 0x18, VTD_GSTS = 0x1c, VTD_RTADDR = 0x20,
    VTD_CCMD = 0x28, VTD_FSTS = 0x34, VTD_IQH = 0x80, VTD_IQT = 0x88, VTD_IQA = 0x90,
    VTD_IRTA = 0xb8,
};
#define VTD_TE     (1u << 31)
#define VTD_SRTP   (1u << 30)
#define VTD_QIE    (1u << 26)
#define VTD_IRE    (1u << 25)
#define VTD_SIRTP  (1u << 24)
#define VTD_CFI    (1u << 23)
#define VTD_FSTS_PFO 1u
#define VTD_FSTS_PPF 2u
#define VTD_FSTS_IQE 0x10u
#define VTD_PTE_R  1ull
#define VTD_PTE_W  2ull

static inline uint64_t vtd_read64(unsigned reg) { return mmio_read64(VTD_BASE + reg); }
static inline uint32_t vtd_read32(unsigned reg) { return mmio_read32(VTD_BASE + reg); }

/* Polls until `bit` of the register is `set` (bounded: ~1 s of TSC). */
static inline bool vtd_wait(unsigned reg, uint64_t bit, bool set, bool wide)
{
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 1000000000ull;) {
        uint64_t v = wide ? vtd_read64(reg) : vtd_read32(reg);
        if (!!(v & bit) == set)
            return true;
    }
    guest_printf("vtd: register 0x%x bit 0x%lx stuck\n", reg, (unsigned long)bit);
    return false;
}

/* GCMD takes one change at a time: the persistent enables as GSTS shows them,
 * with `bit` set (one-shot commands and enables) or cleared. */
static inline bool vtd_command(uint32_t bit, bool on)
{
    uint32_t keep = vtd_read32(VTD_GSTS) & (VTD_TE | VTD_QIE | VTD_IRE | VTD_CFI);
    mmio_write32(VTD_BASE + VTD_GCMD, on ? keep | bit : keep & ~bit);
    return vtd_wait(VTD_GSTS, bit, on, false);
}

/* Tables: 6 pages at `base` (root, context for bus 0, PML4, PDPT, PD, PT);
 * IOVA 0..2 MiB is covered by the PT's 512 entries, all empty at first. */
#define VTD_T_ROOT(b) ((b) + 0x0000)
#define VTD_T_CTX(b)  ((b) + 0x1000)
#define VTD_T_PML4(b) ((b) + 0x2000)
#define VTD_T_PT(b)   ((b) + 0x5000)
static inline volatile uint64_t *vtd_q(uint64_t addr) { return (volatile uint64_t *)addr; }

static inline void vtd_tables_init(uint64_t base)
{
    memset((void *)base, 0, 0x6000);
    vtd_q(VTD_T_ROOT(base))[0] = VTD_T_CTX(base) | 1;             /* bus 0 */
    for (unsigned l = 0; l < 3; l++)                               /* PML4 -> PDPT -> PD -> PT */
        vtd_q(VTD_T_PML4(base) + 0x1000 * l)[0] = (VTD_T_PML4(base) + 0x1000 * (l + 1)) | 3;
}

/* devfn translates through the tables in domain `did` (48-bit, 4 levels). */
static inline void vtd_context(uint64_t base, unsigned devfn, unsigned did)
{
    volatile uint64_t *ce = vtd_q(VTD_T_CTX(base) + 16ull * devfn);
    ce[1] = 2 | (uint64_t)did << 8;
    ce[0] = VTD_T_PML4(base) | 1;
}

static inline volatile uint64_t *vtd_pte(uint64_t base, uint64_t iova)
{
    return vtd_q(VTD_T_PT(base) + 8 * ((iova >> 12) & 511));
}

/* IOTLB invalidation through the registers (at ECAP.IRO): granularity 1
 * global, 2 domain `did`, 3 the page at `addr` in domain `did`. */
static inline bool vtd_iotlb_invalidate(unsigned gran, unsigned did, uint64_t addr)
{
    unsigned iro = (unsigned)((vtd_read64(VTD_ECAP) >> 8) & 0x3ff) * 16;
    if (gran == 3)
        mmio_write64(VTD_BASE + iro, addr & ~0xfffull);
    mmio_write64(VTD_BASE + iro + 8, 1ull << 63 | (uint64_t)gran << 60 | (uint64_t)did << 32);
    return vtd_wait(iro + 8, 1ull << 63, false, true);
}

/* Root table, global context-cache and IOTLB flush, translation on. */
static inline bool vtd_enable(uint64_t base)
{
    mmio_write64(VTD_BASE + VTD_RTADDR, VTD_T_ROOT(base));
    if (!vtd_command(VTD_SRTP, true))
        return false;
    mmio_write64(VTD_BASE + VTD_CCMD, 1ull << 63 | 1ull << 61);   /* global */
    return vtd_wait(VTD_CCMD, 1ull << 63, false, true) && vtd_iotlb_invalidate(1, 0, 0) &&
           vtd_command(VTD_TE, true);
}

/* ---- queued invalidation: a 256-entry queue, one wait descriptor per batch ---- */
static uint64_t vtd_queue;
static unsigned vtd_queue_tail;
static volatile uint32_t vtd_wait_status;

static inline bool vtd_qi_enable(uint64_t queue)
{
    vtd_queue = queue;
    vtd_queue_tail = 0;
    memset((void *)queue, 0, 0x1000);
    mmio_write64(VTD_BASE + VTD_IQT, 0);
    mmio_write64(VTD_BASE + VTD_IQA, queue);                      /* QS 0: 256 entries */
    return vtd_command(VTD_QIE, true);
}

static inline void vtd_qi_put(uint64_t lo, uint64_t hi)
{
    volatile uint64_t *d = vtd_q(vtd_queue + 16ull * vtd_queue_tail);
    d[0] = lo;
    d[1] = hi;
    vtd_queue_tail = (vtd_queue_tail + 1) % 256;
}

/* Queues a wait descriptor with a status write, moves the tail and waits for
 * the status; false on a queue error (FSTS.IQE) or no progress. */
static inline bool vtd_qi_sync(void)
{
    vtd_wait_status = 0;
    vtd_qi_put(5 | 1u << 5 | 0x600dull << 32, (uint64_t)&vtd_wait_status);
    mmio_write64(VTD_BASE + VTD_IQT, (uint64_t)vtd_queue_tail << 4);
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 1000000000ull;) {
        if (vtd_wait_status == 0x600d)
            return true;
        if (vtd_read32(VTD_FSTS) & VTD_FSTS_IQE)
            break;
    }
    guest_printf("vtd: invalidation queue stuck: FSTS 0x%x IQH 0x%lx IQT 0x%lx\n",
                 vtd_read32(VTD_FSTS), (unsigned long)vtd_read64(VTD_IQH),
                 (unsigned long)vtd_read64(VTD_IQT));
    return false;
}

/* Descriptors: IOTLB (granularity as above; reads and writes drained), and
 * the interrupt entry cache, globally. */
static inline void vtd_qi_iotlb(unsigned gran, unsigned did, uint64_t addr)
{
    vtd_qi_put(2 | gran << 4 | 3u << 6 | (uint64_t)did << 16, gran == 3 ? addr & ~0xfffull : 0);
}
static inline void vtd_qi_iec_global(void) { vtd_qi_put(4, 0); }

/* ---- fault recording ---- */
struct vtd_fault {
    uint64_t addr;       /* page address, or the interrupt index for IR faults */
    uint16_t sid;
    uint8_t reason;
    bool read;
    unsigned index;      /* FSTS.FRI */
};

/* Takes the primary pending fault (FSTS.PPF): reads its record and clears
 * it (F is write-1-to-clear). False when none is pending. */
static inline bool vtd_fault_take(struct vtd_fault *f)
{
    uint32_t fsts = vtd_read32(VTD_FSTS);
    if (!(fsts & VTD_FSTS_PPF))
        return false;
    f->index = (fsts >> 8) & 0xff;
    uint64_t rec = VTD_BASE + ((vtd_read64(VTD_CAP) >> 24) & 0x3ff) * 16 + 16ull * f->index;
    uint64_t lo = mmio_read64(rec), hi = mmio_read64(rec + 8);
    f->addr = lo;
    f->sid = (uint16_t)hi;
    f->reason = (uint8_t)(hi >> 32);
    f->read = (hi >> 62) & 1;
    mmio_write32(rec + 12, 1u << 31);
    return true;
}

/* ---- interrupt remapping: 256 entries at `irt` ---- */
static inline void vtd_irte(uint64_t irt, unsigned index, uint8_t vector, uint8_t dest,
                            uint16_t sid)
{
    volatile uint64_t *e = vtd_q(irt + 16ull * index);
    e[1] = sid | (sid ? 1ull << 18 : 0);         /* SVT 1: verify the full source id */
    e[0] = 1 | (uint64_t)vector << 16 | (uint64_t)dest << 40;   /* present, fixed, physical */
}

/* The table, its entry cache invalidated through the queue, remapping on. */
static inline bool vtd_ir_enable(uint64_t irt)
{
    mmio_write64(VTD_BASE + VTD_IRTA, irt | 7);                  /* 2^(7+1) entries, xAPIC */
    if (!vtd_command(VTD_SIRTP, true))
        return false;
    vtd_qi_iec_global();
    return vtd_qi_sync() && vtd_command(VTD_IRE, true);
}

/* A remappable-format MSI address for IRTE `index` (no subhandle). */
static inline uint32_t vtd_msi_remappable(unsigned index)
{
    return 0xfee00000u | (index & 0x7fff) << 5 | 1u << 4 | (index >> 15 & 1) << 2;
}

#endif
