/* The 16550A as device instances (COM1, and several at once), driven through
 * the I/O address space as a vCPU would, on fake VMs (no KVM). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/devices.h"
#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"

#define COM1 0x3f8
enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };
#define IRQ 4

struct uart_test {
    struct fake_vm f;
    char path[64];
};

static uint8_t rd(struct uart_test *t, unsigned reg)
{
    MemTxResult res;
    uint8_t v = address_space_ldub(t->f.vm.as_io, COM1 + reg, &res);
    CHECK_EQ(res, MEMTX_OK);
    return v;
}

static void wr(struct uart_test *t, unsigned reg, uint8_t val)
{
    CHECK_EQ(address_space_stb(t->f.vm.as_io, COM1 + reg, val), MEMTX_OK);
}

/* A UART writing to a fresh temporary file. */
static bool setup(struct uart_test *t)
{
    fake_vm_init(&t->f);
    strcpy(t->path, "/tmp/minivmm-test-serial-XXXXXX");
    int fd = mkstemp(t->path);
    if (fd < 0)
        return false;
    close(fd);
    Device *com1 = serial_new(&t->f.vm, 1, SERIAL_FILE, t->path);
    return com1 && device_realize(com1) == 0;
}

/* Destroys the VM with its devices (which writes out the rest of the output). */
static void teardown_keep_file(struct uart_test *t)
{
    fake_vm_destroy(&t->f);
}

static void teardown(struct uart_test *t)
{
    teardown_keep_file(t);
    unlink(t->path);
}

static size_t file_contents(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* Whether `path` holds exactly `want` within 2 s (the I/O thread writes it). */
static bool file_becomes(const char *path, const char *want)
{
    char buf[4096];
    for (int i = 0; i < 400; i++) {
        file_contents(path, buf, sizeof(buf));
        if (!strcmp(buf, want))
            return true;
        sleep_ms(5);
    }
    fprintf(stderr, "  %s holds \"%s\", expected \"%s\"\n", path, buf, want);
    return false;
}

TEST(serial_reset_state)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    CHECK_EQ(rd(&t, IER), 0);
    CHECK_EQ(rd(&t, IIR), 0x01);
    CHECK_EQ(rd(&t, LCR), 0);
    CHECK_EQ(rd(&t, MCR), 0);
    CHECK_EQ(rd(&t, LSR), 0x60);      /* THRE | TEMT */
    CHECK_EQ(rd(&t, MSR), 0xb0);      /* DCD | DSR | CTS, no deltas */
    CHECK_EQ(t.f.irq_calls[IRQ], 0);
    teardown(&t);
}

TEST(serial_output_reaches_file)
{
    struct uart_test t;
    char buf[256];
    REQUIRE(setup(&t));
    for (const char *p = "hello\n"; *p; p++)
        wr(&t, THR, (uint8_t)*p);
    /* A newline is written out without waiting for more. */
    CHECK(file_becomes(t.path, "hello\n"));
    wr(&t, THR, 'a');
    wr(&t, THR, 'b');
    CHECK_EQ(rd(&t, LSR) & 0x60, 0x60);   /* sent at once */
    vm_devices_destroy(&t.f.vm);          /* writes out the rest */
    file_contents(t.path, buf, sizeof(buf));
    CHECK(!strcmp(buf, "hello\nab"));
    teardown(&t);
}

TEST(serial_output_flushed_when_idle)
{
    struct uart_test t;
    char buf[64] = "";
    REQUIRE(setup(&t));
    wr(&t, THR, '$');
    wr(&t, THR, ' ');
    for (int i = 0; i < 200 && file_contents(t.path, buf, sizeof(buf)) < 2; i++)
        sleep_ms(5);
    CHECK(!strcmp(buf, "$ "));
    teardown(&t);
}

TEST(serial_long_line_flushed_when_buffer_full)
{
    struct uart_test t;
    static char buf[2048];
    REQUIRE(setup(&t));
    for (int i = 0; i < 1000; i++)
        wr(&t, THR, (uint8_t)('a' + i % 26));
    vm_devices_destroy(&t.f.vm);
    CHECK_EQ(file_contents(t.path, buf, sizeof(buf)), 1000);
    CHECK_EQ(buf[999], 'a' + 999 % 26);
    teardown(&t);
}

