/* The userspace IOAPIC (devices/ioapic.h).
 *
 * Registers: IOREGSEL at 0x00 selects an indirect register, IOWIN at 0x10
 * reads/writes it, EOI at 0x40 (version 0x20). Indirect: 0x00 id (bits
 * 24..31), 0x01 version (max. redirection entry 23 in bits 16..23), 0x02
 * arbitration id, 0x10 + 2n / 0x11 + 2n low/high half of pin n's redirection
 * entry.
 *
 * Redirection entry: vector 0..7, delivery mode 8..10, destination mode 11,
 * delivery status 12 (ro), polarity 13, remote IRR 14 (ro), trigger mode 15
 * (1 = level), mask 16; destination 56..63. In remappable format (bit 48 set,
 * written by Linux once interrupt remapping is on) bits 49..63 hold handle
 * bits 14..0 and bit 11 handle bit 15; the vector is then only what the EOI
 * register matches (Linux writes the pin number there).
 *
 * Level-triggered: a delivery sets remote IRR; no further delivery until an
 * EOI for the entry's vector clears it; if the line is still asserted then,
 * the interrupt is delivered again. Edge-triggered: a rising edge on an
 * unmasked pin is delivered; while masked it is lost, as on the 82093AA.
 *
 * State is under `lock` (MMIO ops hold the big lock too, but lines and EOIs
 * also come from I/O threads and vCPU threads without it). Deliveries are made
 * with the lock held, so they leave in the order the state changed. */
#include "devices/ioapic.h"

#include <pthread.h>

#include "devices/internal.h"
#include "util/log.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

enum {
    REG_SELECT = 0x00,
    REG_WINDOW = 0x10,
    REG_EOI = 0x40,
};
enum {
    IND_ID = 0x00,
    IND_VERSION = 0x01,
    IND_ARB = 0x02,
    IND_REDTBL = 0x10,
    IND_REDTBL_END = IND_REDTBL + 2 * IOAPIC_NUM_PINS,
};

#define RTE_VECTOR        0xffull
#define RTE_DELIV_SHIFT   8
#define RTE_DELIV_MASK    0x7ull
#define RTE_DEST_MODE     (1ull << 11)
#define RTE_DELIV_STATUS  (1ull << 12)
#define RTE_REMOTE_IRR    (1ull << 14)
#define RTE_LEVEL         (1ull << 15)
#define RTE_MASKED        (1ull << 16)
#define RTE_RO_BITS       (RTE_DELIV_STATUS | RTE_REMOTE_IRR)
#define RTE_DEST_IDX_SHIFT 48    /* 16 bits: (ext.) destination, or format + handle */

#define DELIV_EXTINT      7u
#define DELIV_RESERVED(m) ((m) == 3u || (m) == 6u)

#define MSI_ADDR_BASE     0xfee00000ull
#define MSI_ADDR_IDX_SHIFT 4     /* RTE bits 48..63 -> address bits 4..19 */
#define MSI_ADDR_DEST_MODE_SHIFT 2
#define MSI_DATA_DELIV_SHIFT 8
#define MSI_DATA_LEVEL    (1u << 15)

struct IOAPIC {
    Device dev;
    pthread_mutex_t lock;
    bool lock_initialized;
    DeviceMappings maps;
    uint8_t id;
    uint8_t select;
    uint32_t lines;                   /* bit n: input n asserted */
    uint64_t rte[IOAPIC_NUM_PINS];
};

/* The MSI for entry `rte`, in the way Intel's IOAPICs do it: RTE bits 48..63
 * go to address bits 4..19 (destination id in 12..19 for compatibility
 * format; format bit 4 and handle 14..0 in 5..19 for remappable format) and
 * the destination mode (handle bit 15) to bit 2. */
static MSIMessage rte_to_msi(uint64_t rte)
{
    MSIMessage m;
    m.address = MSI_ADDR_BASE | ((rte >> RTE_DEST_IDX_SHIFT) & 0xffff) << MSI_ADDR_IDX_SHIFT |
                (uint64_t)((rte & RTE_DEST_MODE) != 0) << MSI_ADDR_DEST_MODE_SHIFT;
    m.data = (uint32_t)(rte & RTE_VECTOR) |
             (uint32_t)((rte >> RTE_DELIV_SHIFT) & RTE_DELIV_MASK) << MSI_DATA_DELIV_SHIFT;
    if (rte & RTE_LEVEL)
        m.data |= MSI_DATA_LEVEL;
    return m;
}

