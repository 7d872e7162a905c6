/* The UART's host side: output to the terminal, a file or nowhere, and input
 * from the terminal, both through one I/O thread per UART.
 *
 * Output never blocks a vCPU: THR writes go into a 64 KiB ring (under the big
 * lock) and the I/O thread writes it out, outside the big lock and only when
 * poll() says the output can take it, at most PIPE_BUF bytes at a time (so the
 * write does not block either). It writes at a newline, once 4 KiB are
 * waiting, or 10 ms after the first unwritten byte. When the reader does not
 * keep up the ring fills and further output is dropped, counted and reported
 * in one warning per episode. At teardown the rest gets a bounded time (1 s)
 * to go out.
 *
 * Input: only with --serial tty (one UART at most) and stdin a terminal, which
 * is then put in raw mode (restored at exit and on fatal signals). The thread
 * reads it into a 4 KiB queue that feeds the receive FIFO as the guest makes
 * room, so a paste is not lost to overruns; only a guest that stops reading
 * loses input. The thread keeps reading whatever the output does, so Ctrl-A x
 * always works: as in QEMU it ends minivmm (EXIT_POWEROFF), Ctrl-A Ctrl-A sends
 * one Ctrl-A, and any other key after Ctrl-A is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/devices.h"
#include "devices/serial.h"
#include "util/log.h"
#include "util/time.h"
#include "vmm/seccomp.h"

#define OUT_FLUSH_NS     10000000ull   /* 10 ms */
#define OUT_CHUNK        PIPE_BUF      /* a write of this much after POLLOUT does not block */
#define FINAL_FLUSH_MS   1000
#define CTRL_A           0x01

static void wake_thread(SerialState *s)
{
    if (s->wake_fd >= 0)
        eventfd_write(s->wake_fd, 1);
}

/* ---- output ------------------------------------------------------------------ */

void serial_output_byte(SerialState *s, uint8_t c)
{
    if (s->out_fd < 0)
        return;
    if (s->out_len == SERIAL_OUT_BUF_SIZE) {
        s->out_dropped++;
        return;
    }
    s->out_buf[(s->out_head + s->out_len++) % SERIAL_OUT_BUF_SIZE] = c;
    if (s->out_len == 1)
        s->out_since_ns = (uint64_t)monotonic_ns();
    /* Wake the thread once per reason: the first byte starts its 10 ms timer. */
    if (!s->out_flush && (c == '\n' || s->out_len >= OUT_CHUNK)) {
        s->out_flush = true;
        wake_thread(s);
    } else if (s->out_len == 1) {
        wake_thread(s);
    }
}

static void report_dropped(SerialState *s, uint64_t dropped)
{
    if (dropped)
        log_warn("%s: %llu bytes of guest output dropped: its reader did not keep up",
                 s->dev.id, (unsigned long long)dropped);
}

/* Stops output after a write error (the guest's writes are then discarded). */
static void output_failed(SerialState *s, int err)
{
    log_error("%s output: %s; discarding the rest", s->dev.id, strerror(err));
    if (s->out_fd_owned)
        close(s->out_fd);
    s->out_fd = -1;
    s->out_fd_owned = false;
    s->out_len = 0;
}

/* Writes up to OUT_CHUNK bytes from the ring. Called by the I/O thread (which
 * alone removes bytes) after POLLOUT, taking the big lock around the ring but
 * not the write; or `exclusive`ly at teardown, when no other thread is left. */
static void write_some(SerialState *s, bool exclusive)
{
    uint8_t chunk[OUT_CHUNK];
    if (!exclusive)
        memory_bql_lock();
    uint32_t n = s->out_len < OUT_CHUNK ? s->out_len : OUT_CHUNK;
    for (uint32_t i = 0; i < n; i++)
        chunk[i] = s->out_buf[(s->out_head + i) % SERIAL_OUT_BUF_SIZE];
    int fd = s->out_fd;
    if (!exclusive)
        memory_bql_unlock();
    if (n == 0 || fd < 0)
        return;

    ssize_t done = write(fd, chunk, n);
    int err = errno;

    if (!exclusive)
        memory_bql_lock();
    uint64_t dropped = 0;
    if (done > 0) {
        s->out_head = (s->out_head + (uint32_t)done) % SERIAL_OUT_BUF_SIZE;
        s->out_len -= (uint32_t)done;
        if (s->out_len == 0)
            s->out_flush = false;
        else
            s->out_since_ns = (uint64_t)monotonic_ns();
        /* Output moves again: say how much was lost while it did not. */
        dropped = s->out_dropped;
        s->out_dropped = 0;
    } else if (done < 0 && err != EAGAIN && err != EINTR) {
        output_failed(s, err);
    }
    if (!exclusive)
        memory_bql_unlock();
    report_dropped(s, dropped);
}

/* ---- input ------------------------------------------------------------------- */

/* Queues bytes from the terminal for the receiver (big lock held); returns
 * whether the user asked to quit. */
