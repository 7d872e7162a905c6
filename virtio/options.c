/* The virtio devices' command-line values (Cloud Hypervisor's names):
 *   --disk path=FILE[,readonly=on|off][,iommu=on|off][,id=NAME]
 *   --rng [src=PATH]
 *   --console tty|file=PATH|off
 *   --net user[,hostfwd=tcp:[ADDR]:PORT-[ADDR]:PORT][,mac=MAC][,iommu=on|off]
 *   --net tap=IFNAME[,mac=MAC][,iommu=on|off]
 * Parsed once when the options are read (to reject bad input early, naming
 * it) and again when the devices are created. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/options.h"

#define FAIL(...)                                                              \
    do {                                                                       \
        snprintf(err, errlen, __VA_ARGS__);                                    \
        return -1;                                                             \
    } while (0)

static int parse_bool(const char *opt, const char *key, const char *v, size_t vlen, bool *out,
                      char *err, size_t errlen)
{
    if (vlen == 2 && !strncmp(v, "on", 2))
        *out = true;
    else if (vlen == 3 && !strncmp(v, "off", 3))
        *out = false;
    else
        FAIL("%s: bad value '%.*s' for %s (expected on or off)", opt, (int)vlen, v, key);
    return 0;
}

static int copy_value(const char *opt, const char *key, const char *v, size_t vlen, char *dst,
                      size_t dstlen, char *err, size_t errlen)
{
    if (vlen == 0)
        FAIL("%s: empty %s", opt, key);
    if (vlen >= dstlen)
        FAIL("%s: %s longer than %zu bytes", opt, key, dstlen - 1);
    memcpy(dst, v, vlen);
    dst[vlen] = 0;
    return 0;
}

int virtio_parse_disk(const char *value, VirtioDiskOptions *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->iommu = -1;
    for (const char *p = value ? value : ""; *p;) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!eq || eq > p + len)
            FAIL("--disk: expected KEY=VALUE, got '%.*s'", (int)len, p);
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        const char *v = eq + 1;
        bool b;
        if (klen == 4 && !strncmp(p, "path", 4)) {
            if (copy_value("--disk", "path", v, vlen, o->path, sizeof(o->path), err, errlen))
                return -1;
        } else if (klen == 2 && !strncmp(p, "id", 2)) {
            if (copy_value("--disk", "id", v, vlen, o->id, sizeof(o->id), err, errlen))
                return -1;
        } else if (klen == 8 && !strncmp(p, "readonly", 8)) {
            if (parse_bool("--disk", "readonly", v, vlen, &o->readonly, err, errlen))
                return -1;
        } else if (klen == 5 && !strncmp(p, "iommu", 5)) {
            if (parse_bool("--disk", "iommu", v, vlen, &b, err, errlen))
                return -1;
            o->iommu = b;
        } else {
            FAIL("--disk: unknown key '%.*s' (expected path, readonly, iommu or id)", (int)klen, p);
        }
        p = end ? end + 1 : p + len;
    }
    if (!o->path[0])
        FAIL("--disk: path=FILE is required");
    return 0;
}

int virtio_parse_rng(const char *value, VirtioRngOptions *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->iommu = -1;
    strcpy(o->src, "/dev/urandom");
    for (const char *p = value ? value : ""; *p;) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!eq || eq > p + len)
            FAIL("--rng: expected KEY=VALUE, got '%.*s'", (int)len, p);
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        const char *v = eq + 1;
        bool b;
        if (klen == 3 && !strncmp(p, "src", 3)) {
            if (copy_value("--rng", "src", v, vlen, o->src, sizeof(o->src), err, errlen))
                return -1;
        } else if (klen == 5 && !strncmp(p, "iommu", 5)) {
            if (parse_bool("--rng", "iommu", v, vlen, &b, err, errlen))
                return -1;
            o->iommu = b;
        } else {
            FAIL("--rng: unknown key '%.*s' (expected src or iommu)", (int)klen, p);
        }
        p = end ? end + 1 : p + len;
    }
    return 0;
}

/* aa:bb:cc:dd:ee:ff, unicast and not all zero. */
static int parse_mac(const char *v, size_t vlen, uint8_t mac[6], char *err, size_t errlen)
{
    char buf[18];
    unsigned b[6];
    char tail;
    if (vlen != 17)
        FAIL("--net: bad mac '%.*s' (expected six hex bytes like 52:54:00:12:34:56)", (int)vlen, v);
    memcpy(buf, v, 17);
    buf[17] = 0;
    if (sscanf(buf, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
               &tail) != 6 || buf[2] != ':' || buf[5] != ':' || buf[8] != ':' || buf[11] != ':' ||
        buf[14] != ':')
        FAIL("--net: bad mac '%s' (expected six hex bytes like 52:54:00:12:34:56)", buf);
    if (b[0] & 1)
        FAIL("--net: mac '%s' is a multicast address (the first byte must be even)", buf);
    if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
        FAIL("--net: mac '%s' is all zero", buf);
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return 0;
}