/* Sends pin's interrupt (lock held); true when it left. */
static bool deliver(IOAPIC *s, unsigned pin)
{
    uint64_t rte = s->rte[pin];
    unsigned mode = (unsigned)((rte >> RTE_DELIV_SHIFT) & RTE_DELIV_MASK);
    if (mode == DELIV_EXTINT || DELIV_RESERVED(mode)) {
        log_guest_error("IOAPIC: pin %u has delivery mode %u (%s), interrupt dropped", pin,
                        mode, mode == DELIV_EXTINT ? "ExtINT, but there is no PIC" : "reserved");
        return false;
    }
    MSIMessage msg = rte_to_msi(rte);
    return vm_send_msi(s->dev.vm, &msg, IRQ_IOAPIC_RID) == 0;
}

/* Delivers a level-triggered pin if it is asserted, unmasked and not waiting
 * for its EOI; sets remote IRR when it does. Lock held. */
static void service_level(IOAPIC *s, unsigned pin)
{
    uint64_t rte = s->rte[pin];
    if (!(s->lines & (1u << pin)) || (rte & (RTE_MASKED | RTE_REMOTE_IRR)))
        return;
    if (deliver(s, pin))
        s->rte[pin] |= RTE_REMOTE_IRR;
}

/* KVM learns from the pins' routes which vectors are level-triggered, and
 * reports their EOIs to us. A masked entry keeps its previous route (as QEMU
 * does): the route only tells KVM which EOIs to report, and masking is what
 * Linux does most with entries. */
static void update_route(IOAPIC *s, unsigned pin)
{
    if (s->rte[pin] & RTE_MASKED)
        return;
    MSIMessage msg = rte_to_msi(s->rte[pin]);
    irq_ioapic_route_set(s->dev.vm, pin, &msg);
}

int ioapic_set_irq(IOAPIC *s, unsigned pin, bool level)
{
    if (pin >= IOAPIC_NUM_PINS) {
        log_error("IOAPIC: a device drove line %u; there are %d", pin, IOAPIC_NUM_PINS);
        return -1;
    }
    uint32_t bit = 1u << pin;
    pthread_mutex_lock(&s->lock);
    bool was = s->lines & bit;
    s->lines = level ? s->lines | bit : s->lines & ~bit;
    if (s->rte[pin] & RTE_LEVEL)
        service_level(s, pin);
    else if (level && !was && !(s->rte[pin] & RTE_MASKED))
        deliver(s, pin);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void ioapic_eoi(IOAPIC *s, uint8_t vector)
{
    pthread_mutex_lock(&s->lock);
    for (unsigned pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
        uint64_t rte = s->rte[pin];
        if ((rte & RTE_VECTOR) != vector || !(rte & RTE_LEVEL) || !(rte & RTE_REMOTE_IRR))
            continue;
        s->rte[pin] &= ~RTE_REMOTE_IRR;
        service_level(s, pin);
    }
    pthread_mutex_unlock(&s->lock);
}

static uint32_t read_indirect(IOAPIC *s, uint8_t reg)
{
    switch (reg) {
    case IND_ID:
    case IND_ARB:
        return (uint32_t)s->id << 24;
    case IND_VERSION:
        return IOAPIC_VERSION | (IOAPIC_NUM_PINS - 1) << 16;
    }
    if (reg >= IND_REDTBL && reg < IND_REDTBL_END) {
        uint64_t rte = s->rte[(reg - IND_REDTBL) / 2];
        return (uint32_t)(reg & 1 ? rte >> 32 : rte);
    }
    log_guest_error("IOAPIC: read of register 0x%02x, which does not exist", reg);
    return 0;
}

static void write_rte(IOAPIC *s, unsigned pin, bool high, uint32_t val)
{
    uint64_t old = s->rte[pin], rte;
    if (high)
        rte = (old & 0xffffffffull) | (uint64_t)val << 32;
    else
        rte = (old & (0xffffffff00000000ull | RTE_RO_BITS)) | (val & ~(uint32_t)RTE_RO_BITS);
    /* Edge mode has no remote IRR; Linux clears a stuck one (IOAPICs without
     * the EOI register) by switching the entry to edge and back. */
    if (!(rte & RTE_LEVEL))
        rte &= ~RTE_REMOTE_IRR;
    s->rte[pin] = rte;
    update_route(s, pin);
    if (rte & RTE_LEVEL)
        service_level(s, pin);   /* unmasked with the line asserted */
}

static void write_indirect(IOAPIC *s, uint8_t reg, uint32_t val)
{
    if (reg == IND_ID) {
        s->id = (uint8_t)(val >> 24);
    } else if (reg >= IND_REDTBL && reg < IND_REDTBL_END) {
        write_rte(s, (reg - IND_REDTBL) / 2, reg & 1, val);
    } else if (reg != IND_VERSION && reg != IND_ARB) {   /* read-only ones: ignored */
        log_guest_error("IOAPIC: write of 0x%x to register 0x%02x, which does not exist",
                        val, reg);
    }
}

static MemTxResult ioapic_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    IOAPIC *s = opaque;
    (void)size;
    pthread_mutex_lock(&s->lock);
    if (addr == REG_SELECT)
        *data = s->select;
    else if (addr == REG_WINDOW)
        *data = read_indirect(s, s->select);
    else
        *data = 0;   /* EOI is write-only; the rest is unused */
    pthread_mutex_unlock(&s->lock);
    return MEMTX_OK;
}

