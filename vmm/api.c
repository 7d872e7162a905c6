/* The control socket's server: one thread polls the listening socket, an
 * eventfd (stop) and up to API_MAX_CLIENTS connections. Every fd is
 * non-blocking. Each connection has a bounded input buffer (one request line)
 * and a bounded output buffer: a client that sends an over-long line gets an
 * error reply and the rest of that line is skipped; a client that does not
 * read its replies is dropped once API_MAX_OUTPUT bytes wait for it. Nothing
 * here holds the big lock while talking to a client, so a slow or hostile
 * client costs the vCPUs nothing. */
#include "vmm/api.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pci/pci.h"
#include "util/log.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

#define API_MAX_CLIENTS 8
#define API_MAX_OUTPUT  (1u << 20)   /* mtree of a big machine fits; a flood does not */

typedef struct ApiClient {
    int fd;                          /* -1: free slot */
    char in[API_MAX_REQUEST + 1];
    size_t in_len;
    bool skipping;                   /* inside an over-long line: drop to its newline */
    GString *out;
    bool closing;                    /* peer finished sending: close once `out` is written */
} ApiClient;

struct ApiServer {
    ApiContext ctx;
    char *path;
    int listen_fd;
    int wake_fd;
    bool stopping;                   /* atomic */
    pthread_t thread;
    bool thread_started;
    ApiClient clients[API_MAX_CLIENTS];
};

static void client_close(ApiClient *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->in_len = 0;
    c->skipping = false;
    c->closing = false;
    g_string_truncate(c->out, 0);
}

static void client_reply(ApiClient *c, char *reply)
{
    if (c->out->len + strlen(reply) > API_MAX_OUTPUT) {
        log_warn("api: dropping a client that does not read its replies");
        client_close(c);
    } else {
        g_string_append(c->out, reply);
    }
    g_free(reply);
}

/* Handles every complete line in the input buffer. */
static void client_process(ApiServer *api, ApiClient *c)
{
    size_t start = 0;
    for (size_t i = 0; c->fd >= 0 && i < c->in_len; i++) {
        if (c->in[i] != '\n')
            continue;
        size_t len = i - start;
        if (c->skipping)
            c->skipping = false;
        else if (len && !(len == 1 && c->in[start] == '\r'))
            client_reply(c, api_handle_request(&api->ctx, c->in + start, len));
        start = i + 1;
    }
    if (c->fd < 0)
        return;
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len == API_MAX_REQUEST + 1 || (c->skipping && c->in_len)) {
        /* No newline within the limit: answer once, then skip to the next one. */
        if (!c->skipping)
            client_reply(c, api_error_reply("request longer than 4096 bytes"));
        c->skipping = true;
        c->in_len = 0;
    }
}

static void client_read(ApiServer *api, ApiClient *c)
{
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        c->closing = true;           /* answer what came, then close */
        return;
    }
    c->in_len += (size_t)n;
    client_process(api, c);
}

static void client_write(ApiClient *c)
{
    ssize_t n = send(c->fd, c->out->str, c->out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        client_close(c);
        return;
    }
    g_string_erase(c->out, 0, n);
}

static void accept_client(ApiServer *api)
{
    int fd = accept4(api->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
        if (api->clients[i].fd < 0) {
            api->clients[i].fd = fd;
            return;
        }
    }
    static const char busy[] = "{\"error\": {\"message\": \"too many clients\"}}\n";
    if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("api: a refused client did not take its reply");
    close(fd);
}

