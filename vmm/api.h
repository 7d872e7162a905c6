/* The control socket (--api-socket path=PATH): a UNIX stream socket, mode
 * 0600, served by its own thread. One JSON request per line,
 *     {"command": NAME, "arguments": {...}}
 * and one JSON reply per line, {"return": VALUE} or {"error": {"message": S}}.
 * Commands (vmm/api_commands.c): info, mtree, flatview, pci, iommu, xp, pause,
 * resume, powerdown, quit. */
#ifndef MINIVMM_API_H
#define MINIVMM_API_H

#include <stdbool.h>
#include <stddef.h>

struct vm;
typedef struct ApiServer ApiServer;

/* Longest request line (without its newline); longer ones get an error reply. */
#define API_MAX_REQUEST 4096
/* Largest `xp` read. */
#define API_XP_MAX 4096

/* Creates the socket (refusing a path that exists unless it is a stale
 * socket nobody listens on) and starts the thread; NULL after one error line. */
ApiServer *api_server_start(struct vm *vm, const char *path);
/* Stops the thread, closes every connection, removes the socket. NULL: nothing. */
void api_server_stop(ApiServer *api);

/* ---- the protocol, without a socket (unit tests call it directly) ---- */
typedef struct ApiContext {
    struct vm *vm;
    bool paused;               /* by `pause`; the API's own, not S3's */
} ApiContext;

/* One request line (`len` bytes, no newline) -> one reply, newline-terminated,
 * to g_free. Never NULL. */
char *api_handle_request(ApiContext *ctx, const char *line, size_t len);
/* The reply to a line longer than API_MAX_REQUEST. */
char *api_error_reply(const char *message);

#endif
