/* The virtio devices' command-line values (Cloud Hypervisor's names):
 *   --disk path=FILE[,readonly=on|off][,iommu=on|off][,id=NAME]
 *   --rng [src=PATH]
 *   --console tty|file=PATH|off
 * Parsed once when the options are read (to reject bad input early, naming
 * it) and again when the devices are created. */
#include <stdio.h>
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
