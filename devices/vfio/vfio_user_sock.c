/* vfio-user messages on a socket (see vfio_user_sock.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/vfio/vfio_user_sock.h"

typedef union {
    char b[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
    struct cmsghdr align;
} FdControl;

int vfu_send(int sock, const uint8_t *hdr, const void *payload, size_t len, const int *fds,
             unsigned nr_fds)
{
    struct iovec iov[2] = { { (void *)hdr, VFU_HDR_SIZE }, { (void *)payload, len } };
    FdControl ctl;
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
    if (nr_fds > VFU_MAX_FDS)
        return -EIO;
    if (nr_fds) {
        m.msg_control = ctl.b;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nr_fds);
    }
    ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
    return n == (ssize_t)(VFU_HDR_SIZE + len) ? 0 : -EIO;
}

int vfu_recv(int sock, uint8_t *buf, VFUHeader *h, int *fds, unsigned max_fds,
             unsigned *nr_fds)
{
    FdControl ctl;
    struct iovec iov = { buf, VFU_HDR_SIZE };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                        .msg_controllen = sizeof(ctl.b) };
    *nr_fds = 0;
    ssize_t n = recvmsg(sock, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC);
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); n > 0 && cm; cm = CMSG_NXTHDR(&m, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        unsigned k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int got[VFU_MAX_FDS];
        memcpy(got, CMSG_DATA(cm), sizeof(int) * (k < VFU_MAX_FDS ? k : VFU_MAX_FDS));
        for (unsigned i = 0; i < k && i < VFU_MAX_FDS; i++) {
            if (*nr_fds < max_fds)
                fds[(*nr_fds)++] = got[i];
            else
                close(got[i]);
        }
    }
    if (n != VFU_HDR_SIZE || (m.msg_flags & MSG_CTRUNC) || vfu_parse_header(buf, (size_t)n, h))
        goto bad;
    if (h->size > VFU_HDR_SIZE &&
        recv(sock, buf + VFU_HDR_SIZE, h->size - VFU_HDR_SIZE, MSG_WAITALL) !=
            (ssize_t)(h->size - VFU_HDR_SIZE))
        goto bad;
    return 0;
bad:
    vfu_close_fds(fds, *nr_fds);
    *nr_fds = 0;
    return -EIO;
}

void vfu_close_fds(const int *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}
