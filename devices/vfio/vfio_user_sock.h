/* vfio-user messages on a connected UNIX stream socket, with file descriptors
 * as SCM_RIGHTS: the socket half that our client (vfio_user.c) and our test
 * server (tests/vfio_user_server/) share. vfio_user_proto.h stays free of
 * sockets so its checks are unit tested and fuzzed on their own. */
#ifndef MINIVMM_VFIO_USER_SOCK_H
#define MINIVMM_VFIO_USER_SOCK_H

#include <stddef.h>
#include <stdint.h>

#include "devices/vfio/vfio_user_proto.h"

/* Sends one message: the header at hdr (VFU_HDR_SIZE bytes, built by
 * vfu_put_header) and len payload bytes, with nr_fds (at most VFU_MAX_FDS)
 * descriptors. 0, or -EIO when the socket took less than all of it. */
int vfu_send(int sock, const uint8_t *hdr, const void *payload, size_t len, const int *fds,
             unsigned nr_fds);

/* Receives one whole message into buf (VFU_MAX_MSG bytes), its header parsed
 * into *h; the descriptors that came with it into fds (close-on-exec, at most
 * max_fds, the rest closed). -EIO for a short, truncated or malformed message
 * (or a hang-up), keeping no descriptors. */
int vfu_recv(int sock, uint8_t *buf, VFUHeader *h, int *fds, unsigned max_fds,
             unsigned *nr_fds);

/* Closes the n descriptors at fds, skipping -1 entries. */
void vfu_close_fds(const int *fds, unsigned n);

#endif
