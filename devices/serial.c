/* A 16550A UART as COM1-COM4 (ports 0x3f8, 0x2f8, 0x3e8, 0x2e8; IRQs 4, 3, 4, 3):
 * its registers and its device instance; the host side (output, the terminal)
 * is serial_io.c.
 *
 * The registers behave as on the chip, with a transmitter that is infinitely
 * fast: THR is empty again as soon as it is written, so THRE and TEMT are always
 * set and the THR-empty interrupt comes back after every write. The receiver
 * has the 16-byte FIFO (1 byte with FIFOs off). Below the FIFO trigger level,
 * received data is reported as a character timeout at once: there is no line
 * timing to wait for. The IRQ output is not gated by MCR.OUT2 (as in QEMU), so
 * simple guests need not set it. COM3 and COM4 share COM1's and COM2's IRQ
 * lines as on PCs: a line is high while any UART on it asks for an interrupt.
 */
#include <glib.h>
#include <string.h>

#include "devices/devices.h"
#include "devices/serial.h"
#include "util/log.h"

#define NR_REGS          8
#define RX_FIFO_SIZE     SERIAL_RX_FIFO_SIZE
#define IN_BUF_SIZE      SERIAL_IN_BUF_SIZE

enum { REG_RBR_THR, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };
#define REG_DLL REG_RBR_THR   /* with LCR.DLAB */
#define REG_DLM REG_IER

#define IER_RDI      0x01   /* received data available */
#define IER_THRI     0x02   /* THR empty */
#define IER_RLSI     0x04   /* receiver line status */
#define IER_MSI      0x08   /* modem status */
#define IER_MASK     0x0f

#define IIR_NO_INT   0x01
#define IIR_MSI      0x00
#define IIR_THRI     0x02
#define IIR_RDI      0x04
#define IIR_RLSI     0x06
#define IIR_CTI      0x0c   /* character timeout (FIFO mode) */
#define IIR_FIFO     0xc0   /* FIFOs enabled */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_TRIGGER  0xc0

#define LCR_DLAB     0x80

#define MCR_DTR      0x01
#define MCR_RTS      0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define MCR_MASK     0x1f

#define LSR_DR       0x01
#define LSR_OE       0x02
#define LSR_ERRORS   0x1e   /* OE, PE, FE, BI: cleared by reading LSR */
#define LSR_THRE     0x20
#define LSR_TEMT     0x40

#define MSR_DELTAS   0x0f   /* DCTS, DDSR, TERI, DDCD: cleared by reading MSR */
#define MSR_CTS      0x10
#define MSR_DSR      0x20
#define MSR_RI       0x40
#define MSR_DCD      0x80

/* ---- registers ------------------------------------------------------------- */

static bool fifo_enabled(const SerialState *s)
{
    return s->fcr & FCR_ENABLE;
}

static unsigned rx_capacity(const SerialState *s)
{
    return fifo_enabled(s) ? RX_FIFO_SIZE : 1;
}

/* Room for bytes from the terminal: none in loopback, where the chip
 * disconnects its serial input. */
static unsigned rx_room(const SerialState *s)
{
    return (s->mcr & MCR_LOOP) ? 0 : rx_capacity(s) - s->rx_count;
}

static void rx_clear(SerialState *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
}

static void rx_push(SerialState *s, uint8_t c)
{
    if (s->rx_count < rx_capacity(s)) {
        s->rx_fifo[(s->rx_head + s->rx_count++) % RX_FIFO_SIZE] = c;
        return;
    }
    /* Overrun: a full FIFO loses the new byte; without FIFOs it overwrites RBR. */
    s->lsr_errors |= LSR_OE;
    if (!fifo_enabled(s))
        s->rx_fifo[s->rx_head] = c;
}

static uint8_t rx_pop(SerialState *s)
{
    if (s->rx_count) {
        s->rbr = s->rx_fifo[s->rx_head];
        s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
        s->rx_count--;
    }
    return s->rbr;
}

static unsigned rx_trigger_level(const SerialState *s)
{
    static const unsigned levels[4] = { 1, 4, 8, 14 };
    return fifo_enabled(s) ? levels[(s->fcr & FCR_TRIGGER) >> 6] : 1;
}

