/* A 16550A UART on COM1 (ports 0x3f8-0x3ff, IRQ 4).
 *
 * The registers behave as on the chip, with a transmitter that is infinitely
 * fast: THR is empty again as soon as it is written, so THRE and TEMT are always
 * set and the THR-empty interrupt comes back after every write. The receiver
 * has the 16-byte FIFO (1 byte with FIFOs off). Below the FIFO trigger level,
 * received data is reported as a character timeout at once: there is no line
 * timing to wait for. The IRQ output is not gated by MCR.OUT2 (as in QEMU), so
 * simple guests need not set it.
 *
 * Output (cfg->serial): the terminal (stdout), a file, or nowhere. Bytes are
 * buffered and written on a newline, when the buffer is full, 10 ms after the
 * first unwritten byte, and at devices_cleanup().
 *
 * Input: only with --serial tty and stdin a terminal, which is then put in raw
 * mode (restored at exit and on fatal signals). An I/O thread reads it into a
 * 4 KiB input queue that feeds the receive FIFO as the guest makes room, so a
 * paste is not lost to overruns; only a guest that stops reading loses input.
 * The thread keeps reading, so Ctrl-A x always works: as in QEMU, it ends
 * minivmm (EXIT_POWEROFF), Ctrl-A Ctrl-A sends one Ctrl-A, and any other key
 * after Ctrl-A is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/devices.h"
#include "devices/internal.h"
#include "util/log.h"

#define COM1_BASE        0x3f8
#define COM1_IRQ         4
#define NR_REGS          8
#define RX_FIFO_SIZE     16
#define OUT_BUF_SIZE     256
#define IN_BUF_SIZE      4096
#define OUT_FLUSH_NS     10000000ull   /* 10 ms */
#define CTRL_A           0x01

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

struct serial {
    struct vm *vm;
    bool active;

    uint8_t ier, lcr, mcr, msr, scr, fcr;
    uint8_t lsr_errors;
    uint16_t divisor;
    bool thr_ipending;
    bool irq_level;
    uint8_t rx_fifo[RX_FIFO_SIZE];
    unsigned rx_head, rx_count;
    uint8_t rbr;              /* last byte read: RBR keeps it once the FIFO is empty */

    int out_fd;               /* -1: output discarded */
    bool out_fd_owned;
    char out_buf[OUT_BUF_SIZE];
    size_t out_len;
    uint64_t out_since_ns;    /* when out_buf became non-empty */

    /* The I/O thread; all fields here but `stopping` are under the big lock. */
    bool thread_started;
    pthread_t thread;
    int wake_fd;              /* eventfd: new output, or stop */
    bool stopping;            /* atomic */
    bool stdin_active;
    bool escape_pending;      /* Ctrl-A seen */
    uint8_t in_buf[IN_BUF_SIZE];  /* typed bytes waiting for room in the FIFO */
    unsigned in_head, in_len;
};

static struct serial com1 = { .out_fd = -1, .wake_fd = -1 };

/* ---- output ---------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wake_thread(struct serial *s)
{
    if (s->wake_fd >= 0)
        eventfd_write(s->wake_fd, 1);
}

static void flush_output(struct serial *s)
{
    size_t done = 0;
    while (s->out_fd >= 0 && done < s->out_len) {
        ssize_t n = write(s->out_fd, s->out_buf + done, s->out_len - done);
        if (n >= 0) {
            done += (size_t)n;
        } else if (errno == EAGAIN) {
            struct pollfd pfd = { .fd = s->out_fd, .events = POLLOUT };
            poll(&pfd, 1, -1);
        } else if (errno != EINTR) {
            log_error("serial output: %s; discarding the rest", strerror(errno));
            if (s->out_fd_owned)
                close(s->out_fd);
            s->out_fd = -1;
        }
    }
    s->out_len = 0;
}

static void output_byte(struct serial *s, uint8_t c)
{
    if (s->out_fd < 0)
        return;
    s->out_buf[s->out_len++] = (char)c;
    if (c == '\n' || s->out_len == OUT_BUF_SIZE) {
        flush_output(s);
    } else if (s->out_len == 1) {
        s->out_since_ns = now_ns();
        wake_thread(s);   /* it flushes this within 10 ms */
    }
}

/* ---- registers ------------------------------------------------------------- */

static bool fifo_enabled(const struct serial *s)
{
    return s->fcr & FCR_ENABLE;
}

static unsigned rx_capacity(const struct serial *s)
{
    return fifo_enabled(s) ? RX_FIFO_SIZE : 1;
}

/* Room for bytes from the terminal: none in loopback, where the chip
 * disconnects its serial input. */
