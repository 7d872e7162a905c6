/* VT-d DMA remapping: registers, page walks, IOTLB and context-cache
 * invalidation by registers and by queued invalidation, hostile tables, and
 * the MAP/UNMAP notifications. Tables are built in the fake VM's RAM. */
#include "tests/unit/vtd_util.h"

#define DEV 0x08            /* 00:01.0 */
#define DID 5

/* A 4-level domain for DEV with translation on; returns the top table. */
static uint64_t domain4(struct vtd_test *t)
{
    uint64_t top = new_table(t);
    set_context(t, DEV, top, 4, DID, 0);
    gcmd(t, G_TE, true);
    return top;
}

TEST(vtd_registers_after_reset)
{
    struct vtd_test t;
    REQUIRE(vt_setup_cfg(&t, false, true));
    CHECK_EQ(rd(&t, 0, 4), 0x10);
    uint64_t cap = rd(&t, R_CAP, 8), ecap = rd(&t, R_ECAP, 8);
    CHECK_EQ((cap >> 8) & 0x1f, 6);                  /* SAGAW: 39 and 48 bits */
    CHECK_EQ((cap >> 16) & 0x3f, 47);                /* MGAW */
    CHECK_EQ(((cap >> 24) & 0x3ff) * 16, R_FRCD);    /* FRO */
    CHECK_EQ(((cap >> 40) & 0xff) + 1, 8);           /* NFR */
    CHECK_EQ((cap >> 34) & 3, 3);                    /* 2M and 1G pages */
    CHECK(cap & (1ull << 39));                       /* PSI */
    CHECK_EQ((cap >> 48) & 0x3f, 9);                 /* MAMV */
    CHECK(!(cap & (1 << 7)));                        /* no caching mode */
    CHECK_EQ(((ecap >> 8) & 0x3ff) * 16, R_IVA);     /* IRO */
    CHECK_EQ(ecap & 0x5a, 0x5a);                     /* QI, IR, EIM, PT */
    CHECK_EQ(rd(&t, R_GSTS, 4), 0);
    CHECK_EQ(rd(&t, R_FECTL, 4), 1u << 31);
    CHECK_EQ(rd(&t, R_CAP + 4, 4), cap >> 32);       /* 4-byte halves */
    wr(&t, R_CAP, 0, 8);                             /* read-only */
    CHECK_EQ(rd(&t, R_CAP, 8), cap);
    CHECK_EQ(rd(&t, R_GSTS, 1), 0xff);               /* 1-byte: all-ones */
    vt_teardown(&t);

    REQUIRE(vt_setup_cfg(&t, true, false));
    CHECK(rd(&t, R_CAP, 8) & (1 << 7));
    CHECK(!(rd(&t, R_ECAP, 8) & (1 << 3)));
    gcmd(&t, G_IRE, true);                           /* not offered: stays off */
    CHECK_EQ(rd(&t, R_GSTS, 4), 0);
    CHECK(t.f.vm.intremap == NULL);
    vt_teardown(&t);
}

TEST(vtd_gcmd_one_bit_at_a_time)
{
    struct vtd_test t;
    REQUIRE(vt_setup_cfg(&t, false, true));
    wr(&t, R_RTADDR, T_ROOT, 8);
    wr(&t, R_GCMD, G_SRTP, 4);
    CHECK_EQ(rd(&t, R_GSTS, 4), G_SRTP);             /* RTPS, and it stays */
    gcmd(&t, G_TE, true);
    CHECK_EQ(rd(&t, R_GSTS, 4), G_SRTP | G_TE);
    gcmd(&t, G_QIE, true);
    CHECK_EQ(rd(&t, R_GSTS, 4), G_SRTP | G_TE | G_QIE);
    gcmd(&t, G_TE, false);
    CHECK_EQ(rd(&t, R_GSTS, 4), G_SRTP | G_QIE);
    gcmd(&t, G_QIE, false);
    CHECK_EQ(rd(&t, R_GSTS, 4), G_SRTP);
    vt_teardown(&t);
}

