/* VT-d model internals shared by iommu/vtd*.c. Register and field layouts
 * follow the Intel VT-d specification, chapter 9 (tables) and 11 (registers). */
#ifndef MINIVMM_VTD_INTERNAL_H
#define MINIVMM_VTD_INTERNAL_H

#include <pthread.h>

#include "devices/device.h"
#include "iommu/iommu.h"
#include "iommu/vtd.h"

/* ---- registers (offsets into the 4 KiB page) ---- */
enum {
    VTD_VER = 0x00, VTD_CAP = 0x08, VTD_ECAP = 0x10, VTD_GCMD = 0x18, VTD_GSTS = 0x1c,
    VTD_RTADDR = 0x20, VTD_CCMD = 0x28, VTD_FSTS = 0x34, VTD_FECTL = 0x38,
    VTD_FEDATA = 0x3c, VTD_FEADDR = 0x40, VTD_FEUADDR = 0x44, VTD_AFLOG = 0x58,
    VTD_PMEN = 0x64, VTD_IQH = 0x80, VTD_IQT = 0x88, VTD_IQA = 0x90, VTD_ICS = 0x9c,
    VTD_IECTL = 0xa0, VTD_IEDATA = 0xa4, VTD_IEADDR = 0xa8, VTD_IEUADDR = 0xac,
    VTD_IRTA = 0xb8,
    VTD_IVA = 0x200, VTD_IOTLB = 0x208,          /* ECAP.IRO = 0x20 (16-byte units) */
    VTD_FRCD = 0x220,                            /* CAP.FRO = 0x22 */
};
#define VTD_NR_FRCD        8
#define VTD_FRCD_END       (VTD_FRCD + 16 * VTD_NR_FRCD)
#define VTD_VERSION        0x10u                 /* 1.0 */
#define VTD_HAW            48                    /* address width of tables and pages */
#define VTD_HAW_MASK       ((1ull << VTD_HAW) - 1)
#define VTD_MAMV           9                     /* PSI covers up to 2^9 pages: 2 MiB */

/* CAP */
#define VTD_CAP_ND_8BIT    2ull                  /* 256 domain ids */
#define VTD_CAP_CM         (1ull << 7)
#define VTD_CAP_SAGAW_39_48 (6ull << 8)          /* 3- and 4-level tables */
#define VTD_CAP_MGAW(w)    ((uint64_t)((w) - 1) << 16)
#define VTD_CAP_FRO(off)   ((uint64_t)((off) / 16) << 24)
#define VTD_CAP_SLLPS_2M1G (3ull << 34)
#define VTD_CAP_PSI        (1ull << 39)
#define VTD_CAP_NFR(n)     ((uint64_t)((n) - 1) << 40)
#define VTD_CAP_MAMV(m)    ((uint64_t)(m) << 48)
#define VTD_CAP_DWD        (1ull << 54)
#define VTD_CAP_DRD        (1ull << 55)
/* ECAP */
#define VTD_ECAP_C         (1ull << 0)           /* we read tables coherently */
#define VTD_ECAP_QI        (1ull << 1)
#define VTD_ECAP_IR        (1ull << 3)
#define VTD_ECAP_EIM       (1ull << 4)
#define VTD_ECAP_PT        (1ull << 6)
#define VTD_ECAP_IRO(off)  ((uint64_t)((off) / 16) << 8)
#define VTD_ECAP_MHMV      (15ull << 20)

/* GCMD / GSTS: the same bit positions */
#define VTD_GCMD_TE        (1u << 31)
#define VTD_GCMD_SRTP      (1u << 30)
#define VTD_GCMD_SFL       (1u << 29)
#define VTD_GCMD_EAFL      (1u << 28)
#define VTD_GCMD_WBF       (1u << 27)
#define VTD_GCMD_QIE       (1u << 26)
#define VTD_GCMD_IRE       (1u << 25)
#define VTD_GCMD_SIRTP     (1u << 24)
#define VTD_GCMD_CFI       (1u << 23)

/* FSTS / FECTL / ICS / IECTL */
#define VTD_FSTS_PFO       (1u << 0)
#define VTD_FSTS_PPF       (1u << 1)
#define VTD_FSTS_IQE       (1u << 4)
#define VTD_FSTS_ICE       (1u << 5)
#define VTD_FSTS_ITE       (1u << 6)
#define VTD_FSTS_W1C       (VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)
#define VTD_FSTS_FRI_SHIFT 8
#define VTD_EVT_IM         (1u << 31)           /* FECTL and IECTL */
#define VTD_EVT_IP         (1u << 30)
#define VTD_ICS_IWC        1u