static unsigned rx_room(const struct serial *s)
{
    return (s->mcr & MCR_LOOP) ? 0 : rx_capacity(s) - s->rx_count;
}

static void rx_clear(struct serial *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
}

static void rx_push(struct serial *s, uint8_t c)
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

static uint8_t rx_pop(struct serial *s)
{
    if (s->rx_count) {
        s->rbr = s->rx_fifo[s->rx_head];
        s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
        s->rx_count--;
    }
    return s->rbr;
}

static unsigned rx_trigger_level(const struct serial *s)
{
    static const unsigned levels[4] = { 1, 4, 8, 14 };
    return fifo_enabled(s) ? levels[(s->fcr & FCR_TRIGGER) >> 6] : 1;
}

/* The highest-priority pending interrupt, as IIR bits 0-3. */
static uint8_t pending_interrupt(const struct serial *s)
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

/* Called after every state change: moves queued input into the FIFO as far as
 * it has room, then drives the IRQ line (on changes only). */
static void serial_update(struct serial *s)
{
    while (s->in_len && rx_room(s)) {
        rx_push(s, s->in_buf[s->in_head]);
        s->in_head = (s->in_head + 1) % IN_BUF_SIZE;
        s->in_len--;
    }
    bool level = pending_interrupt(s) != IIR_NO_INT;
    if (level != s->irq_level) {
        s->irq_level = level;
        vm_set_irq_line(s->vm, COM1_IRQ, level);
    }
}

/* Modem status inputs: in loopback, MCR's outputs wired back as on the chip;
 * otherwise a peer that is always there (DCD, DSR, CTS). */
static uint8_t modem_inputs(const struct serial *s)
{
    if (!(s->mcr & MCR_LOOP))
        return MSR_DCD | MSR_DSR | MSR_CTS;
    return ((s->mcr & MCR_DTR) ? MSR_DSR : 0) | ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
           ((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
}

static void set_modem_inputs(struct serial *s, uint8_t now)
{
    uint8_t old = s->msr & ~MSR_DELTAS;
    /* Each delta bit sits 4 below its input; RI reports its trailing edge only. */
    uint8_t deltas = (((old ^ now) & ~MSR_RI) | (old & ~now & MSR_RI)) >> 4;
    s->msr = now | (s->msr & MSR_DELTAS) | deltas;
}

static uint8_t read_lsr(struct serial *s)
{
    uint8_t val = s->lsr_errors | LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
    s->lsr_errors = 0;
    return val;
}

static uint8_t read_iir(struct serial *s)
{
    uint8_t id = pending_interrupt(s);
    if (id == IIR_THRI)
        s->thr_ipending = false;   /* reading IIR acknowledges THR empty */
    return id | (fifo_enabled(s) ? IIR_FIFO : 0);
}

static uint8_t read_msr(struct serial *s)
{
    uint8_t val = s->msr;
    s->msr &= ~MSR_DELTAS;
    return val;
}

static MemTxResult serial_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    struct serial *s = opaque;
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

static void write_thr(struct serial *s, uint8_t val)
{
    if (s->mcr & MCR_LOOP)
        rx_push(s, val);
    else
        output_byte(s, val);
    /* Sent at once: THR is empty again, which raises THRE anew. */
    s->thr_ipending = true;
}

static void write_ier(struct serial *s, uint8_t val)
{
    uint8_t enabled = (uint8_t)(val & ~s->ier);
    s->ier = val & IER_MASK;
    /* As on the 16550A, enabling the THRE interrupt while THR is empty (it
     * always is) raises it; Linux's 8250 driver relies on that. */
    if (enabled & IER_THRI)
        s->thr_ipending = true;
}

static void write_fcr(struct serial *s, uint8_t val)
{
    /* Switching the FIFOs on or off clears them; the other bits only count
     * with the FIFOs on. The transmit FIFO is always empty. */
    if ((val & FCR_ENABLE) != (s->fcr & FCR_ENABLE) || (val & FCR_CLEAR_RX))
        rx_clear(s);
    s->fcr = (val & FCR_ENABLE) ? (val & (FCR_ENABLE | FCR_TRIGGER)) : 0;
}

static MemTxResult serial_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    struct serial *s = opaque;
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
        log_guest_error("serial: write 0x%x to read-only register %u ignored",
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

/* ---- the I/O thread -------------------------------------------------------- */

/* Queues bytes from the terminal for the receiver (big lock held); returns
 * whether the user asked to quit. */
static bool receive_input(struct serial *s, const uint8_t *buf, size_t len)
{
    bool quit = false;
    size_t dropped = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];
        if (s->escape_pending) {
            s->escape_pending = false;
            if (c == 'x' || c == 'X')
                quit = true;
            if (c != CTRL_A)
                continue;
        } else if (c == CTRL_A) {
            s->escape_pending = true;
            continue;
        }
        if (s->in_len == IN_BUF_SIZE) {
            dropped++;
            continue;
        }
        s->in_buf[(s->in_head + s->in_len++) % IN_BUF_SIZE] = c;
    }
    if (dropped)
        log_guest_error("serial: the guest is not reading its input; %zu bytes dropped",
                        dropped);
    serial_update(s);
    return quit;
}

static void read_terminal(struct serial *s)
{
    uint8_t buf[256];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;

    memory_bql_lock();
    bool quit = false;
    if (n > 0) {
        quit = receive_input(s, buf, (size_t)n);
    } else {
        if (n < 0)
            log_error("serial input: %s", strerror(errno));
        s->stdin_active = false;   /* end of input: the guest sees none */
    }
    memory_bql_unlock();
    /* Outside the big lock: vm_request_exit takes the VM's own locks. */
    if (quit)
        vm_request_exit(s->vm, EXIT_POWEROFF);
}

static void *serial_io_thread(void *opaque)
{
    struct serial *s = opaque;
    while (!__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) {
        memory_bql_lock();
        uint64_t now = now_ns();
        if (s->out_len && now - s->out_since_ns >= OUT_FLUSH_NS)
            flush_output(s);
        int timeout_ms = -1;
        if (s->out_len)
            timeout_ms = (int)((s->out_since_ns + OUT_FLUSH_NS - now + 999999) / 1000000);
        bool input = s->stdin_active;
        memory_bql_unlock();

        struct pollfd fds[2] = {
            { .fd = s->wake_fd, .events = POLLIN },
            { .fd = STDIN_FILENO, .events = POLLIN },
        };
        int n = poll(fds, input ? 2 : 1, timeout_ms);
        if (n < 0 && errno != EINTR) {
            log_error("serial: poll: %s", strerror(errno));
            break;
        }
        if (n > 0 && (fds[0].revents & POLLIN)) {
            eventfd_t count;
            eventfd_read(s->wake_fd, &count);
        }
        if (n > 0 && input && fds[1].revents)
            read_terminal(s);
    }
    return NULL;
}

static int start_io_thread(struct serial *s)
{
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        log_error("serial: eventfd: %s", strerror(errno));
        return -1;
    }
    int err = pthread_create(&s->thread, NULL, serial_io_thread, s);
    if (err) {
        log_error("serial: cannot start its thread: %s", strerror(err));
        close(s->wake_fd);
        s->wake_fd = -1;
        return -1;
    }
    s->thread_started = true;
    return 0;
}