/* "[ADDR:]PORT" (or ":PORT"): 0, or -1. */
static int parse_endpoint(const char *s, uint32_t *addr, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    const char *p = colon ? colon + 1 : s;
    *addr = 0;
    if (colon && colon != s) {
        char a[32];
        struct in_addr in;
        if ((size_t)(colon - s) >= sizeof(a))
            return -1;
        memcpy(a, s, (size_t)(colon - s));
        a[colon - s] = 0;
        if (inet_pton(AF_INET, a, &in) != 1)
            return -1;
        *addr = ntohl(in.s_addr);
    }
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (!*p || *end || v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int parse_hostfwd(const char *v, size_t vlen, VirtioNetOptions *o, char *err, size_t errlen)
{
    char buf[128];
    if (vlen >= sizeof(buf))
        FAIL("--net: hostfwd '%.*s' too long", (int)vlen, v);
    memcpy(buf, v, vlen);
    buf[vlen] = 0;
    if (o->nr_hostfwd == VIRTIO_NET_MAX_HOSTFWD)
        FAIL("--net: at most %d hostfwd rules", VIRTIO_NET_MAX_HOSTFWD);
    typeof(o->hostfwd[0]) *f = &o->hostfwd[o->nr_hostfwd];
    char *rest = buf + 4, *dash = strchr(buf, '-');
    if (strncmp(buf, "tcp:", 4) && strncmp(buf, "udp:", 4))
        dash = NULL;
    if (dash)
        *dash = 0;
    if (!dash || parse_endpoint(rest, &f->host_addr, &f->host_port) ||
        parse_endpoint(dash + 1, &f->guest_addr, &f->guest_port))
        FAIL("--net: bad hostfwd '%.*s' (expected tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, "
             "e.g. tcp:2222-:22)", (int)vlen, v);
    f->udp = buf[0] == 'u';
    o->nr_hostfwd++;
    return 0;
}

int virtio_parse_net(const char *value, VirtioNetOptions *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->iommu = -1;
    const char *p = value ? value : "";
    const char *first_end = strchr(p, ',');
    size_t flen = first_end ? (size_t)(first_end - p) : strlen(p);
    if (flen == 4 && !strncmp(p, "user", 4)) {
        o->kind = VIRTIO_NET_USER;
    } else if (flen > 4 && !strncmp(p, "tap=", 4)) {
        o->kind = VIRTIO_NET_TAP;
        if (copy_value("--net", "tap interface name", p + 4, flen - 4, o->ifname,
                       sizeof(o->ifname), err, errlen))
            return -1;
    } else {
        FAIL("--net: expected user or tap=IFNAME first, got '%.*s'", (int)flen, p);
    }
    for (p = first_end ? first_end + 1 : p + flen; *p;) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!eq || eq > p + len)
            FAIL("--net: expected KEY=VALUE, got '%.*s'", (int)len, p);
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        const char *v = eq + 1;
        bool b;
        if (klen == 3 && !strncmp(p, "mac", 3)) {
            if (parse_mac(v, vlen, o->mac, err, errlen))
                return -1;
            o->mac_set = true;
        } else if (klen == 7 && !strncmp(p, "hostfwd", 7) && o->kind == VIRTIO_NET_USER) {
            if (parse_hostfwd(v, vlen, o, err, errlen))
                return -1;
        } else if (klen == 5 && !strncmp(p, "iommu", 5)) {
            if (parse_bool("--net", "iommu", v, vlen, &b, err, errlen))
                return -1;
            o->iommu = b;
        } else {
            FAIL("--net: unknown key '%.*s' (expected %s)", (int)klen, p,
                 o->kind == VIRTIO_NET_USER ? "hostfwd, mac or iommu" : "mac or iommu");
        }
        p = end ? end + 1 : p + len;
    }
    return 0;
}

int virtio_parse_console(const char *value, VirtioConsoleOptions *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    if (!value || !value[0])
        FAIL("--console: expected tty, file=PATH or off");
    if (!strcmp(value, "tty")) {
        o->mode = VIRTIO_CONSOLE_TTY;
    } else if (!strcmp(value, "off")) {
        o->mode = VIRTIO_CONSOLE_OFF;
    } else if (!strncmp(value, "file=", 5)) {
        if (copy_value("--console", "file", value + 5, strlen(value + 5), o->path,
                       sizeof(o->path), err, errlen))
            return -1;
        o->mode = VIRTIO_CONSOLE_FILE;
    } else {
        FAIL("--console: bad value '%s' (expected tty, file=PATH or off)", value);
    }
    return 0;
}

int virtio_resolve_iommu(const char *opt, int requested, bool vm_has_iommu, bool *out)
{
    if (requested == 0 && vm_has_iommu) {
        /* Our DMA layer has no path around the VT-d unit (virtio/pci.c). */
        log_error("%s: iommu=off is not supported with --iommu "
                  "(every PCI function is behind the VT-d unit)", opt);
        return -1;
    }
    *out = requested < 0 ? vm_has_iommu : requested;
    return 0;
}
