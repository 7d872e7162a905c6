/* Primary fault logging (spec 7.3): fault recording registers, the fault
 * status register, and the fault and invalidation-completion event interrupts.
 *
 * A fault event is raised when PPF or IQE goes from clear to set while none of
 * the fault status conditions was pending already. It is held pending (IP)
 * while masked and sent when software unmasks. An occupied recording register
 * at the next index means overflow: PFO is set, the fault is dropped, and no
 * new faults are recorded until software clears PFO. The events are sent
 * without interrupt remapping (vm_send_msi_unremapped), as the hardware's own
 * fault and completion interrupts are not subject to it. */
#include "iommu/vtd_internal.h"

#include "util/log.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

#define FRCD_F         (1ull << 63)
#define FRCD_T_READ    (1ull << 62)
#define VTD_FSTS_EVENT (VTD_FSTS_PPF | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)

void vtd_send_event(VTDState *s, VTDMsi *msi)
{
    if (msi->pending)
        vm_send_msi_unremapped(s->dev.vm, &msi->msg);
    msi->pending = false;
}

static void fault_msg(VTDState *s, VTDMsi *msi)
{
    msi->pending = true;
    msi->msg.address = (uint64_t)s->feuaddr << 32 | s->feaddr;
    msi->msg.data = s->fedata;
}

void vtd_fault_event(VTDState *s, VTDMsi *msi)
{
    if (s->fectl & VTD_EVT_IM)
        s->fectl |= VTD_EVT_IP;
    else
        fault_msg(s, msi);
}

/* Sets status bit `bit` in FSTS, raising the fault event if it is a new condition. */
static void fsts_raise(VTDState *s, uint32_t bit, VTDMsi *msi)
{
    bool pending = s->fsts & VTD_FSTS_EVENT;
    s->fsts |= bit;
    if (!pending)
        vtd_fault_event(s, msi);
}

static void update_ppf(VTDState *s)
{
    s->fsts &= ~VTD_FSTS_PPF;
    for (unsigned i = 0; i < VTD_NR_FRCD; i++)
        if (s->frcd[i].hi & FRCD_F)
            s->fsts |= VTD_FSTS_PPF;
    /* IP clears once software has serviced every condition. */
    if (!(s->fsts & (VTD_FSTS_EVENT | VTD_FSTS_PFO)))
        s->fectl &= ~VTD_EVT_IP;
}

void vtd_record_fault(VTDState *s, uint16_t sid, uint64_t addr, uint8_t reason,
                      bool is_write, VTDMsi *msi)
{
    log_guest_error("vtd: fault reason 0x%x, source %02x:%02x.%x, address 0x%llx (%s)",
                    reason, sid >> 8, (sid >> 3) & 0x1f, sid & 7, (unsigned long long)addr,
                    is_write ? "write" : "read");
    __atomic_fetch_add(&s->faults, 1, __ATOMIC_RELAXED);
    if (s->fsts & VTD_FSTS_PFO)
        return;
    VTDFaultRecord *r = &s->frcd[s->next_frcd];
    if (r->hi & FRCD_F) {
        s->fsts |= VTD_FSTS_PFO;
        return;
    }
    /* Interrupt-remapping faults carry the interrupt index in bits 63:48. */
    r->lo = reason >= VTD_FR_IR_REQ_RSVD ? addr << 48 : addr & ~0xfffull;
    r->hi = FRCD_F | (is_write ? 0 : FRCD_T_READ) | (uint64_t)reason << 32 | sid;
    if (!(s->fsts & VTD_FSTS_PPF)) {
        s->fsts = (s->fsts & ~(0xffu << VTD_FSTS_FRI_SHIFT)) |
                  s->next_frcd << VTD_FSTS_FRI_SHIFT;
        fsts_raise(s, VTD_FSTS_PPF, msi);
    }
    s->next_frcd = (s->next_frcd + 1) % VTD_NR_FRCD;
}

void vtd_fsts_write(VTDState *s, uint32_t val)
{
    s->fsts &= ~(val & VTD_FSTS_W1C);
    update_ppf(s);
}

void vtd_fectl_write(VTDState *s, uint32_t val, VTDMsi *msi)
{
    s->fectl = (s->fectl & VTD_EVT_IP) | (val & VTD_EVT_IM);
    if (!(s->fectl & VTD_EVT_IM) && (s->fectl & VTD_EVT_IP)) {
        s->fectl &= ~VTD_EVT_IP;
        fault_msg(s, msi);
    }
}

/* Invalidation queue error: the descriptor at IQH is bad; processing stops there. */
void vtd_iq_error(VTDState *s, VTDMsi *msi)
{
    fsts_raise(s, VTD_FSTS_IQE, msi);
}

void vtd_completion_event(VTDState *s, VTDMsi *msi)
{
    if (s->ics & VTD_ICS_IWC)
        return;                /* not a new condition */
    s->ics |= VTD_ICS_IWC;
    if (s->iectl & VTD_EVT_IM) {
        s->iectl |= VTD_EVT_IP;
    } else {
        msi->pending = true;
        msi->msg.address = (uint64_t)s->ieuaddr << 32 | s->ieaddr;
        msi->msg.data = s->iedata;
    }
}

void vtd_ics_write(VTDState *s, uint32_t val)
{
    if (val & VTD_ICS_IWC) {
        s->ics &= ~VTD_ICS_IWC;
        s->iectl &= ~VTD_EVT_IP;
    }
}

void vtd_iectl_write(VTDState *s, uint32_t val, VTDMsi *msi)
{
    s->iectl = (s->iectl & VTD_EVT_IP) | (val & VTD_EVT_IM);
    if (!(s->iectl & VTD_EVT_IM) && (s->iectl & VTD_EVT_IP)) {
        s->iectl &= ~VTD_EVT_IP;
        msi->pending = true;
        msi->msg.address = (uint64_t)s->ieuaddr << 32 | s->ieaddr;
        msi->msg.data = s->iedata;
    }
}

uint64_t vtd_frcd_read(VTDState *s, unsigned offset, unsigned size)
{
    const VTDFaultRecord *r = &s->frcd[offset / 16];
    uint64_t q = (offset & 8) ? r->hi : r->lo;
    if (size == 8)
        return q;
    return (uint32_t)(q >> ((offset & 4) * 8));
}

void vtd_frcd_write(VTDState *s, unsigned offset, uint64_t val, unsigned size)
{
    VTDFaultRecord *r = &s->frcd[offset / 16];
    /* Only F (bit 127 of the record) is writable: write 1 to clear. */
    bool clear = false;
    if ((offset & 15) == 8 && size == 8)
        clear = val & FRCD_F;
    else if ((offset & 15) == 12 && size == 4)
        clear = val & (1u << 31);
    if (clear) {
        r->hi &= ~FRCD_F;
        update_ppf(s);
    }
}
