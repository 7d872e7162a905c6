/* --net user: user-mode networking through libslirp (as QEMU's -netdev user),
 * no privileges needed. The guest's network is 10.0.2.0/24: the host (its
 * loopback included) is 10.0.2.2, DNS 10.0.2.3, DHCP hands out 10.0.2.15
 * onwards. hostfwd rules listen on the host (127.0.0.1 unless an address is
 * given) and connect to the guest (10.0.2.15 unless given).
 *
 * Slirp lives entirely on the device's I/O thread: its sockets join that
 * thread's poll, its timers become the poll's timeout, frames from the guest
 * go to slirp_input from the transmit handler, and slirp's output arrives in
 * send_packet on the same thread. So there is no lock around slirp. */
#include <arpa/inet.h>
#include <signal.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/time.h"
#include "virtio/net.h"

#define SLIRP_MAX_TIMERS 8

typedef struct SlirpTimer {
    bool used, armed;
    int64_t expire_ms;
    SlirpTimerCb cb;
    void *cb_opaque;
} SlirpTimer;

typedef struct NetSlirp {
    NetBackend b;            /* first */
    Slirp *slirp;
    SlirpTimer timers[SLIRP_MAX_TIMERS];
    struct pollfd *fds;      /* during poll/ready: the I/O thread's array */
    int nfds, max_fds;
} NetSlirp;

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    NetSlirp *s = opaque;
    virtio_net_receive(s->b.net, NULL, buf, len);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    (void)opaque;
    log_guest_error("net user: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    (void)opaque;
    return monotonic_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    NetSlirp *s = opaque;
    for (unsigned i = 0; i < SLIRP_MAX_TIMERS; i++)
        if (!s->timers[i].used) {
            s->timers[i] = (SlirpTimer){ .used = true, .cb = cb, .cb_opaque = cb_opaque };
            return &s->timers[i];
        }
    log_warn("net user: out of timers");
    return NULL;
}

static void cb_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    if (timer)
        *(SlirpTimer *)timer = (SlirpTimer){ 0 };
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    if (timer) {
        ((SlirpTimer *)timer)->expire_ms = expire_ms;
        ((SlirpTimer *)timer)->armed = true;
    }
}

/* Slirp's sockets are polled afresh each round (slirp_pollfds_fill), so
 * registration and the wake-up hint need nothing from us. */
static void cb_register_poll_fd(int fd, void *opaque) { (void)fd, (void)opaque; }
static void cb_unregister_poll_fd(int fd, void *opaque) { (void)fd, (void)opaque; }
static void cb_notify(void *opaque) { (void)opaque; }

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
};

static int add_poll(int fd, int events, void *opaque)
{
    NetSlirp *s = opaque;
    if (s->nfds == s->max_fds)
        return -1;   /* polled next round: slirp keeps the socket */
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    s->fds[s->nfds] = (struct pollfd){ .fd = fd, .events = ev };
    return s->nfds++;
}

static int get_revents(int idx, void *opaque)
{
    NetSlirp *s = opaque;
    if (idx < 0 || idx >= s->nfds)
        return 0;
    short r = s->fds[idx].revents;
    return (r & POLLIN ? SLIRP_POLL_IN : 0) | (r & POLLOUT ? SLIRP_POLL_OUT : 0) |
           (r & POLLPRI ? SLIRP_POLL_PRI : 0) | (r & POLLERR ? SLIRP_POLL_ERR : 0) |
           (r & POLLHUP ? SLIRP_POLL_HUP : 0);
}