TEST(vtd_translation_off_is_identity)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    IOMMUTLBEntry e = xlate(&t, DEV, 0x123456, IOMMU_WO);
    CHECK_EQ(e.translated_addr, 0x123000);
    CHECK_EQ(e.perm, IOMMU_RW);
    CHECK(e.target_as == t.f.vm.as_mem);
    CHECK_EQ(rd(&t, R_FSTS, 4), 0);
    vt_teardown(&t);
}

TEST(vtd_walks_3_and_4_levels_and_superpages)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t top = domain4(&t);
    map(&t, top, 4, 0x7f0000001000ull, 0x300000, 3, 1);
    map(&t, top, 4, 0x40000000ull, 0x600000, 1, 2);          /* 2M, read-only */
    map(&t, top, 4, 0x80000000ull, 0x40000000, 3, 3);        /* 1G */
    IOMMUTLBEntry e = xlate(&t, DEV, 0x7f0000001abcull, IOMMU_WO);
    CHECK_EQ(e.translated_addr, 0x300000);
    CHECK_EQ(e.iova, 0x7f0000001000ull);
    CHECK_EQ(e.addr_mask, 0xfff);
    CHECK_EQ(e.perm, IOMMU_RW);
    e = xlate(&t, DEV, 0x40012345ull, IOMMU_RO);
    CHECK_EQ(e.translated_addr, 0x600000);
    CHECK_EQ(e.iova, 0x40000000ull);
    CHECK_EQ(e.addr_mask, 0x1fffff);
    CHECK_EQ(e.perm, IOMMU_RO);
    e = xlate(&t, DEV, 0xbfffffffull, IOMMU_RO);
    CHECK_EQ(e.translated_addr, 0x40000000);
    CHECK_EQ(e.addr_mask, 0x3fffffff);
    CHECK_EQ(rd(&t, R_FSTS, 4), 0);

    /* 3 levels: 39-bit addresses; above them, reason 4 */
    uint64_t top3 = new_table(&t);
    set_context(&t, DEV + 1, top3, 3, DID + 1, 0);
    map(&t, top3, 3, 0x7fc0000000ull, 0x500000, 3, 1);
    e = xlate(&t, DEV + 1, 0x7fc0000010ull, IOMMU_RO);
    CHECK_EQ(e.translated_addr, 0x500000);
    e = xlate(&t, DEV + 1, 1ull << 39, IOMMU_RO);
    CHECK_EQ(e.perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 0), 4);
    vt_teardown(&t);
}

TEST(vtd_permissions_and_fault_record)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t top = domain4(&t);
    map(&t, top, 4, 0x1000, 0x300000, 1, 1);                /* read-only */
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).perm, IOMMU_RO);
    IOMMUTLBEntry e = xlate(&t, DEV, 0x1008, IOMMU_WO);      /* IOTLB hit, no W */
    CHECK(!(e.perm & IOMMU_WO));
    CHECK_EQ(frcd_reason(&t, 0), 5);
    uint64_t hi = rd(&t, R_FRCD + 8, 8);
    CHECK_EQ(hi & 0xffff, DEV);                              /* source id */
    CHECK(!(hi & (1ull << 62)));                             /* a write */
    CHECK_EQ(rd(&t, R_FRCD, 8), 0x1000);                     /* page address */
    CHECK_EQ(rd(&t, R_FSTS, 4), 2);                          /* PPF, FRI 0 */
    e = xlate(&t, DEV, 0x5000, IOMMU_RO);                    /* not mapped */
    CHECK_EQ(e.perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 1), 6);
    CHECK(rd(&t, R_FRCD + 16 + 8, 8) & (1ull << 62));        /* a read */
    CHECK_EQ(t.nr_msis, 0);                                  /* FECTL.IM set */
    CHECK(rd(&t, R_FECTL, 4) & (1u << 30));                  /* IP */
    clear_faults(&t);
    CHECK_EQ(rd(&t, R_FSTS, 4), 0);
    CHECK(!(rd(&t, R_FECTL, 4) & (1u << 30)));
    /* non-leaf without W: the page is read-only */
    uint64_t top2 = new_table(&t);
    set_context(&t, DEV + 2, top2, 4, 9, 0);
    map(&t, top2, 4, 0x2000, 0x310000, 3, 1);
    ram_q(&t, top2, ram_rq(&t, top2) & ~2ull);
    CHECK_EQ(xlate(&t, DEV + 2, 0x2000, IOMMU_RO).perm, IOMMU_RO);
    /* lookups that must leave no trace */
    MemoryRegion *mr = vtd_dma_region(t.s, DEV);
    CHECK_EQ(mr->iommu_ops->translate(mr, 0x9000, IOMMU_RO, false).perm, IOMMU_NONE);
    CHECK_EQ(rd(&t, R_FSTS, 4), 0);
    vt_teardown(&t);
}

