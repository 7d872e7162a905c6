/* The VT-d register file (spec chapter 11), the unit's creation and its
 * per-requester regions. See iommu/vtd.h. */
#include "iommu/vtd_internal.h"

#include <glib.h>
#include <stdlib.h>

#include "util/log.h"
#include "vmm/vm.h"

/* ---- reads ---- */
static uint32_t read32(VTDState *s, unsigned off)
{
    switch (off & ~3u) {
    case VTD_VER: return VTD_VERSION;
    case VTD_CAP: return (uint32_t)s->cap;
    case VTD_CAP + 4: return (uint32_t)(s->cap >> 32);
    case VTD_ECAP: return (uint32_t)s->ecap;
    case VTD_ECAP + 4: return (uint32_t)(s->ecap >> 32);
    case VTD_GSTS: return s->gsts;
    case VTD_RTADDR: return (uint32_t)s->rtaddr;
    case VTD_RTADDR + 4: return (uint32_t)(s->rtaddr >> 32);
    case VTD_CCMD: return (uint32_t)s->ccmd;
    case VTD_CCMD + 4: return (uint32_t)(s->ccmd >> 32);
    case VTD_FSTS: return s->fsts;
    case VTD_FECTL: return s->fectl;
    case VTD_FEDATA: return s->fedata;
    case VTD_FEADDR: return s->feaddr;
    case VTD_FEUADDR: return s->feuaddr;
    case VTD_IQH: return (uint32_t)s->iqh;
    case VTD_IQH + 4: return (uint32_t)(s->iqh >> 32);
    case VTD_IQT: return (uint32_t)s->iqt;
    case VTD_IQT + 4: return (uint32_t)(s->iqt >> 32);
    case VTD_IQA: return (uint32_t)s->iqa;
    case VTD_IQA + 4: return (uint32_t)(s->iqa >> 32);
    case VTD_ICS: return s->ics;
    case VTD_IECTL: return s->iectl;
    case VTD_IEDATA: return s->iedata;
    case VTD_IEADDR: return s->ieaddr;
    case VTD_IEUADDR: return s->ieuaddr;
    case VTD_IRTA: return (uint32_t)s->irta;
    case VTD_IRTA + 4: return (uint32_t)(s->irta >> 32);
    case VTD_IVA: return (uint32_t)s->iva;
    case VTD_IVA + 4: return (uint32_t)(s->iva >> 32);
    case VTD_IOTLB: return (uint32_t)s->iotlb_reg;
    case VTD_IOTLB + 4: return (uint32_t)(s->iotlb_reg >> 32);
    }
    if (off >= VTD_FRCD && off < VTD_FRCD_END)
        return (uint32_t)vtd_frcd_read(s, off - VTD_FRCD, 4);
    return 0;   /* reserved registers read as 0 */
}

static MemTxResult vtd_mmio_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    VTDState *s = opaque;
    unsigned off = (unsigned)addr;
    if (size < 4) {
        log_guest_error("vtd: %u-byte read at 0x%x (registers take 4 or 8 bytes)", size, off);
        *data = ~0ull >> (64 - 8 * size);
        return MEMTX_OK;
    }
    pthread_mutex_lock(&s->lock);
    *data = read32(s, off);
    if (size == 8)
        *data |= (uint64_t)read32(s, off + 4) << 32;
    pthread_mutex_unlock(&s->lock);
    return MEMTX_OK;
}

/* ---- writes ---- */
static void gcmd_write(VTDState *s, uint32_t val, VTDPost *p)
{
    const uint32_t toggles = VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI;
    uint32_t changed = (val ^ s->gsts) & toggles;

    if (val & VTD_GCMD_SRTP) {
        s->rtaddr_latched = s->rtaddr;
        s->gsts |= VTD_GCMD_SRTP;           /* RTPS */
        vtd_ctx_flush(s, 1, 0, 0, 0);
        vtd_iotlb_flush(s, 1, 0, 0, 0);
        p->unmap_all = true;
    }
    if ((val & VTD_GCMD_SIRTP) && (s->ecap & VTD_ECAP_IR)) {
        s->irta_latched = s->irta;
        s->gsts |= VTD_GCMD_SIRTP;          /* IRTPS */
        p->ir_changed = true;
    }
    if (changed & VTD_GCMD_TE) {
        s->gsts ^= VTD_GCMD_TE;
        __atomic_store_n(&s->te, !!(s->gsts & VTD_GCMD_TE), __ATOMIC_RELEASE);
        vtd_iotlb_flush(s, 1, 0, 0, 0);
        p->unmap_all = true;
    }
    if (changed & VTD_GCMD_QIE) {
        s->gsts ^= VTD_GCMD_QIE;
        if (s->gsts & VTD_GCMD_QIE)
            p->run_qi = true;
        else
            s->iqh = 0;                     /* IQH reads 0 while QI is off */
    }
    if ((changed & (VTD_GCMD_IRE | VTD_GCMD_CFI)) && (s->ecap & VTD_ECAP_IR)) {
        s->gsts ^= changed & (VTD_GCMD_IRE | VTD_GCMD_CFI);
        __atomic_store_n(&s->dev.vm->intremap, (s->gsts & VTD_GCMD_IRE) ? &s->ir : NULL,
                         __ATOMIC_RELEASE);
        p->ir_changed = true;
    }
    if (val & (VTD_GCMD_SFL | VTD_GCMD_EAFL | VTD_GCMD_WBF))
        log_guest_error("vtd: GCMD 0x%x asks for a feature the unit does not offer", val);
}