TEST(serial_thre_interrupt)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    /* Enabling it with THR empty raises it. */
    wr(&t, IER, 0x02);
    CHECK_EQ(t.f.irq_level[IRQ], 1);
    CHECK_EQ(t.f.irq_calls[IRQ], 1);
    CHECK_EQ(rd(&t, IIR), 0x02);
    /* Reading IIR with THRE as the source acknowledges it. */
    CHECK_EQ(t.f.irq_level[IRQ], 0);
    CHECK_EQ(rd(&t, IIR), 0x01);
    CHECK_EQ(t.f.irq_calls[IRQ], 2);
    /* Each THR write empties at once and raises it again. */
    wr(&t, THR, 'x');
    CHECK_EQ(t.f.irq_level[IRQ], 1);
    wr(&t, THR, 'y');
    CHECK_EQ(t.f.irq_calls[IRQ], 3);      /* changes only */
    CHECK_EQ(rd(&t, IIR), 0x02);
    CHECK_EQ(rd(&t, IIR), 0x01);
    /* Disabling the source lowers the line; re-enabling raises it. */
    wr(&t, THR, 'z');
    CHECK_EQ(t.f.irq_level[IRQ], 1);
    wr(&t, IER, 0);
    CHECK_EQ(t.f.irq_level[IRQ], 0);
    CHECK_EQ(rd(&t, IIR), 0x01);
    wr(&t, IER, 0x02);
    CHECK_EQ(t.f.irq_level[IRQ], 1);
    teardown(&t);
}

TEST(serial_ier_and_scratch)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    wr(&t, IER, 0xff);
    CHECK_EQ(rd(&t, IER), 0x0f);
    wr(&t, IER, 0);
    wr(&t, SCR, 0x5a);
    CHECK_EQ(rd(&t, SCR), 0x5a);
    /* LSR and MSR are read-only. */
    wr(&t, LSR, 0);
    wr(&t, MSR, 0);
    CHECK_EQ(rd(&t, LSR), 0x60);
    CHECK_EQ(rd(&t, MSR), 0xb0);
    teardown(&t);
}

TEST(serial_fifo_bits)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    CHECK_EQ(rd(&t, IIR), 0x01);
    wr(&t, FCR, 0x07);                    /* enable, clear RX and TX */
    CHECK_EQ(rd(&t, IIR), 0xc1);
    wr(&t, IER, 0x02);
    CHECK_EQ(rd(&t, IIR), 0xc2);
    CHECK_EQ(rd(&t, IIR), 0xc1);
    wr(&t, FCR, 0);
    CHECK_EQ(rd(&t, IIR), 0x01);
    teardown(&t);
}

TEST(serial_dlab_latch)
{
    struct uart_test t;
    char buf[16];
    REQUIRE(setup(&t));
    wr(&t, IER, 0x05);
    wr(&t, LCR, 0x83);
    CHECK_EQ(rd(&t, DLL), 12);            /* 9600 baud after reset */
    CHECK_EQ(rd(&t, DLM), 0);
    wr(&t, DLL, 0x01);
    wr(&t, DLM, 0x02);
    CHECK_EQ(rd(&t, DLL), 0x01);
    CHECK_EQ(rd(&t, DLM), 0x02);
    /* A 16-bit write is split by the bus into DLL and DLM. */
    CHECK_EQ(address_space_stw_le(t.f.vm.as_io, COM1 + DLL, 0x0403), MEMTX_OK);
    CHECK_EQ(rd(&t, DLL), 0x03);
    CHECK_EQ(rd(&t, DLM), 0x04);
    wr(&t, LCR, 0x03);
    CHECK_EQ(rd(&t, LCR), 0x03);
    CHECK_EQ(rd(&t, IER), 0x05);          /* untouched by the latch writes */
    wr(&t, THR, 'k');
    vm_devices_destroy(&t.f.vm);
    file_contents(t.path, buf, sizeof(buf));
    CHECK(!strcmp(buf, "k"));             /* only the THR write was output */
    teardown(&t);
}