TEST(vtd_pass_through_and_bad_contexts)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    gcmd(&t, G_TE, true);
    set_context(&t, DEV, 0, 4, 3, 2);                        /* TT 2: pass-through */
    IOMMUTLBEntry e = xlate(&t, DEV, 0x345678, IOMMU_WO);
    CHECK_EQ(e.translated_addr, 0x345000);
    CHECK_EQ(e.perm, IOMMU_RW);
    CHECK_EQ(xlate(&t, 0x100, 0, IOMMU_RO).perm, IOMMU_NONE);   /* bus 1: root not present */
    CHECK_EQ(frcd_reason(&t, 0), 1);
    CHECK_EQ(xlate(&t, DEV + 7, 0, IOMMU_RO).perm, IOMMU_NONE); /* context not present */
    CHECK_EQ(frcd_reason(&t, 1), 2);
    set_context(&t, DEV + 6, new_table(&t), 4, 1, 3);        /* TT 3: reserved */
    CHECK_EQ(xlate(&t, DEV + 6, 0, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 2), 0xd);
    set_context(&t, DEV + 5, new_table(&t) | 0x10, 4, 1, 0); /* reserved bit 4 */
    CHECK_EQ(xlate(&t, DEV + 5, 0, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 3), 0xb);
    set_context(&t, DEV + 4, new_table(&t), 5, 1, 0);        /* AW 3: not in SAGAW */
    CHECK_EQ(xlate(&t, DEV + 4, 0, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 4), 3);
    /* FPD: the fault fails the DMA but is not recorded */
    ram_q(&t, T_CTX + (DEV + 3) * 16, 0x3);
    CHECK_EQ(xlate(&t, DEV + 3, 0x1000, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 5), 0);
    vt_teardown(&t);
}

TEST(vtd_hostile_tables_fault_cleanly)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t top = domain4(&t);
    map(&t, top, 4, 0x1000, 0x300000, 3, 1);
    ram_q(&t, top + 8, 0xfed90000ull | 3);                    /* a table in MMIO */
    CHECK_EQ(xlate(&t, DEV, 1ull << 39, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 0), 7);
    ram_q(&t, top + 16, 0xfffff000000ull | 3);                /* unassigned */
    CHECK_EQ(xlate(&t, DEV, 2ull << 39, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 1), 7);
    ram_q(&t, top + 24, new_table(&t) | (1ull << 62) | 3);    /* reserved TM bit */
    CHECK_EQ(xlate(&t, DEV, 3ull << 39, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 2), 0xc);
    ram_q(&t, top + 32, 0x400000 | 0x80 | 3);                 /* PS at level 4 */
    CHECK_EQ(xlate(&t, DEV, 4ull << 39, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, 3), 0xc);
    CHECK_EQ(xlate(&t, DEV, ~0ull, IOMMU_RO).perm, IOMMU_NONE); /* huge address */
    CHECK_EQ(frcd_reason(&t, 4), 4);
    /* A table pointing to itself at every level: the walk still ends after 4
     * levels, with the page hardware would find (the table itself). */
    uint64_t loop = new_table(&t);
    ram_q(&t, loop, loop | 3);
    set_context(&t, DEV + 1, loop, 4, 2, 0);
    IOMMUTLBEntry e = xlate(&t, DEV + 1, 0x10, IOMMU_RO);
    CHECK_EQ(e.perm, IOMMU_RW);
    CHECK_EQ(e.translated_addr, loop);
    /* the root table itself in MMIO */
    clear_faults(&t);
    wr(&t, R_RTADDR, VTD_BASE, 8);
    gcmd(&t, G_SRTP, true);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).perm, IOMMU_NONE);
    CHECK_EQ(frcd_reason(&t, (rd(&t, R_FSTS, 4) >> 8) & 0xff), 8);
    vt_teardown(&t);
}