static void ccmd_write(VTDState *s, VTDPost *p)
{
    if (!(s->ccmd >> 63))
        return;
    int gran = (int)(s->ccmd >> 61) & 3;
    if (s->gsts & VTD_GCMD_QIE) {
        log_guest_error("vtd: CCMD written while queued invalidation is on");
        gran = 0;
    }
    uint16_t did = (uint16_t)s->ccmd, sid = (uint16_t)(s->ccmd >> 16);
    unsigned fm = (unsigned)(s->ccmd >> 32) & 3;
    if (gran)
        vtd_ctx_flush(s, gran, did, sid, fm);
    p->ctx_gran = gran;
    p->ctx_did = did, p->ctx_sid = sid, p->ctx_fm = fm;
    /* ICC clear, CAIG = what was done (0: the request failed) */
    s->ccmd = (s->ccmd & ~(1ull << 63) & ~(3ull << 59)) | (uint64_t)gran << 59;
}

static void iotlb_write(VTDState *s, VTDPost *p)
{
    if (!(s->iotlb_reg >> 63))
        return;
    int gran = (int)(s->iotlb_reg >> 60) & 3;
    uint16_t did = (uint16_t)(s->iotlb_reg >> 32);
    unsigned am = (unsigned)s->iva & 0x3f;
    uint64_t addr = s->iva & ~0xfffull;
    if (s->gsts & VTD_GCMD_QIE) {
        log_guest_error("vtd: IOTLB register written while queued invalidation is on");
        gran = 0;
    } else if (gran == 3 && am > VTD_MAMV) {
        log_guest_error("vtd: IOTLB invalidation with AM %u > MAMV", am);
        gran = 0;
    }
    if (gran)
        vtd_iotlb_flush(s, gran, did, addr, am);
    p->iotlb_gran = gran;
    p->iotlb_did = did, p->iotlb_addr = addr, p->iotlb_am = am;
    s->iotlb_reg = (s->iotlb_reg & ~(1ull << 63) & ~(3ull << 57)) | (uint64_t)gran << 57;
}

/* Bytes [off, off+size) of a 64-bit register at `reg` take `val`. */
static uint64_t merge64(uint64_t old, unsigned reg, unsigned off, uint64_t val, unsigned size)
{
    if (size == 8)
        return val;
    unsigned shift = (off - reg) * 8;
    uint64_t mask = 0xffffffffull << shift;
    return (old & ~mask) | ((val << shift) & mask);
}

static bool write64(VTDState *s, unsigned off, uint64_t val, unsigned size, VTDPost *p)
{
    unsigned reg = off & ~7u;
    bool high = size == 8 || (off & 4);
    switch (reg) {
    case VTD_RTADDR:
        s->rtaddr = merge64(s->rtaddr, reg, off, val, size);
        return true;
    case VTD_CCMD:
        s->ccmd = merge64(s->ccmd, reg, off, val, size);
        if (high)                      /* ICC is bit 63: act on the upper half */
            ccmd_write(s, p);
        return true;
    case VTD_IVA:
        s->iva = merge64(s->iva, reg, off, val, size) & ~0xf80ull;
        return true;
    case VTD_IOTLB:
        s->iotlb_reg = merge64(s->iotlb_reg, reg, off, val, size);
        if (high)
            iotlb_write(s, p);
        return true;
    case VTD_IQT:
        if (off == VTD_IQT) {          /* the tail is in the low half */
            s->iqt = val & 0x7fff0ull;
            p->run_qi = true;
        }
        return true;
    case VTD_IQA:
        s->iqa = merge64(s->iqa, reg, off, val, size) & (~0xfffull | 7);
        return true;
    case VTD_IRTA:
        if (s->ecap & VTD_ECAP_IR)
            s->irta = merge64(s->irta, reg, off, val, size) & (~0xfffull | 0x80f);
        return true;
    case VTD_CAP: case VTD_ECAP: case VTD_IQH: case VTD_AFLOG:
        return true;                   /* read-only or not offered */
    }
    if (off >= VTD_FRCD && off < VTD_FRCD_END) {
        vtd_frcd_write(s, off - VTD_FRCD, val, size);
        return true;
    }
    return false;
}