/* Fault reasons (spec, appendix 7 tables) */
enum {
    VTD_FR_ROOT_NP = 0x1, VTD_FR_CTX_NP = 0x2, VTD_FR_CTX_INVALID = 0x3,
    VTD_FR_ADDR_BEYOND_AW = 0x4, VTD_FR_WRITE = 0x5, VTD_FR_READ = 0x6,
    VTD_FR_PAGING_ACCESS = 0x7, VTD_FR_ROOT_ACCESS = 0x8, VTD_FR_CTX_ACCESS = 0x9,
    VTD_FR_ROOT_RSVD = 0xa, VTD_FR_CTX_RSVD = 0xb, VTD_FR_PAGING_RSVD = 0xc,
    VTD_FR_CTX_TT = 0xd,
    VTD_FR_IR_REQ_RSVD = 0x20, VTD_FR_IR_INDEX = 0x21, VTD_FR_IR_NP = 0x22,
    VTD_FR_IR_ACCESS = 0x23, VTD_FR_IR_RSVD = 0x24, VTD_FR_IR_COMPAT = 0x25,
    VTD_FR_IR_SID = 0x26,
};

/* ---- state ---- */
#define VTD_IOTLB_SIZE     1024                  /* direct-mapped, power of two */

/* A hit reads `page`, `data` and `mask` only. Entries exist only while
 * translation is on (turning it off flushes them, and they are made only
 * while it is on), so a hit needs no look at TE. */
typedef struct VTDIOTLBEntry {
    uint64_t page;       /* 4 KiB page of the iova | 1; 0 = empty */
    uint64_t data;       /* translated address of the whole (super)page (bits
                            47:12) | source id << 48 | permission (IOMMU_RW bits) */
    uint64_t mask;       /* (super)page size - 1 */
    uint64_t did;        /* domain, for invalidations (IOTLB write side only) */
} VTDIOTLBEntry;

typedef struct VTDAddressSpace {
    VTDState *s;
    uint16_t rid;
    MemoryRegion *mr;
    /* context cache: valid while ctx_gen == s->ctx_gen. Written under the
     * lock, read without it too (atomics; see VTDState.inval_seq). */
    uint32_t ctx_gen;
    uint64_t ctx_lo, ctx_hi;
} VTDAddressSpace;

typedef struct VTDFaultRecord {
    uint64_t lo, hi;
} VTDFaultRecord;

struct VTDState {
    Device dev;
    VTDConfig cfg;
    MemoryRegion *mmio;
    AddressSpace *as_mem;          /* the VM's system memory: tables and targets */
    /* Everything below is protected by `lock`, except where noted. */
    pthread_mutex_t lock;
    uint64_t cap, ecap;
    uint32_t gsts;
    uint64_t rtaddr, rtaddr_latched;
    uint64_t ccmd, iotlb_reg, iva;
    uint32_t fsts, fectl, fedata, feaddr, feuaddr;
    VTDFaultRecord frcd[VTD_NR_FRCD];
    unsigned next_frcd;
    uint64_t iqh, iqt, iqa;
    uint32_t ics, iectl, iedata, ieaddr, ieuaddr;
    uint64_t irta, irta_latched;
    bool te;                       /* GSTS.TES, also read without the lock (atomic) */
    uint32_t ctx_gen;              /* context-cache generation; never 0 (atomic) */
    /* Odd while an invalidation (IOTLB or context cache, lock held) is under
     * way, bumped again when it is done: a translation made without the lock
     * is good only if this did not change meanwhile. */
    unsigned inval_seq;
    /* The IOTLB's write side: odd while one writer (an invalidation, or a
     * refill from any thread, which takes it with a compare-and-swap and
     * never waits) changes entries; hits read them without any lock. */
    unsigned iotlb_seq;
    VTDIOTLBEntry iotlb[VTD_IOTLB_SIZE];
    /* Per domain (id & 0xff), a bit for each slot that may hold its entries
     * (IOTLB write side only): a domain or page-selective invalidation visits
     * only those. A refill sets its bit and leaves the bit of the entry it
     * replaces; invalidations clear such stale bits when they meet them. */
    uint64_t did_slots[256][VTD_IOTLB_SIZE / 64];
    /* counters for the control socket (atomic, relaxed) */
    uint64_t iotlb_hits, iotlb_misses, faults;
    /* regions per requester: spaces[bus][devfn], made under the big lock */
    VTDAddressSpace **spaces[256];
    InterruptRemapper ir;
};