TEST(serial_loopback_receive)
{
    struct uart_test t;
    char buf[16];
    REQUIRE(setup(&t));
    wr(&t, MCR, 0x10);
    wr(&t, IER, 0x01);
    CHECK_EQ(t.f.irq_level[IRQ], 0);
    wr(&t, THR, 'A');
    CHECK_EQ(rd(&t, LSR), 0x61);          /* DR */
    CHECK_EQ(t.f.irq_level[IRQ], 1);
    CHECK_EQ(rd(&t, IIR), 0x04);          /* received data */
    CHECK_EQ(rd(&t, RBR), 'A');
    CHECK_EQ(rd(&t, LSR), 0x60);
    CHECK_EQ(t.f.irq_level[IRQ], 0);
    CHECK_EQ(rd(&t, IIR), 0x01);
    vm_devices_destroy(&t.f.vm);
    CHECK_EQ(file_contents(t.path, buf, sizeof(buf)), 0);   /* nothing on the line */
    teardown(&t);
}

TEST(serial_loopback_modem_lines)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    /* Linux's probe: loopback with RTS and OUT2 must read back CTS and DCD. */
    wr(&t, MCR, 0x10 | 0x0a);
    CHECK_EQ(rd(&t, MSR) & 0xf0, 0x90);
    wr(&t, MCR, 0x10 | 0x01 | 0x04);      /* DTR -> DSR, OUT1 -> RI */
    CHECK_EQ(rd(&t, MSR), 0x60 | 0x0b);  /* DCTS, DDSR, DDCD */
    CHECK_EQ(rd(&t, MSR), 0x60);          /* deltas cleared by the read */
    wr(&t, IER, 0x08);
    wr(&t, MCR, 0x10 | 0x01);             /* RI falls: trailing edge */
    CHECK_EQ(t.f.irq_level[IRQ], 1);
    CHECK_EQ(rd(&t, IIR), 0x00);          /* modem status */
    CHECK_EQ(rd(&t, MSR), 0x20 | 0x04);
    CHECK_EQ(rd(&t, IIR), 0x01);
    CHECK_EQ(t.f.irq_level[IRQ], 0);
    wr(&t, IER, 0);
    wr(&t, MCR, 0);                       /* the peer is back: DCD, DSR, CTS */
    CHECK_EQ(rd(&t, MSR), 0xb0 | 0x01 | 0x08);
    teardown(&t);
}

TEST(serial_fifo_trigger_level)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    wr(&t, FCR, 0x41);                    /* FIFOs on, trigger at 4 bytes */
    wr(&t, MCR, 0x10);
    wr(&t, IER, 0x01);
    wr(&t, THR, '1');
    wr(&t, THR, '2');
    CHECK_EQ(rd(&t, IIR), 0xcc);          /* below the trigger: timeout */
    wr(&t, THR, '3');
    wr(&t, THR, '4');
    CHECK_EQ(rd(&t, IIR), 0xc4);
    CHECK_EQ(rd(&t, RBR), '1');
    CHECK_EQ(rd(&t, IIR), 0xcc);
    wr(&t, FCR, 0x43);                    /* clear RX */
    CHECK_EQ(rd(&t, LSR), 0x60);
    CHECK_EQ(rd(&t, IIR), 0xc1);
    CHECK_EQ(t.f.irq_level[IRQ], 0);
    teardown(&t);
}

TEST(serial_overrun_with_fifo)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    wr(&t, FCR, 0x01);
    wr(&t, MCR, 0x10);
    wr(&t, IER, 0x05);
    for (int i = 0; i < 17; i++)
        wr(&t, THR, (uint8_t)('a' + i));
    CHECK_EQ(rd(&t, IIR), 0xc6);          /* line status beats received data */
    CHECK_EQ(rd(&t, LSR), 0x63);          /* DR | OE */
    CHECK_EQ(rd(&t, LSR), 0x61);          /* OE cleared by the read */
    CHECK_EQ(rd(&t, IIR), 0xc4);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(rd(&t, RBR), 'a' + i);   /* the 17th byte was lost */
    CHECK_EQ(rd(&t, LSR), 0x60);
    CHECK_EQ(rd(&t, IIR), 0xc1);
    teardown(&t);
}