/* Points 0x1000 at a new page after the IOTLB holds the old one. */
static void remap_page(struct vtd_test *t, uint64_t top, uint64_t pa)
{
    map(t, top, 4, 0x1000, pa, 3, 1);
}

TEST(vtd_iotlb_register_invalidation)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t top = domain4(&t);
    remap_page(&t, top, 0x300000);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x300000);
    remap_page(&t, top, 0x310000);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x300000);  /* cached */
    /* global */
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    CHECK_EQ(rd(&t, R_IOTLB, 8) >> 63, 0);                /* IVT clear */
    CHECK_EQ((rd(&t, R_IOTLB, 8) >> 57) & 3, 1);          /* IAIG global */
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x310000);
    /* domain: another domain's flush leaves it, ours drops it */
    remap_page(&t, top, 0x320000);
    wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | (uint64_t)(DID + 1) << 32, 8);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x310000);
    wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | (uint64_t)DID << 32, 8);
    CHECK_EQ((rd(&t, R_IOTLB, 8) >> 57) & 3, 2);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x320000);
    /* page-selective, as two 4-byte writes: another page, then a 2-page mask */
    remap_page(&t, top, 0x330000);
    wr(&t, R_IVA, 0x3000, 8);
    wr(&t, R_IOTLB, 0, 4);
    wr(&t, R_IOTLB + 4, (1u << 31 | 3u << 28 | DID), 4);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x320000);
    wr(&t, R_IVA, 0x0000 | 1, 8);                         /* AM 1: 0x0-0x1fff */
    wr(&t, R_IOTLB, 1ull << 63 | 3ull << 60 | (uint64_t)DID << 32, 8);
    CHECK_EQ((rd(&t, R_IOTLB, 8) >> 57) & 3, 3);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x330000);
    /* AM above MAMV: refused (IAIG 0), nothing flushed */
    remap_page(&t, top, 0x340000);
    wr(&t, R_IVA, 10, 8);
    wr(&t, R_IOTLB, 1ull << 63 | 3ull << 60 | (uint64_t)DID << 32, 8);
    CHECK_EQ((rd(&t, R_IOTLB, 8) >> 57) & 3, 0);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x330000);
    /* a superpage goes with any page inside it */
    map(&t, top, 4, 0x200000, 0x400000, 3, 2);
    CHECK_EQ(xlate(&t, DEV, 0x3ff000, IOMMU_RO).translated_addr, 0x400000);
    map(&t, top, 4, 0x200000, 0x800000, 3, 2);
    wr(&t, R_IVA, 0x250000, 8);
    wr(&t, R_IOTLB, 1ull << 63 | 3ull << 60 | (uint64_t)DID << 32, 8);
    CHECK_EQ(xlate(&t, DEV, 0x3ff000, IOMMU_RO).translated_addr, 0x800000);
    vt_teardown(&t);
}

TEST(vtd_context_cache_invalidation)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t top = domain4(&t), top2 = new_table(&t);
    map(&t, top, 4, 0x1000, 0x300000, 3, 1);
    map(&t, top, 4, 0x2000, 0x300000, 3, 1);
    map(&t, top2, 4, 0x2000, 0x500000, 3, 1);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x300000);
    set_context(&t, DEV, top2, 4, DID, 0);
    /* 0x2000 misses the IOTLB but the cached context still names `top` */
    CHECK_EQ(xlate(&t, DEV, 0x2000, IOMMU_RO).translated_addr, 0x300000);
    /* device-selective for another function: nothing */
    wr(&t, R_CCMD, 1ull << 63 | 3ull << 61 | (uint64_t)(DEV + 1) << 16, 8);
    CHECK_EQ((rd(&t, R_CCMD, 8) >> 59) & 3, 3);           /* CAIG */
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    CHECK_EQ(xlate(&t, DEV, 0x2000, IOMMU_RO).translated_addr, 0x300000);
    /* FM 3 ignores the function: covers DEV */
    wr(&t, R_CCMD, 1ull << 63 | 3ull << 61 | 3ull << 32 | (uint64_t)(DEV + 1) << 16, 8);
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    CHECK_EQ(xlate(&t, DEV, 0x2000, IOMMU_RO).translated_addr, 0x500000);
    /* domain-selective and global */
    set_context(&t, DEV, top, 4, DID, 0);
    wr(&t, R_CCMD, 1ull << 63 | 2ull << 61 | (DID + 1), 8);
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    CHECK_EQ(xlate(&t, DEV, 0x2000, IOMMU_RO).translated_addr, 0x500000);
    wr(&t, R_CCMD, 1ull << 63 | 2ull << 61 | DID, 8);
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    CHECK_EQ(xlate(&t, DEV, 0x2000, IOMMU_RO).translated_addr, 0x300000);
    set_context(&t, DEV, top2, 4, DID, 0);
    wr(&t, R_CCMD, 1ull << 63 | 1ull << 61, 8);
    CHECK_EQ(rd(&t, R_CCMD, 8) >> 63, 0);                  /* ICC clear */
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    CHECK_EQ(xlate(&t, DEV, 0x2000, IOMMU_RO).translated_addr, 0x500000);
    vt_teardown(&t);
}

