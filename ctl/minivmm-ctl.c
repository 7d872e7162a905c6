/* minivmm-ctl: one request to minivmm's control socket (--api-socket).
 *
 *   minivmm-ctl SOCKET COMMAND [ARGUMENTS-JSON]
 *       sends {"command": COMMAND, "arguments": ARGUMENTS-JSON} and prints the
 *       reply line; exit 0 for {"return": ...}, 1 for {"error": ...}
 *   minivmm-ctl SOCKET --raw
 *       sends stdin as it is and prints every reply until minivmm closes the
 *       connection or 5 s pass without one (for scripts and tests)
 *
 * Exit 2: bad usage, or the socket cannot be reached. The same as a shell
 * one-liner: echo '{"command": "info"}' | socat - UNIX-CONNECT:SOCKET */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 5000

static int usage(void)
{
    fprintf(stderr, "usage: minivmm-ctl SOCKET COMMAND [ARGUMENTS-JSON]\n"
                    "       minivmm-ctl SOCKET --raw   (requests on stdin)\n");
    return 2;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "minivmm-ctl: socket path too long\n");
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "minivmm-ctl: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copies replies to stdout until `lines` newlines (0: until EOF or the
 * timeout). Returns 'r' when the last complete reply was {"return": ...},
 * 'e' for any other, 0 for none. */
static int copy_replies(int fd, unsigned lines)
{
    static const char ret[] = "{\"return\"";
    char buf[4096], head[sizeof(ret) - 1];
    size_t head_len = 0;
    int kind = 0;
    unsigned seen = 0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0)
            return kind;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return kind;
        fwrite(buf, 1, (size_t)n, stdout);
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (head_len < sizeof(head))
                    head[head_len++] = buf[i];
                continue;
            }
            kind = head_len == sizeof(head) && !memcmp(head, ret, sizeof(head)) ? 'r' : 'e';
            head_len = 0;
            if (lines && ++seen == lines) {
                fflush(stdout);
                return kind;
            }
        }
    }
}

static int raw_mode(int fd)
{
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
        if (write_all(fd, buf, n) < 0) {
            fprintf(stderr, "minivmm-ctl: send: %s\n", strerror(errno));
            return 2;
        }
    shutdown(fd, SHUT_WR);
    copy_replies(fd, 0);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4)
        return usage();
    bool raw = !strcmp(argv[2], "--raw");
    if (raw && argc != 3)
        return usage();
    for (const char *c = argv[2]; !raw && *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || *c == '-' || *c == '_'))
            return usage();
    int fd = connect_to(argv[1]);
    if (fd < 0)
        return 2;
    int status;
    if (raw) {
        status = raw_mode(fd);
    } else {
        size_t len = strlen(argv[2]) + (argc == 4 ? strlen(argv[3]) : 2) + 48;
        char *req = malloc(len);
        if (!req)
            return 2;
        snprintf(req, len, "{\"command\": \"%s\", \"arguments\": %s}\n", argv[2],
                 argc == 4 ? argv[3] : "{}");
        if (write_all(fd, req, strlen(req)) < 0) {
            fprintf(stderr, "minivmm-ctl: send: %s\n", strerror(errno));
            status = 2;
        } else {
            int kind = copy_replies(fd, 1);
            status = kind == 'r' ? 0 : kind == 'e' ? 1 : 2;
            if (!kind)
                fprintf(stderr, "minivmm-ctl: no reply\n");
        }
        free(req);
    }
    close(fd);
    return status;
}
