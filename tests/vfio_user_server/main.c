/* vfio-user-test-server: the test device of server.c on a UNIX socket.
 *   vfio-user-test-server --socket PATH [--log FILE] [--major N]
 * Listens on PATH, serves one client until it hangs up, then exits 0. --major
 * makes it claim another protocol version (to test the client's refusal). */
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "tests/vfio_user_server/server.c"

int main(int argc, char **argv)
{
    const char *path = NULL, *log = NULL;
    uint16_t major = VFU_MAJOR;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--socket"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "--log"))
            log = argv[i + 1];
        else if (!strcmp(argv[i], "--major"))
            major = (uint16_t)atoi(argv[i + 1]);
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!path || strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: %s --socket PATH [--log FILE] [--major N]\n", argv[0]);
        return 2;
    }
    FILE *lf = log ? fopen(log, "w") : NULL;
    if (log && !lf) {
        perror(log);
        return 2;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
        perror(path);
        return 2;
    }
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    close(l);
    unlink(path);
    if (c < 0) {
        perror("accept");
        return 1;
    }
    int r = test_server_serve(c, lf, major);
    close(c);
    if (lf)
        fclose(lf);
    return r ? 1 : 0;
}