static void *api_thread(void *opaque)
{
    ApiServer *api = opaque;
    seccomp_apply_thread(SECCOMP_THREAD_API, "api");
    struct pollfd fds[2 + API_MAX_CLIENTS];
    while (!__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE)) {
        fds[0] = (struct pollfd){ .fd = api->wake_fd, .events = POLLIN };
        fds[1] = (struct pollfd){ .fd = api->listen_fd, .events = POLLIN };
        for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
            ApiClient *c = &api->clients[i];
            short ev = (c->closing ? 0 : POLLIN) | (c->out->len ? POLLOUT : 0);
            fds[2 + i] = (struct pollfd){ .fd = c->fd >= 0 && ev ? c->fd : -1, .events = ev };
        }
        if (poll(fds, 2 + API_MAX_CLIENTS, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("api: poll: %s", strerror(errno));
            break;
        }
        if (fds[1].revents & POLLIN)
            accept_client(api);
        for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
            ApiClient *c = &api->clients[i];
            short rev = fds[2 + i].revents;
            if (c->fd < 0 || fds[2 + i].fd < 0)
                continue;
            if (rev & POLLOUT)
                client_write(c);
            if (c->fd >= 0 && (rev & (POLLIN | POLLHUP | POLLERR)) && !c->closing)
                client_read(api, c);
            if (c->fd >= 0 && (rev & POLLOUT) == 0 && (rev & (POLLHUP | POLLERR)) && c->closing)
                client_close(c);
            if (c->fd >= 0 && c->closing && !c->out->len)
                client_close(c);
        }
    }
    return NULL;
}

/* A socket file nobody accepts on is left over from a minivmm that died. */
static int prepare_path(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : (log_error("--api-socket: %s: %s", path, strerror(errno)), -1);
    if (!S_ISSOCK(st.st_mode)) {
        log_error("--api-socket: %s exists and is not a socket", path);
        return -1;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (r == 0) {
        log_error("--api-socket: %s is in use by another process", path);
        return -1;
    }
    if (err != ECONNREFUSED) {
        log_error("--api-socket: %s: %s", path, strerror(err));
        return -1;
    }
    unlink(path);
    return 0;
}

static int open_listener(ApiServer *api)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strncpy(sa.sun_path, api->path, sizeof(sa.sun_path) - 1);
    api->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (api->listen_fd < 0)
        return -1;
    /* Owner-only from the moment it exists: no window with wider permissions. */
    mode_t old = umask(0177);
    int r = bind(api->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || chmod(api->path, 0600) < 0 || listen(api->listen_fd, API_MAX_CLIENTS) < 0)
        return -1;
    return 0;
}

ApiServer *api_server_start(struct vm *vm, const char *path)
{
    if (prepare_path(path))
        return NULL;
    ApiServer *api = g_new0(ApiServer, 1);
    api->ctx.vm = vm;
    api->path = g_strdup(path);
    api->listen_fd = api->wake_fd = -1;
    for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
        api->clients[i].fd = -1;
        api->clients[i].out = g_string_new(NULL);
    }
    /* GObject's type system registers json-glib's types on first use, and
     * `pci` needs the names from pci.ids: both here, before the thread is
     * confined (its filter opens no files). */
    g_free(api_handle_request(&api->ctx, "{}", 2));
    pci_resolve_names(vm);
    api->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (api->wake_fd < 0 || open_listener(api) < 0) {
        log_error("--api-socket: %s: %s", path, strerror(errno));
        api_server_stop(api);
        return NULL;
    }
    int e = pthread_create(&api->thread, NULL, api_thread, api);
    if (e) {
        log_error("api: cannot start its thread: %s", strerror(e));
        api_server_stop(api);
        return NULL;
    }
    pthread_setname_np(api->thread, "api");
    api->thread_started = true;
    return api;
}

void api_server_stop(ApiServer *api)
{
    if (!api)
        return;
    if (api->thread_started) {
        __atomic_store_n(&api->stopping, true, __ATOMIC_RELEASE);
        eventfd_write(api->wake_fd, 1);
        pthread_join(api->thread, NULL);
    }
    if (api->wake_fd >= 0)
        close(api->wake_fd);
    /* Last replies (quit's) go out if the client takes them now. */
    for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
        ApiClient *c = &api->clients[i];
        if (c->fd >= 0 && c->out->len)
            client_write(c);
        client_close(c);
        g_string_free(c->out, TRUE);
    }
    if (api->listen_fd >= 0) {
        close(api->listen_fd);
        unlink(api->path);
    }
    if (api->ctx.paused)
        vm_resume_vcpus(api->ctx.vm);
    g_free(api->path);
    g_free(api);
}