static void write32(VTDState *s, unsigned off, uint32_t val, VTDPost *p)
{
    switch (off) {
    case VTD_GCMD: gcmd_write(s, val, p); break;
    case VTD_FSTS:
        vtd_fsts_write(s, val);
        if (val & VTD_FSTS_IQE)        /* the queue goes on from IQH */
            p->run_qi = true;
        break;
    case VTD_FECTL: vtd_fectl_write(s, val, &p->msi); break;
    case VTD_FEDATA: s->fedata = val; break;
    case VTD_FEADDR: s->feaddr = val & ~3u; break;
    case VTD_FEUADDR: s->feuaddr = val; break;
    case VTD_ICS: vtd_ics_write(s, val); break;
    case VTD_IECTL: vtd_iectl_write(s, val, &p->msi); break;
    case VTD_IEDATA: s->iedata = val; break;
    case VTD_IEADDR: s->ieaddr = val & ~3u; break;
    case VTD_IEUADDR: s->ieuaddr = val; break;
    default: break;                    /* read-only or reserved: ignored */
    }
}

static MemTxResult vtd_mmio_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    VTDState *s = opaque;
    unsigned off = (unsigned)addr;
    VTDPost p = { 0 };
    if (size < 4) {
        log_guest_error("vtd: %u-byte write at 0x%x ignored", size, off);
        return MEMTX_OK;
    }
    pthread_mutex_lock(&s->lock);
    if (!write64(s, off, data, size, &p)) {
        write32(s, off, (uint32_t)data, &p);
        if (size == 8)
            write32(s, off + 4, (uint32_t)(data >> 32), &p);
    }
    pthread_mutex_unlock(&s->lock);
    vtd_post_run(s, &p);
    return MEMTX_OK;
}