TEST(vtd_queued_invalidation)
{
    struct vtd_test t;
    REQUIRE(vt_setup(&t));
    uint64_t top = domain4(&t);
    qi_enable(&t);
    CHECK(qi_wait(&t, 0x1234));
    CHECK_EQ(rd(&t, R_IQH, 8), rd(&t, R_IQT, 8));
    remap_page(&t, top, 0x300000);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x300000);
    /* IOTLB global, domain (wrong, then right), page */
    remap_page(&t, top, 0x310000);
    qi_submit(&t, 2 | 1 << 4, 0);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x310000);
    remap_page(&t, top, 0x320000);
    qi_submit(&t, 2 | 2 << 4 | (DID + 1) << 16, 0);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x310000);
    qi_submit(&t, 2 | 2 << 4 | DID << 16, 0);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x320000);
    remap_page(&t, top, 0x330000);
    qi_submit(&t, 2 | 3 << 4 | DID << 16, 0x2000);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x320000);
    qi_submit(&t, 2 | 3 << 4 | DID << 16, 0x1000);
    CHECK(qi_wait(&t, 7));
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x330000);
    /* context cache, device-selective */
    uint64_t top2 = new_table(&t);
    map(&t, top2, 4, 0x1000, 0x500000, 3, 1);
    set_context(&t, DEV, top2, 4, DID, 0);
    qi_submit(&t, 1 | 3 << 4 | (uint64_t)DEV << 32, 0);
    qi_submit(&t, 2 | 1 << 4, 0);
    CHECK_EQ(xlate(&t, DEV, 0x1000, IOMMU_RO).translated_addr, 0x500000);
    /* register invalidation is refused while QI is on */
    wr(&t, R_IOTLB, 1ull << 63 | 1ull << 60, 8);
    CHECK_EQ((rd(&t, R_IOTLB, 8) >> 57) & 3, 0);
    /* wait with IF: the completion event, masked first */
    wr(&t, R_IEDATA, 0x41, 4);
    wr(&t, R_IEADDR, 0xfee00000, 4);
    qi_submit(&t, 5 | 1 << 4, 0);
    CHECK_EQ(rd(&t, R_ICS, 4), 1);
    CHECK_EQ(rd(&t, R_IECTL, 4), 3u << 30);               /* IM, IP */
    CHECK_EQ(t.nr_msis, 0);
    wr(&t, R_IECTL, 0, 4);
    CHECK_EQ(t.nr_msis, 1);
    CHECK_EQ(t.msis[0].data, 0x41);
    wr(&t, R_ICS, 1, 4);
    qi_submit(&t, 5 | 1 << 4, 0);
    CHECK_EQ(t.nr_msis, 2);
    /* a bad descriptor: IQE, IQH stops on it, the fault event */
    wr(&t, R_FEDATA, 0x42, 4);
    wr(&t, R_FEADDR, 0xfee00000, 4);
    wr(&t, R_FECTL, 0, 4);
    uint64_t head = rd(&t, R_IQH, 8);
    qi_submit(&t, 3, 0);                                   /* device TLB: not offered */
    ram_q(&t, T_STATUS, 0);
    qi_submit(&t, 9ull << 32 | 1u << 5 | 5, T_STATUS);
    CHECK(rd(&t, R_FSTS, 4) & (1 << 4));
    CHECK_EQ(rd(&t, R_IQH, 8), head);
    CHECK_EQ(ram_rq(&t, T_STATUS), 0);
    CHECK_EQ(t.nr_msis, 3);
    CHECK_EQ(t.msis[2].data, 0x42);
    /* software replaces it and clears IQE: the queue goes on */
    ram_q(&t, T_QUEUE + (head >> 4) * 16, 2 | 1 << 4);
    wr(&t, R_FSTS, 1 << 4, 4);
    CHECK_EQ(ram_rq(&t, T_STATUS), 9);
    CHECK_EQ(rd(&t, R_IQH, 8), rd(&t, R_IQT, 8));
    gcmd(&t, G_QIE, false);
    CHECK_EQ(rd(&t, R_IQH, 8), 0);
    vt_teardown(&t);
}

