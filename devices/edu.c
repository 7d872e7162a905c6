/* edu: QEMU's educational PCI device (vendor 0x1234, device 0x11e8), so guest
 * code written for it runs unchanged. BAR 0 is 1 MiB of registers:
 *   0x00 identification 0x010000ed      0x04 liveness: reads ~(last write)
 *   0x08 factorial (computed at once)   0x20 status: 0x01 computing, 0x80 IRQ on done
 *   0x24 interrupt status  0x60 raise (ORs)  0x64 acknowledge (clears)
 *   0x80 DMA source  0x88 destination  0x90 count  0x98 command
 *        (0x01 start, 0x02 edu -> RAM, 0x04 raise interrupt 0x100 when done)
 * Registers below 0x80 take 4-byte accesses, the DMA ones 4 or 8. The DMA
 * engine moves data between guest memory (through the DMA layer, with the
 * device's 28-bit DMA mask, as QEMU's default) and a 4 KiB buffer at device
 * address 0x40000; it runs synchronously inside the command write. Interrupts:
 * MSI when the guest enables it, else INTx pin A held while any status bit is
 * set. */
#include <inttypes.h>

#include "devices/devices.h"
#include "memory/memory.h"
#include "pci/dma.h"
#include "pci/pci.h"
#include "util/bytes.h"
#include "util/log.h"

#define EDU_ID            0x010000edu
#define EDU_BAR_SIZE      0x100000
#define EDU_DMA_BUF       0x40000u
#define EDU_DMA_BUF_SIZE  4096u
#define EDU_DMA_MASK      ((1ull << 28) - 1)
#define EDU_STATUS_COMPUTING 0x01u
#define EDU_STATUS_IRQFACT   0x80u
#define EDU_DMA_START     0x1u
#define EDU_DMA_TO_RAM    0x2u
#define EDU_DMA_IRQ       0x4u
#define EDU_IRQ_FACT      0x1u
#define EDU_IRQ_DMA       0x100u

typedef struct EduState {
    PCIDevice pci;
    uint32_t liveness, fact, status, irq_status;
    uint64_t dma_src, dma_dst, dma_count, dma_cmd;
    uint8_t buf[EDU_DMA_BUF_SIZE];
} EduState;

static void edu_update_irq(EduState *s, bool raised)
{
    if (pci_msi_enabled(&s->pci)) {
        if (raised)
            pci_notify(&s->pci, 0);
        pci_set_irq(&s->pci, false);
    } else {
        pci_set_irq(&s->pci, s->irq_status != 0);
    }
}

static void edu_raise(EduState *s, uint32_t bits)
{
    s->irq_status |= bits;
    if (s->irq_status)
        edu_update_irq(s, true);
}

static void edu_ack(EduState *s, uint32_t bits)
{
    s->irq_status &= ~bits;
    edu_update_irq(s, false);
}

static uint32_t factorial(uint32_t n)
{
    uint32_t v = 1;
    for (uint32_t i = 2; i <= n && v; i++)   /* wraps mod 2^32 as QEMU's; stops at 0 */
        v *= i;
    return v;
}

/* The buffer offset of [addr, addr + len), or -1 when it leaves the buffer. */
static int64_t buf_offset(uint64_t addr, uint64_t len)
{
    if (addr < EDU_DMA_BUF || len > EDU_DMA_BUF_SIZE ||
        addr - EDU_DMA_BUF > EDU_DMA_BUF_SIZE - len)
        return -1;
    return (int64_t)(addr - EDU_DMA_BUF);
}

static void edu_dma(EduState *s)
{
    bool to_ram = s->dma_cmd & EDU_DMA_TO_RAM;
    uint64_t len = s->dma_count;
    int64_t off = buf_offset(to_ram ? s->dma_src : s->dma_dst, len);
    if (off < 0) {
        log_guest_error("%s: DMA of %" PRIu64 " bytes outside the buffer", s->pci.dev.id, len);
    } else {
        MemTxResult r;
        if (to_ram)
            r = pci_dma_write(&s->pci, s->dma_dst & EDU_DMA_MASK, s->buf + off, len);
        else
            r = pci_dma_read(&s->pci, s->dma_src & EDU_DMA_MASK, s->buf + off, len);
        if (r != MEMTX_OK)
            log_guest_error("%s: DMA %s 0x%" PRIx64 " failed (%d)", s->pci.dev.id,
                            to_ram ? "to" : "from", to_ram ? s->dma_dst : s->dma_src, r);
    }
    s->dma_cmd &= ~(uint64_t)EDU_DMA_START;
    if (s->dma_cmd & EDU_DMA_IRQ)
        edu_raise(s, EDU_IRQ_DMA);
}