TEST(serial_overrun_without_fifo)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    wr(&t, MCR, 0x10);
    wr(&t, THR, 'p');
    wr(&t, THR, 'q');
    CHECK_EQ(rd(&t, LSR), 0x63);
    CHECK_EQ(rd(&t, RBR), 'q');           /* RBR overwritten */
    CHECK_EQ(rd(&t, LSR), 0x60);
    CHECK_EQ(rd(&t, RBR), 'q');           /* RBR keeps the last byte */
    teardown(&t);
}

TEST(serial_interrupt_priority)
{
    struct uart_test t;
    REQUIRE(setup(&t));
    wr(&t, MCR, 0x10);
    wr(&t, THR, 'a');
    wr(&t, THR, 'b');                     /* overrun */
    wr(&t, MCR, 0x12);                    /* a modem status delta (CTS) */
    wr(&t, IER, 0x0f);
    CHECK_EQ(rd(&t, IIR), 0x06);
    rd(&t, LSR);
    CHECK_EQ(rd(&t, IIR), 0x04);
    rd(&t, RBR);
    CHECK_EQ(rd(&t, IIR), 0x02);
    CHECK_EQ(rd(&t, IIR), 0x00);
    rd(&t, MSR);
    CHECK_EQ(rd(&t, IIR), 0x01);
    CHECK_EQ(t.f.irq_level[IRQ], 0);
    teardown(&t);
}

TEST(serial_off_discards)
{
    struct fake_vm f;
    fake_vm_init(&f);
    Device *com1 = serial_new(&f.vm, 1, SERIAL_OFF, NULL);
    REQUIRE(com1 && device_realize(com1) == 0);
    CHECK_EQ(address_space_stb(f.vm.as_io, COM1 + THR, 'x'), MEMTX_OK);
    MemTxResult res;
    CHECK_EQ(address_space_ldub(f.vm.as_io, COM1 + LSR, &res), 0x60);
    fake_vm_destroy(&f);
}

TEST(serial_bad_file)
{
    struct fake_vm f;
    fake_vm_init(&f);
    Device *com1 = serial_new(&f.vm, 1, SERIAL_FILE, "/nonexistent-dir/serial.log");
    REQUIRE(com1);
    CHECK_EQ(device_realize(com1), -1);
    CHECK(serial_new(&f.vm, 5, SERIAL_OFF, NULL) == NULL);   /* no COM5 */
    CHECK(serial_new(&f.vm, 1, SERIAL_OFF, NULL) == NULL);   /* com1 exists */
    fake_vm_destroy(&f);
}

/* ---- input from a terminal (a pseudo-terminal on stdin) ---------------------- */

struct pty_test {
    struct fake_vm f;
    int master;
    int saved_stdin;
};

static bool pty_setup(struct pty_test *t)
{
    fake_vm_init(&t->f);
    t->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (t->master < 0 || grantpt(t->master) || unlockpt(t->master))
        return false;
    int slave = open(ptsname(t->master), O_RDWR | O_NOCTTY);
    if (slave < 0)
        return false;
    t->saved_stdin = dup(STDIN_FILENO);
    dup2(slave, STDIN_FILENO);
    close(slave);
    Device *com1 = serial_new(&t->f.vm, 1, SERIAL_TTY, NULL);
    return com1 && device_realize(com1) == 0;
}

static void pty_teardown(struct pty_test *t)
{
    fake_vm_destroy(&t->f);
    dup2(t->saved_stdin, STDIN_FILENO);
    close(t->saved_stdin);
    close(t->master);
}