static MemTxResult ioapic_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    IOAPIC *s = opaque;
    (void)size;
    if (addr == REG_EOI) {
        ioapic_eoi(s, (uint8_t)data);
        return MEMTX_OK;
    }
    pthread_mutex_lock(&s->lock);
    if (addr == REG_SELECT)
        s->select = (uint8_t)data;
    else if (addr == REG_WINDOW)
        write_indirect(s, s->select, (uint32_t)data);
    else
        log_guest_error("IOAPIC: write of 0x%x at offset 0x%llx, which has no register",
                        (unsigned)data, (unsigned long long)addr);
    pthread_mutex_unlock(&s->lock);
    return MEMTX_OK;
}

/* 32-bit registers; narrower accesses (some OSes write IOREGSEL as a byte) are
 * widened by the memory core. */
static const MemoryRegionOps ioapic_ops = {
    .read = ioapic_read,
    .write = ioapic_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static void ioapic_reset(Device *dev)
{
    IOAPIC *s = DEVICE_CAST(IOAPIC, dev);
    pthread_mutex_lock(&s->lock);
    s->id = (uint8_t)dev->vm->nr_vcpus;   /* the MADT's IOAPIC id */
    s->select = 0;
    for (unsigned pin = 0; pin < IOAPIC_NUM_PINS; pin++)
        s->rte[pin] = RTE_MASKED;
    pthread_mutex_unlock(&s->lock);
}

static int ioapic_realize(Device *dev)
{
    IOAPIC *s = DEVICE_CAST(IOAPIC, dev);
    struct vm *vm = dev->vm;
    if (vm->ioapic) {
        log_error("%s: the VM already has an IOAPIC", dev->id);
        return -1;
    }
    if (irq_routes_init(vm) < 0)
        return -1;
    pthread_mutex_init(&s->lock, NULL);
    ioapic_reset(dev);
    s->lock_initialized = true;
    if (devices_map_region(dev, &s->maps, vm->sysmem, IOAPIC_BASE,
                           memory_region_new_io("ioapic", IOAPIC_MMIO_SIZE, &ioapic_ops, s)))
        return -1;
    __atomic_store_n(&vm->ioapic, s, __ATOMIC_RELEASE);
    return 0;
}

static void ioapic_unrealize(Device *dev)
{
    IOAPIC *s = DEVICE_CAST(IOAPIC, dev);
    if (!s->lock_initialized)
        return;
    if (__atomic_load_n(&dev->vm->ioapic, __ATOMIC_ACQUIRE) == s)
        __atomic_store_n(&dev->vm->ioapic, NULL, __ATOMIC_RELEASE);
    devices_unmap_all(&s->maps);
    pthread_mutex_destroy(&s->lock);
}

static const DeviceClass ioapic_class = {
    .name = "ioapic",
    .instance_size = sizeof(IOAPIC),
    .realize = ioapic_realize,
    .reset = ioapic_reset,
    .unrealize = ioapic_unrealize,
};

IOAPIC *ioapic_create(struct vm *vm)
{
    Device *dev = device_new(vm, &ioapic_class, "ioapic");
    if (!dev || device_realize(dev) < 0)
        return NULL;
    return DEVICE_CAST(IOAPIC, dev);
}
