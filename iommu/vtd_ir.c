/* Interrupt remapping (spec chapter 5, 9.10): MSIs in remappable format are
 * translated through the interrupt remapping table at IRTA; compatibility-
 * format MSIs pass only while GSTS.CFIS says so (and never with EIME).
 * Installed as vm->intremap while the guest has IRE on. IRTEs are not cached:
 * every remap reads its entry, so an interrupt entry cache invalidation has
 * nothing to drop here and only tells the VM's listeners. */
#include "iommu/vtd_internal.h"

#include "util/log.h"
#include "vmm/vm.h"

#define MSI_ADDR_IF          (1ull << 4)     /* remappable format */
#define MSI_ADDR_SHV         (1ull << 3)
#define IRTA_EIME            (1ull << 11)
#define IRTE_P               1ull
#define IRTE_FPD             2ull
#define IRTE_IM_POSTED       (1ull << 15)
#define IRTE_LO_RSVD         (0x7000ull | 0xff000000ull | IRTE_IM_POSTED)
#define IRTE_LO_RSVD_XAPIC   0xffff00ff00000000ull  /* destination bits 63:48, 39:32 */
#define IRTE_HI_RSVD         (~0xfffffull)

typedef struct IRFault {
    uint8_t reason;
    bool fpd;
    unsigned index;
} IRFault;

static bool sid_valid(uint64_t hi, uint16_t rid, IRFault *f)
{
    unsigned svt = (unsigned)(hi >> 18) & 3, sq = (unsigned)(hi >> 16) & 3;
    uint16_t sid = (uint16_t)hi;
    /* SQ: which low bits of the function number not to compare */
    static const uint16_t sq_mask[4] = { 0xffff, 0xfffb, 0xfff9, 0xfff8 };
    switch (svt) {
    case 0:
        return true;
    case 1:
        if (((rid ^ sid) & sq_mask[sq]) == 0)
            return true;
        break;
    case 2:
        if ((rid >> 8) >= (sid >> 8) && (rid >> 8) <= (sid & 0xff))
            return true;
        break;
    default:
        f->reason = VTD_FR_IR_RSVD;
        return false;
    }
    f->reason = VTD_FR_IR_SID;
    return false;
}

static bool remap_locked(VTDState *s, uint16_t rid, const MSIMessage *in, MSIMessage *out,
                         IRFault *f)
{
    uint64_t addr = in->address, irta = s->irta_latched;
    bool eime = irta & IRTA_EIME;
    if ((addr >> 20) != 0xfee) {
        f->reason = VTD_FR_IR_REQ_RSVD;
        return false;
    }
    if (!(addr & MSI_ADDR_IF)) {
        if ((s->gsts & VTD_GCMD_CFI) && !eime) {
            *out = *in;
            return true;
        }
        f->reason = VTD_FR_IR_COMPAT;
        return false;
    }
    unsigned index = (unsigned)((addr >> 5) & 0x7fff) | (unsigned)((addr >> 2) & 1) << 15;
    if (addr & MSI_ADDR_SHV)
        index += in->data & 0xffff;
    f->index = index;
    if (!(s->gsts & VTD_GCMD_SIRTP) || index >= 2u << (irta & 0xf)) {
        f->reason = VTD_FR_IR_INDEX;
        return false;
    }
    uint64_t lo, hi, entry = (irta & ~0xfffull) + index * 16ull;
    if (!vtd_load_table(s, entry, &lo) || !vtd_load_table(s, entry + 8, &hi)) {
        f->reason = VTD_FR_IR_ACCESS;
        return false;
    }
    f->fpd = lo & IRTE_FPD;
    if (!(lo & IRTE_P)) {
        f->reason = VTD_FR_IR_NP;
        return false;
    }
    if ((lo & IRTE_LO_RSVD) || (!eime && (lo & IRTE_LO_RSVD_XAPIC)) || (hi & IRTE_HI_RSVD)) {
        f->reason = VTD_FR_IR_RSVD;
        return false;
    }
    if (!sid_valid(hi, rid, f))
        return false;
    uint32_t dest = eime ? (uint32_t)(lo >> 32) : (uint32_t)(lo >> 40) & 0xff;
    unsigned dm = (lo >> 2) & 1, rh = (lo >> 3) & 1, tm = (lo >> 4) & 1;
    unsigned dlm = (lo >> 5) & 7, vector = (lo >> 16) & 0xff;
    /* Compatibility format; destination bits 31:8 in the upper address, as
     * KVM reads an extended destination id. */
    out->address = 0xfee00000ull | (uint64_t)(dest & 0xff) << 12 | rh << 3 | dm << 2 |
                   (uint64_t)(dest & 0xffffff00u) << 32;
    out->data = vector | dlm << 8 | (tm ? (1u << 15) | (1u << 14) : 0);
    return true;
}

static int vtd_remap(InterruptRemapper *ir, uint16_t rid, const MSIMessage *in, MSIMessage *out)
{
    VTDState *s = ir->opaque;
    IRFault f = { 0 };
    VTDMsi msi = { 0 };
    pthread_mutex_lock(&s->lock);
    bool ok = !(s->gsts & VTD_GCMD_IRE) ? (*out = *in, true) : remap_locked(s, rid, in, out, &f);
    if (!ok && !f.fpd)
        vtd_record_fault(s, rid, f.index, f.reason, true, &msi);
    pthread_mutex_unlock(&s->lock);
    vtd_send_event(s, &msi);
    return ok ? 0 : -1;
}

void vtd_ir_init(VTDState *s)
{
    s->ir.remap = vtd_remap;
    s->ir.opaque = s;
}

void vtd_ir_changed(VTDState *s)
{
    vm_intremap_changed(s->dev.vm);
}