/* The highest-priority pending interrupt, as IIR bits 0-3. */
static uint8_t pending_interrupt(const SerialState *s)
{
    if ((s->ier & IER_RLSI) && (s->lsr_errors & LSR_ERRORS))
        return IIR_RLSI;
    if ((s->ier & IER_RDI) && s->rx_count)
        return s->rx_count >= rx_trigger_level(s) ? IIR_RDI : IIR_CTI;
    if ((s->ier & IER_THRI) && s->thr_ipending)
        return IIR_THRI;
    if ((s->ier & IER_MSI) && (s->msr & MSR_DELTAS))
        return IIR_MSI;
    return IIR_NO_INT;
}

static const DeviceClass serial_class;

/* Whether any UART on `irq` asks for an interrupt: COM3/COM4 share lines. */
static bool irq_line_wanted(struct vm *vm, unsigned irq)
{
    for (Device *d = vm->devices; d; d = d->next) {
        const SerialState *s = d->cls == &serial_class ? DEVICE_CAST(SerialState, d) : NULL;
        if (s && d->realized && s->irq == irq && s->irq_level)
            return true;
    }
    return false;
}

/* Called after every state change: moves queued input into the FIFO as far as
 * it has room, then drives the IRQ line (on changes only). */
void serial_update(SerialState *s)
{
    while (s->in_len && rx_room(s)) {
        rx_push(s, s->in_buf[s->in_head]);
        s->in_head = (s->in_head + 1) % IN_BUF_SIZE;
        s->in_len--;
    }
    bool level = pending_interrupt(s) != IIR_NO_INT;
    if (level != s->irq_level) {
        s->irq_level = level;
        vm_set_irq_line(s->dev.vm, s->irq, level || irq_line_wanted(s->dev.vm, s->irq));
    }
}

/* Modem status inputs: in loopback, MCR's outputs wired back as on the chip;
 * otherwise a peer that is always there (DCD, DSR, CTS). */
static uint8_t modem_inputs(const SerialState *s)
{
    if (!(s->mcr & MCR_LOOP))
        return MSR_DCD | MSR_DSR | MSR_CTS;
    return ((s->mcr & MCR_DTR) ? MSR_DSR : 0) | ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
           ((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
}

static void set_modem_inputs(SerialState *s, uint8_t now)
{
    uint8_t old = s->msr & ~MSR_DELTAS;
    /* Each delta bit sits 4 below its input; RI reports its trailing edge only. */
    uint8_t deltas = (((old ^ now) & ~MSR_RI) | (old & ~now & MSR_RI)) >> 4;
    s->msr = now | (s->msr & MSR_DELTAS) | deltas;
}

static uint8_t read_lsr(SerialState *s)
{
    uint8_t val = s->lsr_errors | LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
    s->lsr_errors = 0;
    return val;
}

static uint8_t read_iir(SerialState *s)
{
    uint8_t id = pending_interrupt(s);
    if (id == IIR_THRI)
        s->thr_ipending = false;   /* reading IIR acknowledges THR empty */
    return id | (fifo_enabled(s) ? IIR_FIFO : 0);
}

static uint8_t read_msr(SerialState *s)
{
    uint8_t val = s->msr;
    s->msr &= ~MSR_DELTAS;
    return val;
}

static MemTxResult serial_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    SerialState *s = opaque;
    bool dlab = s->lcr & LCR_DLAB;
    (void)size;

    switch (addr) {
    case REG_RBR_THR:
        *data = dlab ? (s->divisor & 0xff) : rx_pop(s);
        break;
    case REG_IER:
        *data = dlab ? (s->divisor >> 8) : s->ier;
        break;
    case REG_IIR_FCR:
        *data = read_iir(s);
        break;
    case REG_LCR:
        *data = s->lcr;
        break;
    case REG_MCR:
        *data = s->mcr;
        break;
    case REG_LSR:
        *data = read_lsr(s);
        break;
    case REG_MSR:
        *data = read_msr(s);
        break;
    default:
        *data = s->scr;
        break;
    }
    serial_update(s);
    return MEMTX_OK;
}

static void write_thr(SerialState *s, uint8_t val)
{
    if (s->mcr & MCR_LOOP)
        rx_push(s, val);
    else
        serial_output_byte(s, val);
    /* Sent at once: THR is empty again, which raises THRE anew. */
    s->thr_ipending = true;
}

static void write_ier(SerialState *s, uint8_t val)
{
    uint8_t enabled = (uint8_t)(val & ~s->ier);
    s->ier = val & IER_MASK;
    /* As on the 16550A, enabling the THRE interrupt while THR is empty (it
     * always is) raises it; Linux's 8250 driver relies on that. */
    if (enabled & IER_THRI)
        s->thr_ipending = true;
}

static void write_fcr(SerialState *s, uint8_t val)
{
    /* Switching the FIFOs on or off clears them; the other bits only count
     * with the FIFOs on. The transmit FIFO is always empty. */
    if ((val & FCR_ENABLE) != (s->fcr & FCR_ENABLE) || (val & FCR_CLEAR_RX))
        rx_clear(s);
    s->fcr = (val & FCR_ENABLE) ? (val & (FCR_ENABLE | FCR_TRIGGER)) : 0;
}

static MemTxResult serial_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    SerialState *s = opaque;
    bool dlab = s->lcr & LCR_DLAB;
    uint8_t val = (uint8_t)data;
    (void)size;

    switch (addr) {
    case REG_RBR_THR:
        if (dlab)
            s->divisor = (uint16_t)((s->divisor & 0xff00) | val);
        else
            write_thr(s, val);
        break;
    case REG_IER:
        if (dlab)
            s->divisor = (uint16_t)((s->divisor & 0x00ff) | (val << 8));
        else
            write_ier(s, val);
        break;
    case REG_IIR_FCR:
        write_fcr(s, val);
        break;
    case REG_LCR:
        s->lcr = val;
        break;
    case REG_MCR:
        s->mcr = val & MCR_MASK;
        set_modem_inputs(s, modem_inputs(s));
        break;
    case REG_LSR:
    case REG_MSR:
        /* Read-only (LSR writes are a factory test mode on the chip). */
        log_guest_error("%s: write 0x%x to read-only register %u ignored", s->dev.id,
                        val, (unsigned)addr);
        break;
    default:
        s->scr = val;
        break;
    }
    serial_update(s);
    return MEMTX_OK;
}