static bool receive_input(SerialState *s, const uint8_t *buf, size_t len)
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
        if (s->in_len == SERIAL_IN_BUF_SIZE) {
            dropped++;
            continue;
        }
        s->in_buf[(s->in_head + s->in_len++) % SERIAL_IN_BUF_SIZE] = c;
    }
    if (dropped)
        log_guest_error("%s: the guest is not reading its input; %zu bytes dropped",
                        s->dev.id, dropped);
    serial_update(s);
    return quit;
}

static void read_terminal(SerialState *s)
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
            log_error("%s input: %s", s->dev.id, strerror(errno));
        s->stdin_active = false;   /* end of input: the guest sees none */
    }
    memory_bql_unlock();
    /* Outside the big lock: vm_request_exit takes the VM's own locks. */
    if (quit)
        vm_request_exit(s->dev.vm, EXIT_POWEROFF);
}

/* ---- the I/O thread ---------------------------------------------------------- */

static void *serial_io_thread(void *opaque)
{
    SerialState *s = opaque;
    seccomp_apply_thread(SECCOMP_THREAD_SERIAL_IO, s->dev.id);
    while (!__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) {
        memory_bql_lock();
        uint64_t now = (uint64_t)monotonic_ns();
        bool due = s->out_len && (s->out_flush || now - s->out_since_ns >= OUT_FLUSH_NS);
        int timeout_ms = -1;
        if (s->out_len && !due)
            timeout_ms = (int)((s->out_since_ns + OUT_FLUSH_NS - now + 999999) / 1000000);
        bool input = s->stdin_active;
        int out_fd = s->out_fd;
        memory_bql_unlock();

        struct pollfd fds[3] = {
            { .fd = s->wake_fd, .events = POLLIN },
            { .fd = due ? out_fd : -1, .events = POLLOUT },
            { .fd = input ? STDIN_FILENO : -1, .events = POLLIN },
        };
        int n = poll(fds, 3, timeout_ms);
        if (n < 0 && errno != EINTR) {
            log_error("%s: poll: %s", s->dev.id, strerror(errno));
            break;
        }
        if (n <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            eventfd_t count;
            eventfd_read(s->wake_fd, &count);
        }
        if (fds[1].revents)
            write_some(s, false);
        if (fds[2].revents)
            read_terminal(s);
    }
    return NULL;
}

static int open_output(SerialState *s)
{
    switch (s->mode) {
    case SERIAL_TTY:
        s->out_fd = STDOUT_FILENO;
        break;
    case SERIAL_FILE:
        s->out_fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (s->out_fd < 0) {
            log_error("%s: file=%s: %s", s->dev.id, s->path, strerror(errno));
            return -1;
        }
        s->out_fd_owned = true;
        break;
    case SERIAL_OFF:
        break;
    }
    return 0;
}

int serial_io_start(SerialState *s)
{
    if (open_output(s) < 0)
        return -1;
    if (s->out_fd < 0)
        return 0;   /* nothing to write, nothing to read: no thread */
    s->out_buf = malloc(SERIAL_OUT_BUF_SIZE);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!s->out_buf || s->wake_fd < 0) {
        log_error("%s: cannot set up its output: %s", s->dev.id, strerror(errno));
        return -1;
    }
    if (s->mode == SERIAL_TTY && isatty(STDIN_FILENO)) {
        terminal_enter_raw_mode();
        s->stdin_active = true;
    }
    int err = pthread_create(&s->thread, NULL, serial_io_thread, s);
    if (err) {
        log_error("%s: cannot start its thread: %s", s->dev.id, strerror(err));
        return -1;
    }
    s->thread_started = true;
    return 0;
}

/* What is left in the ring, within FINAL_FLUSH_MS; the vCPUs have stopped and
 * the thread is gone, so nothing else touches the ring. */
static void final_flush(SerialState *s)
{
    uint64_t deadline = (uint64_t)monotonic_ns() + FINAL_FLUSH_MS * 1000000ull;
    while (s->out_fd >= 0 && s->out_len) {
        uint64_t now = (uint64_t)monotonic_ns();
        if (now >= deadline)
            break;
        struct pollfd pfd = { .fd = s->out_fd, .events = POLLOUT };
        if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) > 0)
            write_some(s, true);
    }
    report_dropped(s, s->out_dropped + (s->out_fd >= 0 ? s->out_len : 0));
    s->out_dropped = 0;
    s->out_len = 0;
}

void serial_io_flush(SerialState *s)
{
    if (s->thread_started) {
        __atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
        wake_thread(s);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
    final_flush(s);
}

void serial_io_stop(SerialState *s)
{
    serial_io_flush(s);
    if (s->out_fd_owned && s->out_fd >= 0)
        close(s->out_fd);
    s->out_fd = -1;
    s->out_fd_owned = false;
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    s->wake_fd = -1;
    free(s->out_buf);
    s->out_buf = NULL;
    if (s->mode == SERIAL_TTY)
        terminal_restore();
    s->stdin_active = false;
}
