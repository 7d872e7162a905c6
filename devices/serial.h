/* The 16550A's state, shared by its registers (serial.c) and its host side
 * (serial_io.c). Not for other devices. */
#ifndef MINIVMM_DEVICES_SERIAL_H
#define MINIVMM_DEVICES_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/internal.h"
#include "vmm/vm.h"

#define SERIAL_RX_FIFO_SIZE 16
#define SERIAL_IN_BUF_SIZE  4096
/* Output waiting for the host side. A reader that stops reading costs the
 * guest its output beyond this (counted and reported), never a blocked vCPU. */
#define SERIAL_OUT_BUF_SIZE (64u << 10)

typedef struct SerialState {
    Device dev;
    unsigned com;               /* 1..4 */
    uint16_t base;
    unsigned irq;
    enum serial_mode mode;
    char *path;
    DeviceMappings maps;

    /* Registers (big lock). */
    uint8_t ier, lcr, mcr, msr, scr, fcr;
    uint8_t lsr_errors;
    uint16_t divisor;
    bool thr_ipending;
    bool irq_level;
    uint8_t rx_fifo[SERIAL_RX_FIFO_SIZE];
    unsigned rx_head, rx_count;
    uint8_t rbr;                /* last byte read: RBR keeps it once the FIFO is empty */

    /* Output (big lock): a ring the I/O thread drains. */
    int out_fd;                 /* -1: output discarded */
    bool out_fd_owned;
    uint8_t *out_buf;           /* SERIAL_OUT_BUF_SIZE bytes */
    uint32_t out_head, out_len;
    bool out_flush;             /* a newline or a full chunk: write without waiting */
    uint64_t out_since_ns;      /* when out_buf became non-empty */
    uint64_t out_dropped;       /* bytes lost to a full ring since the last report */

    /* Input (big lock): typed bytes waiting for room in the FIFO. */
    bool stdin_active;
    bool escape_pending;        /* Ctrl-A seen */
    uint8_t in_buf[SERIAL_IN_BUF_SIZE];
    unsigned in_head, in_len;

    /* The I/O thread. */
    bool thread_started;
    pthread_t thread;
    int wake_fd;                /* eventfd: output to write, or stop */
    bool stopping;              /* atomic */
} SerialState;

/* serial.c: moves queued input into the FIFO and drives the IRQ line (big lock). */
void serial_update(SerialState *s);

/* serial_io.c (big lock held for the first one). */
void serial_output_byte(SerialState *s, uint8_t c);
/* Opens the output, puts the terminal in raw mode for input, starts the I/O
 * thread. 0 or -1 after one error line. */
int serial_io_start(SerialState *s);
/* Stops the I/O thread, writes what output it can within a bounded time
 * (reporting what it drops), closes the output, restores the terminal. Called
 * once the vCPUs have stopped, without the big lock. */
void serial_io_stop(SerialState *s);
/* The clean-stop flush: ends the I/O thread and writes what is queued (within
 * 1 s); serial_io_stop does it too and then releases the rest. */
void serial_io_flush(SerialState *s);

#endif