/* A pending event to deliver once the lock is dropped. */
typedef struct VTDMsi {
    bool pending;
    MSIMessage msg;
} VTDMsi;

/* What a register write or a queued descriptor leaves to do once the unit's
 * lock is dropped: notifiers and MSI delivery may call back into the unit. */
typedef struct VTDPost {
    VTDMsi msi;
    bool unmap_all;                /* TE toggled, root table changed */
    int iotlb_gran;                /* 0 none, 1 global, 2 domain, 3 pages */
    uint16_t iotlb_did;
    uint64_t iotlb_addr;
    unsigned iotlb_am;
    int ctx_gran;                  /* 0 none, 1 global, 2 domain, 3 device */
    uint16_t ctx_did, ctx_sid;
    unsigned ctx_fm;
    bool ir_changed;               /* IRE/CFI/IRTA changed or IEC invalidated */
    bool run_qi;                   /* fetch descriptors (IQT written, QI on, IQE cleared) */
    bool status_write;             /* an invalidation wait descriptor's status */
    uint64_t status_addr;
    uint32_t status_data;
} VTDPost;
/* Carries out `p` (big lock held, unit lock not held). */
void vtd_post_run(VTDState *s, VTDPost *p);

/* vtd_translate.c */
extern const IOMMURegionOps vtd_iommu_ops;
void vtd_iotlb_flush(VTDState *s, int gran, uint16_t did, uint64_t addr, unsigned am);
void vtd_ctx_flush(VTDState *s, int gran, uint16_t did, uint16_t sid, unsigned fm);
uint64_t vtd_iotlb_hash(uint16_t sid, uint64_t addr);
/* The two ends of an IOTLB miss handled without the lock (apart for tests):
 * the count a walk starts from (odd: an invalidation is running, take the
 * lock instead), and the refill that keeps the walk's result - true, and
 * stored unless another refill holds the IOTLB - only if no invalidation has
 * run since `inval`. */
static inline unsigned vtd_inval_snapshot(VTDState *s)
{
    return __atomic_load_n(&s->inval_seq, __ATOMIC_ACQUIRE);
}
bool vtd_iotlb_refill(VTDState *s, unsigned inval, uint16_t sid, uint16_t did, uint64_t iova,
                      uint64_t xlat, uint64_t mask, unsigned perm);
/* After an invalidation (unit lock not held, big lock held): UNMAP to the
 * regions it covers and, in caching mode, MAP for the present entries there. */
void vtd_notify_iotlb(VTDState *s, int gran, uint16_t did, uint64_t addr, unsigned am);
void vtd_notify_context(VTDState *s, int gran, uint16_t did, uint16_t sid, unsigned fm);
void vtd_notify_unmap_all(VTDState *s);

/* vtd_fault.c */
/* Records a fault (lock held); `msi` gets the fault event to send, if any. */
void vtd_record_fault(VTDState *s, uint16_t sid, uint64_t addr, uint8_t reason,
                      bool is_write, VTDMsi *msi);
/* Register side effects (lock held). */
void vtd_fsts_write(VTDState *s, uint32_t val);
void vtd_fectl_write(VTDState *s, uint32_t val, VTDMsi *msi);
void vtd_iectl_write(VTDState *s, uint32_t val, VTDMsi *msi);
void vtd_ics_write(VTDState *s, uint32_t val);
void vtd_fault_event(VTDState *s, VTDMsi *msi);
void vtd_completion_event(VTDState *s, VTDMsi *msi);
uint64_t vtd_frcd_read(VTDState *s, unsigned offset, unsigned size);
void vtd_frcd_write(VTDState *s, unsigned offset, uint64_t val, unsigned size);
void vtd_iq_error(VTDState *s, VTDMsi *msi);
/* Delivers an event without interrupt remapping (lock not held). */
void vtd_send_event(VTDState *s, VTDMsi *msi);

/* vtd_qi.c (big lock held, unit lock not held) */
void vtd_qi_process(VTDState *s);

/* vtd_ir.c */
void vtd_ir_init(VTDState *s);
/* IRE changed or the IEC was invalidated: tell the VM's listeners. Lock not held. */
void vtd_ir_changed(VTDState *s);

/* A table read: `n` 8-byte entries at `addr` from guest RAM (or ROM) only,
 * never device registers; false when they are not all in one RAM range. */
static inline bool vtd_load_table(VTDState *s, uint64_t addr, uint64_t *vals, unsigned n)
{
    return address_space_ldq_le_ram(s->as_mem, addr, vals, n);
}

#endif