/* ---- init and cleanup ------------------------------------------------------ */

int serial_init(struct vm *vm, const struct vm_config *cfg)
{
    struct serial *s = &com1;
    if (s->active) {
        log_error("serial: COM1 is already set up");
        return -1;
    }
    *s = (struct serial){
        .vm = vm,
        .msr = MSR_DCD | MSR_DSR | MSR_CTS,
        .divisor = 12,            /* 9600 baud, as QEMU resets it */
        .out_fd = -1,
        .wake_fd = -1,
    };

    switch (cfg->serial) {
    case SERIAL_TTY:
        s->out_fd = STDOUT_FILENO;
        break;
    case SERIAL_FILE:
        s->out_fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (s->out_fd < 0) {
            log_error("--serial file=%s: %s", cfg->serial_path, strerror(errno));
            return -1;
        }
        s->out_fd_owned = true;
        break;
    case SERIAL_OFF:
        break;
    }
    if (s->out_fd >= 0) {
        if (cfg->serial == SERIAL_TTY && isatty(STDIN_FILENO)) {
            terminal_enter_raw_mode();
            s->stdin_active = true;
        }
        if (start_io_thread(s) < 0) {
            serial_cleanup();
            return -1;
        }
    }
    s->active = true;
    devices_map_region(vm->sysio, COM1_BASE,
                       memory_region_new_io("serial", NR_REGS, &serial_ops, s));
    return 0;
}

void serial_cleanup(void)
{
    struct serial *s = &com1;
    if (s->thread_started) {
        __atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
        wake_thread(s);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
    /* The registers stay usable (output discarded) should a late access come. */
    memory_bql_lock();
    flush_output(s);
    if (s->out_fd_owned && s->out_fd >= 0)
        close(s->out_fd);
    s->out_fd = -1;
    s->out_fd_owned = false;
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    s->wake_fd = -1;
    s->stdin_active = false;
    s->active = false;
    memory_bql_unlock();
    terminal_restore();
}