/* Reads `n` bytes the guest way (LSR.DR, then RBR), waiting up to 2 s. */
static size_t guest_receive(struct fake_vm *f, uint8_t *out, size_t n)
{
    MemTxResult res;
    size_t got = 0;
    for (int idle = 0; got < n && idle < 400;) {
        uint8_t lsr = address_space_ldub(f->vm.as_io, COM1 + LSR, &res);
        CHECK_EQ(lsr & 0x02, 0);          /* never an overrun */
        if (lsr & 0x01) {
            out[got++] = address_space_ldub(f->vm.as_io, COM1 + RBR, &res);
        } else {
            sleep_ms(5);
            idle++;
        }
    }
    return got;
}

TEST(serial_terminal_input)
{
    struct pty_test t;
    REQUIRE(pty_setup(&t));
    struct termios tio;
    REQUIRE(tcgetattr(STDIN_FILENO, &tio) == 0);
    CHECK_EQ(tio.c_lflag & (ICANON | ECHO | ISIG), 0);

    address_space_stb(t.f.vm.as_io, COM1 + IER, 0x01);
    /* Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A and another key send nothing. */
    REQUIRE(write(t.master, "ab\x01\x01" "c\x01q\r", 8) == 8);
    uint8_t buf[64];
    CHECK_EQ(guest_receive(&t.f, buf, 5), 5);
    CHECK(!memcmp(buf, "ab\x01" "c\r", 5));
    CHECK(!t.f.vm.exit_requested);

    /* More than the FIFO holds, FIFO off: queued, not overrun. */
    uint8_t msg[40];
    for (unsigned i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)('0' + i);
    REQUIRE(write(t.master, msg, sizeof(msg)) == (ssize_t)sizeof(msg));
    sleep_ms(50);
    CHECK_EQ(guest_receive(&t.f, buf, sizeof(msg)), sizeof(msg));
    CHECK(!memcmp(buf, msg, sizeof(msg)));

    /* Ctrl-A x ends the VM. */
    REQUIRE(write(t.master, "\x01x", 2) == 2);
    for (int i = 0; i < 400 && !__atomic_load_n(&t.f.vm.exit_requested, __ATOMIC_ACQUIRE); i++)
        sleep_ms(5);
    CHECK(t.f.vm.exit_requested);
    CHECK_EQ(t.f.vm.exit_status, EXIT_POWEROFF);

    vm_devices_destroy(&t.f.vm);
    REQUIRE(tcgetattr(STDIN_FILENO, &tio) == 0);
    CHECK(tio.c_lflag & ICANON);          /* the terminal is restored */
    pty_teardown(&t);
}

/* ---- instances ------------------------------------------------------------------ */

/* COM1-COM4 on one VM: each at its own ports and IRQ (COM3/COM4 share 4/3 and
 * the line stays up while either UART wants it), each with its own output. */
TEST(serial_four_ports_on_one_vm)
{
    static const uint16_t base[4] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
    struct fake_vm f;
    char path[4][64];
    fake_vm_init(&f);
    for (unsigned i = 0; i < 4; i++) {
        snprintf(path[i], sizeof(path[i]), "/tmp/minivmm-test-com%u-XXXXXX", i + 1);
        int fd = mkstemp(path[i]);
        REQUIRE(fd >= 0);
        close(fd);
        Device *d = serial_new(&f.vm, i + 1, SERIAL_FILE, path[i]);
        REQUIRE(d && device_realize(d) == 0);
        CHECK(vm_find_device(&f.vm, (const char[]){ 'c', 'o', 'm', (char)('1' + i), 0 }) == d);
    }
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ(address_space_stb(f.vm.as_io, base[i] + THR, (uint8_t)('1' + i)), MEMTX_OK);
        CHECK_EQ(address_space_stb(f.vm.as_io, base[i] + THR, '\n'), MEMTX_OK);
    }
    /* THRE interrupts: COM1 and COM3 on IRQ 4; the line falls only when both ack. */
    CHECK_EQ(address_space_stb(f.vm.as_io, base[0] + IER, 0x02), MEMTX_OK);
    CHECK_EQ(address_space_stb(f.vm.as_io, base[2] + IER, 0x02), MEMTX_OK);
    CHECK_EQ(f.irq_level[4], 1);
    CHECK_EQ(f.irq_level[3], 0);
    MemTxResult res;
    CHECK_EQ(address_space_ldub(f.vm.as_io, base[0] + IIR, &res), 0x02);   /* acks COM1 */
    CHECK_EQ(f.irq_level[4], 1);                                            /* COM3 still */
    CHECK_EQ(address_space_ldub(f.vm.as_io, base[2] + IIR, &res), 0x02);
    CHECK_EQ(f.irq_level[4], 0);
    fake_vm_destroy(&f);
    for (unsigned i = 0; i < 4; i++) {
        char want[3] = { (char)('1' + i), '\n', 0 }, buf[16];
        file_contents(path[i], buf, sizeof(buf));
        CHECK(!strcmp(buf, want));
        unlink(path[i]);
    }
}