/* ---- notifiers ---- */
struct rec_notifier {
    IOMMUNotifier n;
    unsigned maps, unmaps;
    IOMMUTLBEntry last_map, last_unmap;
};

static void rec_notify(IOMMUNotifier *n, IOMMUNotifierFlag ev, const IOMMUTLBEntry *e)
{
    struct rec_notifier *r = (struct rec_notifier *)n;
    if (ev == IOMMU_NOTIFIER_MAP)
        r->maps++, r->last_map = *e;
    else
        r->unmaps++, r->last_unmap = *e;
}

TEST(vtd_notifiers_unmap_map_replay)
{
    for (int cm = 0; cm < 2; cm++) {
        struct vtd_test t;
        REQUIRE(vt_setup_cfg(&t, cm, true));
        ram_q(&t, T_ROOT, T_CTX | 1);
        wr(&t, R_RTADDR, T_ROOT, 8);
        gcmd(&t, G_SRTP, true);
        uint64_t top = domain4(&t);
        struct rec_notifier r = { .n = { .notify = rec_notify, .start = 0, .end = UINT64_MAX,
                                         .flags = IOMMU_NOTIFIER_MAP | IOMMU_NOTIFIER_UNMAP } };
        memory_bql_lock();
        memory_region_iommu_register_notifier(vtd_dma_region(t.s, DEV), &r.n);
        memory_bql_unlock();
        map(&t, top, 4, 0x5000, 0x300000, 1, 1);
        map(&t, top, 4, 0x200000, 0x400000, 3, 2);
        wr(&t, R_IVA, 0x5000, 8);
        wr(&t, R_IOTLB, 1ull << 63 | 3ull << 60 | (uint64_t)DID << 32, 8);
        CHECK_EQ(r.unmaps, 1);
        CHECK_EQ(r.last_unmap.iova, 0x5000);
        CHECK_EQ(r.last_unmap.addr_mask, 0xfff);
        CHECK_EQ(r.maps, cm ? 1 : 0);                  /* caching mode: MAP shadowing */
        if (cm) {
            CHECK_EQ(r.last_map.iova, 0x5000);
            CHECK_EQ(r.last_map.translated_addr, 0x300000);
            CHECK_EQ(r.last_map.perm, IOMMU_RO);
        }
        /* another domain's invalidation is not ours */
        wr(&t, R_IOTLB, 1ull << 63 | 2ull << 60 | (uint64_t)(DID + 1) << 32, 8);
        CHECK_EQ(r.unmaps, 1);
        /* replay: every mapping */
        struct rec_notifier r2 = { .n = { .notify = rec_notify, .start = 0, .end = UINT64_MAX,
                                          .flags = IOMMU_NOTIFIER_MAP } };
        memory_bql_lock();
        memory_region_iommu_replay(vtd_dma_region(t.s, DEV), &r2.n);
        memory_bql_unlock();
        CHECK_EQ(r2.maps, 2);
        CHECK_EQ(r2.last_map.addr_mask, 0x1fffff);
        /* TE off: everything unmapped */
        gcmd(&t, G_TE, false);
        CHECK_EQ(r.unmaps, 2);
        CHECK_EQ(r.last_unmap.addr_mask, UINT64_MAX);
        memory_bql_lock();
        memory_region_iommu_unregister_notifier(&r.n);
        memory_bql_unlock();
        vt_teardown(&t);
    }
}
