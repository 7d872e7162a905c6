/* Queued invalidation (spec 6.5.2): 128-bit descriptors in a ring at IQA,
 * fetched from IQH up to IQT when the guest writes IQT. Each descriptor is
 * carried out completely - caches flushed, notifiers told, wait status
 * written - before the next is fetched, so a wait descriptor's status write
 * means everything before it is done. A bad descriptor sets FSTS.IQE and stops
 * the queue at IQH until software clears IQE. */
#include "iommu/vtd_internal.h"

#include "util/log.h"

enum {
    QI_CC = 1,          /* context-cache invalidate */
    QI_IOTLB = 2,
    QI_DEV_TLB = 3,     /* no device TLBs here: invalid */
    QI_IEC = 4,         /* interrupt entry cache */
    QI_WAIT = 5,
};
#define QI_TYPE(lo)      ((unsigned)((lo) & 0xf) | (unsigned)(((lo) >> 9) & 7) << 4)
#define QI_GRAN(lo)      ((int)((lo) >> 4) & 3)
#define QI_WAIT_IF       (1ull << 4)
#define QI_WAIT_SW       (1ull << 5)
#define QI_IEC_G         (1ull << 4)

/* Carries out one descriptor (lock held); false if it is invalid. */
static bool qi_descriptor(VTDState *s, uint64_t lo, uint64_t hi, VTDPost *p)
{
    switch (QI_TYPE(lo)) {
    case QI_CC: {
        int gran = QI_GRAN(lo);
        if (!gran || hi || (lo >> 50))
            return false;
        p->ctx_gran = gran;
        p->ctx_did = (uint16_t)(lo >> 16);
        p->ctx_sid = (uint16_t)(lo >> 32);
        p->ctx_fm = (unsigned)(lo >> 48) & 3;
        vtd_ctx_flush(s, gran, p->ctx_did, p->ctx_sid, p->ctx_fm);
        return true;
    }
    case QI_IOTLB: {
        int gran = QI_GRAN(lo);
        unsigned am = (unsigned)hi & 0x3f;
        if (!gran || (lo >> 32) || (gran == 3 && am > VTD_MAMV) || (hi & 0xf80))
            return false;
        p->iotlb_gran = gran;
        p->iotlb_did = (uint16_t)(lo >> 16);
        p->iotlb_addr = hi & ~0xfffull;
        p->iotlb_am = am;
        vtd_iotlb_flush(s, gran, p->iotlb_did, p->iotlb_addr, am);
        return true;
    }
    case QI_IEC:
        if (!(s->ecap & VTD_ECAP_IR) || hi || (lo >> 48))
            return false;
        /* IRTEs are never cached here: every remap reads the table. What
         * remains is telling those who cached remapped messages. */
        p->ir_changed = true;
        return true;
    case QI_WAIT:
        if (lo & 0xfffff100ull)
            return false;
        if (lo & QI_WAIT_SW) {
            if (hi & 3)
                return false;
            p->status_write = true;
            p->status_addr = hi;
            p->status_data = (uint32_t)(lo >> 32);
        }
        if (lo & QI_WAIT_IF)
            vtd_completion_event(s, &p->msi);
        return true;
    }
    return false;
}

void vtd_qi_process(VTDState *s)
{
    for (;;) {
        VTDPost p = { 0 };
        uint64_t lo = 0, hi = 0;
        pthread_mutex_lock(&s->lock);
        if (!(s->gsts & VTD_GCMD_QIE) || (s->fsts & VTD_FSTS_IQE) || s->iqh == s->iqt) {
            pthread_mutex_unlock(&s->lock);
            return;
        }
        uint64_t entries = 256ull << (s->iqa & 7);
        uint64_t head = s->iqh >> 4, base = s->iqa & ~0xfffull;
        bool ok = (s->iqt >> 4) < entries && head < entries &&
                  vtd_load_table(s, base + head * 16, &lo) &&
                  vtd_load_table(s, base + head * 16 + 8, &hi) && qi_descriptor(s, lo, hi, &p);
        if (ok) {
            s->iqh = ((head + 1) % entries) << 4;
        } else {
            log_guest_error("vtd: bad invalidation descriptor at IQH 0x%llx (0x%llx 0x%llx, "
                            "IQT 0x%llx)", (unsigned long long)s->iqh,
                            (unsigned long long)lo, (unsigned long long)hi,
                            (unsigned long long)s->iqt);
            vtd_iq_error(s, &p.msi);
        }
        pthread_mutex_unlock(&s->lock);
        vtd_post_run(s, &p);
    }
}