static const MemoryRegionOps vtd_mmio_ops = {
    .read = vtd_mmio_read,
    .write = vtd_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

void vtd_post_run(VTDState *s, VTDPost *p)
{
    if (p->unmap_all)
        vtd_notify_unmap_all(s);
    if (p->ctx_gran)
        vtd_notify_context(s, p->ctx_gran, p->ctx_did, p->ctx_sid, p->ctx_fm);
    if (p->iotlb_gran)
        vtd_notify_iotlb(s, p->iotlb_gran, p->iotlb_did, p->iotlb_addr, p->iotlb_am);
    if (p->ir_changed)
        vtd_ir_changed(s);
    /* After the notifications: once the status is written the guest takes
     * the invalidation as complete. */
    if (p->status_write &&
        address_space_stl_le(s->dev.vm->as_mem, p->status_addr, p->status_data) != MEMTX_OK)
        log_guest_error("vtd: invalidation wait status write to 0x%llx failed",
                        (unsigned long long)p->status_addr);
    vtd_send_event(s, &p->msi);
    if (p->run_qi)
        vtd_qi_process(s);
}

/* ---- regions per requester ---- */
MemoryRegion *vtd_dma_region(void *vtd, uint16_t rid)
{
    VTDState *s = vtd;
    VTDAddressSpace **bus = s->spaces[rid >> 8];
    if (!bus)
        bus = s->spaces[rid >> 8] = g_new0(VTDAddressSpace *, 256);
    VTDAddressSpace *as = bus[rid & 0xff];
    if (!as) {
        char name[40];
        snprintf(name, sizeof(name), "vtd-%02x:%02x.%x", rid >> 8, (rid >> 3) & 0x1f, rid & 7);
        as = g_new0(VTDAddressSpace, 1);
        as->s = s;
        as->rid = rid;
        as->mr = memory_region_new_iommu(name, UINT64_MAX, &vtd_iommu_ops, as);
        bus[rid & 0xff] = as;
    }
    return as->mr;
}

/* ---- the device ---- */
static void vtd_reset(Device *dev)
{
    VTDState *s = DEVICE_CAST(VTDState, dev);
    pthread_mutex_lock(&s->lock);
    s->cap = VTD_CAP_ND_8BIT | VTD_CAP_SAGAW_39_48 | VTD_CAP_MGAW(VTD_HAW) |
             VTD_CAP_FRO(VTD_FRCD) | VTD_CAP_SLLPS_2M1G | VTD_CAP_PSI |
             VTD_CAP_NFR(VTD_NR_FRCD) | VTD_CAP_MAMV(VTD_MAMV) | VTD_CAP_DWD | VTD_CAP_DRD |
             (s->cfg.caching_mode ? VTD_CAP_CM : 0);
    s->ecap = VTD_ECAP_C | VTD_ECAP_QI | VTD_ECAP_PT | VTD_ECAP_IRO(VTD_IVA) | VTD_ECAP_MHMV |
              (s->cfg.intremap ? VTD_ECAP_IR | VTD_ECAP_EIM : 0);
    s->gsts = 0;
    s->rtaddr = s->rtaddr_latched = s->ccmd = s->iotlb_reg = s->iva = 0;
    s->fsts = 0;
    s->fectl = VTD_EVT_IM;
    s->fedata = s->feaddr = s->feuaddr = 0;
    memset(s->frcd, 0, sizeof(s->frcd));
    s->next_frcd = 0;
    s->iqh = s->iqt = s->iqa = 0;
    s->ics = 0;
    s->iectl = VTD_EVT_IM;
    s->iedata = s->ieaddr = s->ieuaddr = 0;
    s->irta = s->irta_latched = 0;
    __atomic_store_n(&s->te, false, __ATOMIC_RELEASE);
    vtd_ctx_flush(s, 1, 0, 0, 0);
    vtd_iotlb_flush(s, 1, 0, 0, 0);
    if (s->dev.vm->intremap == &s->ir)
        __atomic_store_n(&s->dev.vm->intremap, NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->lock);
}

static int vtd_realize(Device *dev)
{
    VTDState *s = DEVICE_CAST(VTDState, dev);
    pthread_mutex_init(&s->lock, NULL);
    s->as_mem = dev->vm->as_mem;
    s->ctx_gen = 1;
    vtd_ir_init(s);
    vtd_reset(dev);
    s->mmio = memory_region_new_io("vtd", VTD_MMIO_SIZE, &vtd_mmio_ops, s);
    memory_region_add_subregion(dev->vm->sysmem, VTD_BASE, s->mmio);
    return 0;
}

static void vtd_unrealize(Device *dev)
{
    VTDState *s = DEVICE_CAST(VTDState, dev);
    if (!s->mmio)
        return;
    if (dev->vm->intremap == &s->ir)
        __atomic_store_n(&dev->vm->intremap, NULL, __ATOMIC_RELEASE);
    memory_region_del_subregion(dev->vm->sysmem, s->mmio);
    memory_region_unref(s->mmio);
    for (unsigned b = 0; b < 256; b++) {
        if (!s->spaces[b])
            continue;
        for (unsigned d = 0; d < 256; d++) {
            if (s->spaces[b][d]) {
                memory_region_unref(s->spaces[b][d]->mr);
                g_free(s->spaces[b][d]);
            }
        }
        g_free(s->spaces[b]);
    }
    pthread_mutex_destroy(&s->lock);
}

static const DeviceClass vtd_class = {
    .name = "vtd",
    .instance_size = sizeof(VTDState),
    .realize = vtd_realize,
    .reset = vtd_reset,
    .unrealize = vtd_unrealize,
};

VTDState *vtd_create(struct vm *vm, const VTDConfig *cfg)
{
    Device *dev = device_new(vm, &vtd_class, "vtd");
    if (!dev)
        return NULL;
    VTDState *s = DEVICE_CAST(VTDState, dev);
    s->cfg = *cfg;
    if (device_realize(dev) < 0)
        return NULL;
    return s;
}

void vtd_get_info(VTDState *s, VTDInfo *info)
{
    pthread_mutex_lock(&s->lock);
    *info = (VTDInfo){
        .translation = s->gsts & VTD_GCMD_TE,
        .intremap = s->gsts & VTD_GCMD_IRE,
        .queued_inval = s->gsts & VTD_GCMD_QIE,
        .root_table = s->rtaddr_latched,
        .iotlb_hits = __atomic_load_n(&s->iotlb_hits, __ATOMIC_RELAXED),
        .iotlb_misses = __atomic_load_n(&s->iotlb_misses, __ATOMIC_RELAXED),
        .faults = __atomic_load_n(&s->faults, __ATOMIC_RELAXED),
        .fault_status = s->fsts,
    };
    pthread_mutex_unlock(&s->lock);
}