/* Many VMs, two alive at a time, each with its own COM1: no state is shared. */
TEST(serial_many_vms)
{
    struct uart_test a, b;
    char buf[64];
    for (int round = 0; round < 20; round++) {
        REQUIRE(setup(&a));
        REQUIRE(setup(&b));
        wr(&a, SCR, 0x11);
        wr(&b, SCR, 0x22);
        CHECK_EQ(rd(&a, SCR), 0x11);
        CHECK_EQ(rd(&b, SCR), 0x22);
        wr(&a, THR, 'a');
        wr(&b, THR, 'b');
        teardown_keep_file(&a);
        teardown_keep_file(&b);
        file_contents(a.path, buf, sizeof(buf));
        CHECK(!strcmp(buf, "a"));
        file_contents(b.path, buf, sizeof(buf));
        CHECK(!strcmp(buf, "b"));
        unlink(a.path);
        unlink(b.path);
    }
}

/* Output to a pipe nobody reads: the guest's writes never block (the excess is
 * dropped and counted), and teardown ends within its bounded flush. */
TEST(serial_output_never_blocks)
{
    struct fake_vm f;
    int pipefd[2];
    REQUIRE(pipe(pipefd) == 0);
    int saved_stdout = dup(STDOUT_FILENO);
    fflush(stdout);
    dup2(pipefd[1], STDOUT_FILENO);
    fake_vm_init(&f);
    Device *com1 = serial_new(&f.vm, 1, SERIAL_TTY, NULL);
    REQUIRE(com1 && device_realize(com1) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < 256 * 1024; i++)   /* four times the pipe and the ring */
        address_space_stb(f.vm.as_io, COM1 + THR, (uint8_t)(i % 64 == 63 ? '\n' : 'x'));
    fake_vm_destroy(&f);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    close(pipefd[0]);
    close(pipefd[1]);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (secs > 5)
        test_fail_(__FILE__, __LINE__, "writes and teardown took %.1f s", secs);
}

/* Ctrl-A x ends the VM while the output is stuck (stdout a pipe nobody reads). */
TEST(serial_quit_while_output_blocked)
{
    struct pty_test t;
    int pipefd[2];
    REQUIRE(pipe(pipefd) == 0);
    int saved_stdout = dup(STDOUT_FILENO);
    fflush(stdout);
    dup2(pipefd[1], STDOUT_FILENO);
    bool ok = pty_setup(&t);
    for (unsigned i = 0; ok && i < 192 * 1024; i++)
        address_space_stb(t.f.vm.as_io, COM1 + THR, (uint8_t)(i % 64 == 63 ? '\n' : 'y'));
    if (ok && write(t.master, "\x01x", 2) == 2)
        for (int i = 0; i < 400 && !__atomic_load_n(&t.f.vm.exit_requested, __ATOMIC_ACQUIRE);
             i++)
            sleep_ms(5);
    bool quit = t.f.vm.exit_requested && t.f.vm.exit_status == EXIT_POWEROFF;
    pty_teardown(&t);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    close(pipefd[0]);
    close(pipefd[1]);
    CHECK(ok);
    CHECK(quit);
}