/* Byte registers; wider guest accesses are split by the bus, as on ISA. */
static const MemoryRegionOps serial_ops = {
    .read = serial_read,
    .write = serial_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

/* ---- the device -------------------------------------------------------------- */

static const uint16_t com_base[VM_SERIAL_PORTS] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
static const uint8_t com_irq[VM_SERIAL_PORTS] = { 4, 3, 4, 3 };

/* Power-on register state, as QEMU resets it; queued input and output stay. */
static void serial_reset(Device *dev)
{
    SerialState *s = DEVICE_CAST(SerialState, dev);
    s->ier = s->lcr = s->mcr = s->scr = s->fcr = s->lsr_errors = 0;
    s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
    s->divisor = 12;            /* 9600 baud */
    s->thr_ipending = false;
    s->rbr = 0;
    rx_clear(s);
    if (s->irq_level) {
        s->irq_level = false;
        vm_set_irq_line(dev->vm, s->irq, irq_line_wanted(dev->vm, s->irq));
    }
}

static int serial_realize(Device *dev)
{
    SerialState *s = DEVICE_CAST(SerialState, dev);
    serial_reset(dev);
    if (serial_io_start(s) < 0)
        return -1;
    char *name = g_strdup_printf("serial-%s", dev->id);
    MemoryRegion *mr = memory_region_new_io(name, NR_REGS, &serial_ops, s);
    g_free(name);
    return devices_map_region(dev, &s->maps, dev->vm->sysio, s->base, mr);
}

static void serial_flush(Device *dev)
{
    serial_io_flush(DEVICE_CAST(SerialState, dev));
}

static void serial_unrealize(Device *dev)
{
    SerialState *s = DEVICE_CAST(SerialState, dev);
    serial_io_stop(s);
    devices_unmap_all(&s->maps);
    g_free(s->path);
    s->path = NULL;
}

static const DeviceClass serial_class = {
    .name = "serial",
    .instance_size = sizeof(SerialState),
    .realize = serial_realize,
    .reset = serial_reset,
    .flush = serial_flush,
    .unrealize = serial_unrealize,
};

Device *serial_new(struct vm *vm, unsigned com, enum serial_mode mode, const char *path)
{
    if (com < 1 || com > VM_SERIAL_PORTS) {
        log_error("serial: there is no COM%u (1..%u)", com, VM_SERIAL_PORTS);
        return NULL;
    }
    char id[8];
    snprintf(id, sizeof(id), "com%u", com);
    Device *dev = device_new(vm, &serial_class, id);
    if (!dev)
        return NULL;
    SerialState *s = DEVICE_CAST(SerialState, dev);
    s->com = com;
    s->base = com_base[com - 1];
    s->irq = com_irq[com - 1];
    s->mode = mode;
    s->path = g_strdup(path);
    s->out_fd = -1;
    s->wake_fd = -1;
    return dev;
}