static MemTxResult edu_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    EduState *s = opaque;
    *data = UINT64_MAX;
    if (addr < 0x80 && size != 4)
        return MEMTX_OK;
    switch (addr) {
    case 0x00: *data = EDU_ID; break;
    case 0x04: *data = s->liveness; break;
    case 0x08: *data = s->fact; break;
    case 0x20: *data = s->status; break;
    case 0x24: *data = s->irq_status; break;
    case 0x80: *data = s->dma_src; break;
    case 0x88: *data = s->dma_dst; break;
    case 0x90: *data = s->dma_count; break;
    case 0x98: *data = s->dma_cmd; break;
    }
    if (addr >= EDU_DMA_BUF && addr - EDU_DMA_BUF <= EDU_DMA_BUF_SIZE - size)
        *data = get_le(s->buf + (addr - EDU_DMA_BUF), size);
    return MEMTX_OK;
}

static MemTxResult edu_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    EduState *s = opaque;
    if (addr < 0x80 && size != 4)
        return MEMTX_OK;
    if (size == 4 && addr >= 0x80)
        val = (uint32_t)val;
    switch (addr) {
    case 0x04: s->liveness = ~(uint32_t)val; break;
    case 0x08:
        if (!(s->status & EDU_STATUS_COMPUTING)) {
            s->fact = factorial((uint32_t)val);
            if (s->status & EDU_STATUS_IRQFACT)
                edu_raise(s, EDU_IRQ_FACT);
        }
        break;
    case 0x20:
        s->status = (s->status & EDU_STATUS_COMPUTING) | ((uint32_t)val & EDU_STATUS_IRQFACT);
        break;
    case 0x60: edu_raise(s, (uint32_t)val); break;
    case 0x64: edu_ack(s, (uint32_t)val); break;
    case 0x80: s->dma_src = val; break;
    case 0x88: s->dma_dst = val; break;
    case 0x90: s->dma_count = val; break;
    case 0x98:
        s->dma_cmd = val;
        if (val & EDU_DMA_START)
            edu_dma(s);
        break;
    }
    if (addr >= EDU_DMA_BUF && addr - EDU_DMA_BUF <= EDU_DMA_BUF_SIZE - size)
        put_le(s->buf + (addr - EDU_DMA_BUF), val, size);
    return MEMTX_OK;
}

static const MemoryRegionOps edu_ops = {
    .read = edu_read,
    .write = edu_write,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 8 },
};

static int edu_realize(Device *dev)
{
    EduState *s = DEVICE_CAST(EduState, dev);
    PCIBus *bus = pci_root_bus(dev->vm);
    if (!bus) {
        log_error("%s: no PCI bus", dev->id);
        return -1;
    }
    const PCIDeviceInfo info = {
        .vendor_id = 0x1234, .device_id = 0x11e8,
        .subsystem_vendor_id = 0x1af4, .subsystem_id = 0x1100,
        .class_code = 0x00ff00, .revision = 0x10, .intx_pin = 1,
    };
    if (pci_device_init(&s->pci, bus, -1, &info, NULL) < 0)
        return -1;
    MemoryRegion *mr = memory_region_new_io(dev->id, EDU_BAR_SIZE, &edu_ops, s);
    int r = pci_register_bar(&s->pci, 0, PCI_BAR_MEM32, false, mr);
    memory_region_unref(mr);
    if (r < 0 || pci_msi_init(&s->pci, 1, true, false) < 0)
        return -1;
    return 0;
}

static void edu_reset(Device *dev)
{
    EduState *s = DEVICE_CAST(EduState, dev);
    s->liveness = s->fact = s->status = s->irq_status = 0;
    s->dma_src = s->dma_dst = s->dma_count = s->dma_cmd = 0;
    pci_device_reset(&s->pci);
}

static void edu_unrealize(Device *dev)
{
    pci_device_uninit(&DEVICE_CAST(EduState, dev)->pci);
}

static const DeviceClass edu_class = {
    .name = "edu",
    .instance_size = sizeof(EduState),
    .realize = edu_realize,
    .reset = edu_reset,
    .unrealize = edu_unrealize,
};

int edu_init(struct vm *vm)
{
    Device *dev = device_new(vm, &edu_class, NULL);
    return dev ? device_realize(dev) : -1;
}