static int slirp_backend_poll(NetBackend *b, struct pollfd *fds, int max, int *timeout_ms)
{
    NetSlirp *s = (NetSlirp *)b;
    s->fds = fds;
    s->nfds = 0;
    s->max_fds = max;
    uint32_t t = UINT32_MAX;
    slirp_pollfds_fill(s->slirp, &t, add_poll, s);
    int64_t now = monotonic_ns() / 1000000;
    for (unsigned i = 0; i < SLIRP_MAX_TIMERS; i++)
        if (s->timers[i].armed) {
            int64_t left = s->timers[i].expire_ms - now;
            if (left < 0)
                left = 0;
            if ((uint64_t)left < t)
                t = (uint32_t)left;
        }
    if (t != UINT32_MAX && (*timeout_ms < 0 || (int64_t)t < *timeout_ms))
        *timeout_ms = (int)(t > 60000 ? 60000 : t);
    return s->nfds;
}

static void slirp_backend_ready(NetBackend *b, struct pollfd *fds, int n)
{
    NetSlirp *s = (NetSlirp *)b;
    s->fds = fds;
    s->nfds = n;
    slirp_pollfds_poll(s->slirp, 0, get_revents, s);
    int64_t now = monotonic_ns() / 1000000;
    for (unsigned i = 0; i < SLIRP_MAX_TIMERS; i++)
        if (s->timers[i].armed && s->timers[i].expire_ms <= now) {
            s->timers[i].armed = false;
            s->timers[i].cb(s->timers[i].cb_opaque);
        }
}

static void slirp_backend_send(NetBackend *b, const uint8_t *frame, size_t len)
{
    slirp_input(((NetSlirp *)b)->slirp, frame, (int)len);
}

static void slirp_backend_free(NetBackend *b)
{
    NetSlirp *s = (NetSlirp *)b;
    if (s->slirp)
        slirp_cleanup(s->slirp);
    free(s);
}

static struct in_addr addr(uint32_t host_order)
{
    return (struct in_addr){ .s_addr = htonl(host_order) };
}

NetBackend *net_slirp_new(const VirtioNetOptions *o)
{
    NetSlirp *s = calloc(1, sizeof(*s));
    if (!s) {
        log_error("--net user: out of memory");
        return NULL;
    }
    s->b = (NetBackend){ .poll = slirp_backend_poll, .ready = slirp_backend_ready,
                         .send = slirp_backend_send, .free = slirp_backend_free };
    SlirpConfig cfg = {
        .version = 1,
        .in_enabled = true,
        .vnetwork = addr(0x0a000200),       /* 10.0.2.0/24 */
        .vnetmask = addr(0xffffff00),
        .vhost = addr(0x0a000202),          /* 10.0.2.2: the host */
        .vdhcp_start = addr(0x0a00020f),    /* 10.0.2.15 */
        .vnameserver = addr(0x0a000203),    /* 10.0.2.3 */
        .vhostname = "minivmm",
    };
    /* Slirp writes to sockets whose peer may have gone (send without
     * MSG_NOSIGNAL): EPIPE is its business, not a reason for SIGPIPE to
     * kill the VMM. As QEMU does, for the whole process. */
    signal(SIGPIPE, SIG_IGN);
    s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
    if (!s->slirp) {
        log_error("--net user: libslirp refused its configuration");
        free(s);
        return NULL;
    }
    for (unsigned i = 0; i < o->nr_hostfwd; i++) {
        uint32_t host = o->hostfwd[i].host_addr ? o->hostfwd[i].host_addr : 0x7f000001;
        uint32_t guest = o->hostfwd[i].guest_addr ? o->hostfwd[i].guest_addr : 0x0a00020f;
        if (slirp_add_hostfwd(s->slirp, o->hostfwd[i].udp, addr(host), o->hostfwd[i].host_port,
                              addr(guest), o->hostfwd[i].guest_port) < 0) {
            char a[INET_ADDRSTRLEN];
            struct in_addr in = addr(host);
            log_error("--net user: hostfwd=%s:%s:%u: cannot listen there (port in use?)",
                      o->hostfwd[i].udp ? "udp" : "tcp", inet_ntop(AF_INET, &in, a, sizeof(a)),
                      o->hostfwd[i].host_port);
            slirp_backend_free(&s->b);
            return NULL;
        }
    }
    return &s->b;
}
