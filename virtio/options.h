/* Parsing of --disk, --rng and --console values (virtio/options.c). */
#ifndef MINIVMM_VIRTIO_OPTIONS_H
#define MINIVMM_VIRTIO_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct VirtioDiskOptions {
    char path[4096];
    char id[64];
    bool readonly;
    int iommu;               /* -1 not given (on when the VM has --iommu), 0, 1 */
} VirtioDiskOptions;

typedef struct VirtioRngOptions {
    char src[4096];
    int iommu;
} VirtioRngOptions;

enum virtio_console_mode { VIRTIO_CONSOLE_OFF, VIRTIO_CONSOLE_TTY, VIRTIO_CONSOLE_FILE };
typedef struct VirtioConsoleOptions {
    enum virtio_console_mode mode;
    char path[4096];
} VirtioConsoleOptions;

#define VIRTIO_NET_MAX_HOSTFWD 8
enum virtio_net_kind { VIRTIO_NET_USER, VIRTIO_NET_TAP };
typedef struct VirtioNetOptions {
    enum virtio_net_kind kind;
    char ifname[16];         /* tap: IFNAMSIZ */
    uint8_t mac[6];
    bool mac_set;
    struct {
        bool udp;
        uint32_t host_addr, guest_addr;   /* host byte order; 0 = default */
        uint16_t host_port, guest_port;
    } hostfwd[VIRTIO_NET_MAX_HOSTFWD];
    unsigned nr_hostfwd;
    int iommu;
} VirtioNetOptions;

/* 0, or -1 with a message naming the option and the bad part in err. */
int virtio_parse_disk(const char *value, VirtioDiskOptions *o, char *err, size_t errlen);
int virtio_parse_rng(const char *value, VirtioRngOptions *o, char *err, size_t errlen);
/* --net user[,hostfwd=tcp:[ADDR]:PORT-[ADDR]:PORT...][,mac=MAC][,iommu=on|off]
 * or tap=IFNAME[,mac=MAC][,iommu=on|off] */
int virtio_parse_net(const char *value, VirtioNetOptions *o, char *err, size_t errlen);
/* --console tty|file=PATH|off */
int virtio_parse_console(const char *value, VirtioConsoleOptions *o, char *err, size_t errlen);
/* The device's iommu setting from its option (-1/0/1) and --iommu; -1 (one
 * error line) for a combination we cannot provide. */
int virtio_resolve_iommu(const char *opt, int requested, bool vm_has_iommu, bool *out);

#endif
