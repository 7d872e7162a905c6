#include "vmm/options.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/cpuid.h"
#include "vmm/layout.h"
#include "devices/vfio/vfio.h"
#include "virtio/options.h"
#include "vmm/seccomp.h"

#define MIN_MEM_SIZE   (2ull << 20)
#define MAX_MEM_SIZE   (1ull << 40)
#define MEM_GRANULE    4096ull
#define DEFAULT_MEM    (512ull << 20)

#define FAIL(...)                                                              \
    do {                                                                       \
        snprintf(err, errlen, __VA_ARGS__);                                    \
        return -1;                                                             \
    } while (0)

/* Decimal, or hexadecimal with 0x; no sign, no spaces, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* A byte count with an optional K, M, G or T suffix (powers of 1024). */
static bool parse_size(const char *s, uint64_t *out)
{
    size_t len = strlen(s);
    unsigned shift = 0;
    if (len) {
        switch (s[len - 1]) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        case 't': case 'T': shift = 40; break;
        }
    }
    char digits[32];
    if (shift)
        len--;
    if (len == 0 || len >= sizeof(digits))
        return false;
    memcpy(digits, s, len);
    digits[len] = '\0';
    uint64_t v;
    if (!parse_u64(digits, &v) || v > (UINT64_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}

/* The value of the only sub-key an option knows ("boot" in "boot=2"). */
static int sub_key_value(const char *opt, const char *value, const char *key,
                         const char *expected, const char **out, char *err, size_t errlen)
{
    const char *eq = strchr(value, '=');
    size_t klen = eq ? (size_t)(eq - value) : strlen(value);
    if (!eq || klen != strlen(key) || strncmp(value, key, klen))
        FAIL("%s: unknown key '%.*s' (expected %s)", opt, (int)klen, value, expected);
    if (strchr(eq + 1, ','))
        FAIL("%s: only one key is known (expected %s), got '%s'", opt, expected, value);
    *out = eq + 1;
    return 0;
}

static int opt_cpus(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    const char *n;
    uint64_t v;
    if (sub_key_value("--cpus", value, "boot", "boot=N", &n, err, errlen))
        return -1;
    if (!parse_u64(n, &v) || v < 1 || v > OPTIONS_MAX_CPUS)
        FAIL("--cpus: bad CPU count '%s' (expected 1..%d)", n, OPTIONS_MAX_CPUS);
    cfg->nr_cpus = (unsigned)v;
    return 0;
}

static int opt_memory(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    const char *s;
    uint64_t v;
    if (sub_key_value("--memory", value, "size", "size=SIZE", &s, err, errlen))
        return -1;
    if (!parse_size(s, &v))
        FAIL("--memory: bad size '%s' (expected a number with an optional K, M, G or T)", s);
    if (v < MIN_MEM_SIZE || v > MAX_MEM_SIZE)
        FAIL("--memory: size '%s' is out of range (2M..1T)", s);
    if (v % MEM_GRANULE)
        FAIL("--memory: size '%s' is not a multiple of 4K", s);
    cfg->mem_size = v;
    return 0;
}

static int parse_serial_mode(const char *opt, const char *value, enum serial_mode *mode,
                             const char **path, char *err, size_t errlen)
{
    if (!strcmp(value, "tty")) {
        *mode = SERIAL_TTY;
    } else if (!strcmp(value, "off")) {
        *mode = SERIAL_OFF;
    } else if (!strncmp(value, "file=", 5) && value[5]) {
        *mode = SERIAL_FILE;
        *path = value + 5;
    } else {
        FAIL("%s: bad value '%s' (expected tty, off or file=PATH)", opt, value);
    }
    return 0;
}

static int opt_serial(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    return parse_serial_mode("--serial", value, &cfg->serial, &cfg->serial_path, err, errlen);
}

/* --serial-port N,MODE: COM2-COM4 (COM1 is --serial); once per port. */
static int opt_serial_port(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    const char *comma = strchr(value, ',');
    char num[8];
    uint64_t n;
    size_t len = comma ? (size_t)(comma - value) : 0;
    if (!comma || len == 0 || len >= sizeof(num))
        FAIL("--serial-port: bad value '%s' (expected N,MODE with N 2..%d)", value,
             VM_SERIAL_PORTS);
    memcpy(num, value, len);
    num[len] = '\0';
    if (!parse_u64(num, &n) || n < 2 || n > VM_SERIAL_PORTS)
        FAIL("--serial-port: bad port '%s' (expected 2..%d; COM1 is --serial)", num,
             VM_SERIAL_PORTS);
    struct serial_port_config *p = &cfg->more_serial[n - 2];
    if (p->present)
        FAIL("--serial-port: COM%u given twice", (unsigned)n);
    p->present = true;
    return parse_serial_mode("--serial-port", comma + 1, &p->mode, &p->path, err, errlen);
}

static int opt_port(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    uint64_t v;
    if (!parse_u64(value, &v) || v < 1 || v > 0xffff)
        FAIL("--debug-exit-port: bad port '%s' (expected 1..0xffff)", value);
    cfg->debug_exit_port = (uint16_t)v;
    return 0;
}

static int opt_irqchip(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    if (!strcmp(value, "kernel"))
        cfg->irqchip = IRQCHIP_KERNEL;
    else if (!strcmp(value, "split"))
        cfg->irqchip = IRQCHIP_SPLIT;
    else
        FAIL("--irqchip: bad value '%s' (expected kernel or split)", value);
    return 0;
}

/* true|false|log, as Cloud Hypervisor spells it. */
static int opt_seccomp(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    if (!strcmp(value, "true"))
        cfg->seccomp = SECCOMP_ON;
    else if (!strcmp(value, "false"))
        cfg->seccomp = SECCOMP_OFF;
    else if (!strcmp(value, "log"))
        cfg->seccomp = SECCOMP_LOG;
    else
        FAIL("--seccomp: bad value '%s' (expected true, false or log)", value);
    return 0;
}

static int opt_api_socket(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    const char *path;
    if (sub_key_value("--api-socket", value, "path", "path=PATH", &path, err, errlen))
        return -1;
    if (!*path)
        FAIL("--api-socket: empty path");
    if (strlen(path) >= API_SOCKET_PATH_MAX)
        FAIL("--api-socket: path longer than %d bytes", API_SOCKET_PATH_MAX - 1);
    cfg->api_socket = path;
    return 0;
}

/* Repeatable, once per kind: `pc` and `pci` (QEMU's pc-testdev and
 * pci-testdev), `dma` and `log=PATH` (ours). */
static int opt_test_device(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    const struct { const char *kind; bool *on; } kinds[] = {
        { "pc", &cfg->pc_testdev }, { "pci", &cfg->pci_testdev }, { "dma", &cfg->dma_testdev },
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(value, kinds[i].kind))
            continue;
        if (*kinds[i].on)
            FAIL("--test-device %s given twice", value);
        *kinds[i].on = true;
        return 0;
    }
    const char *path;
    if (sub_key_value("--test-device", value, "log", "pc, pci, dma or log=PATH", &path, err, errlen))
        return -1;
    if (!*path)
        FAIL("--test-device: empty log path");
    if (cfg->test_device)
        FAIL("--test-device log=PATH given twice");
    cfg->test_device = value;
    return 0;
}

/* --iommu [KEY=on|off,...]: keys caching-mode (default off), intremap (default on). */
static int opt_iommu(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    cfg->iommu = true;
    cfg->iommu_caching_mode = false;
    cfg->iommu_intremap = true;
    for (const char *p = value; p && *p;) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!eq || eq > p + len)
            FAIL("--iommu: expected KEY=on|off, got '%.*s'", (int)len, p);
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        bool on;
        if (vlen == 2 && !strncmp(eq + 1, "on", 2))
            on = true;
        else if (vlen == 3 && !strncmp(eq + 1, "off", 3))
            on = false;
        else
            FAIL("--iommu: bad value '%.*s' for %.*s (expected on or off)", (int)vlen, eq + 1,
                 (int)klen, p);
        if (klen == 12 && !strncmp(p, "caching-mode", 12))
            cfg->iommu_caching_mode = on;
        else if (klen == 8 && !strncmp(p, "intremap", 8))
            cfg->iommu_intremap = on;
        else
            FAIL("--iommu: unknown key '%.*s' (expected caching-mode or intremap)", (int)klen, p);
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static int opt_cpu_features(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    if (cpuid_check_features(value, err, errlen))
        return -1;
    cfg->cpu_features = value;
    return 0;
}

static int opt_cmdline(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    if (strlen(value) >= LAYOUT_CMDLINE_MAX)
        FAIL("--cmdline: longer than %llu bytes", LAYOUT_CMDLINE_MAX - 1);
    cfg->cmdline = value;
    return 0;
}

static int opt_kernel(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    cfg->kernel = value;
    return 0;
}

static int opt_initramfs(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    cfg->initramfs = value;
    return 0;
}

static int opt_edu(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    (void)value;
    if (cfg->nr_edu >= 16)
        FAIL("--edu: at most 16 edu devices");
    cfg->nr_edu++;
    return 0;
}

static int opt_disk(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    VirtioDiskOptions o;
    if (virtio_parse_disk(value, &o, err, errlen))
        return -1;
    if (cfg->nr_disks >= MAX_DISKS)
        FAIL("--disk: at most %d disks", MAX_DISKS);
    cfg->disks[cfg->nr_disks++] = value;
    return 0;
}

static int opt_rng(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    VirtioRngOptions o;
    if (virtio_parse_rng(value, &o, err, errlen))
        return -1;
    cfg->rng = value ? value : "";
    return 0;
}

static int opt_vfio(const char *opt, const char *key, const char **list, unsigned *nr,
                    const char *value, char *err, size_t errlen)
{
    VFIOOptions o;
    if (vfio_parse_device(opt, key, value, &o, err, errlen))
        return -1;
    if (*nr >= MAX_VFIO_DEVICES)
        FAIL("%s: at most %d devices", opt, MAX_VFIO_DEVICES);
    list[(*nr)++] = value;
    return 0;
}

static int opt_device(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    return opt_vfio("--device", "path", cfg->vfio_devices, &cfg->nr_vfio_devices, value, err,
                    errlen);
}

static int opt_user_device(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    return opt_vfio("--user-device", "socket", cfg->vfio_user_devices,
                    &cfg->nr_vfio_user_devices, value, err, errlen);
}

static int opt_console(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    VirtioConsoleOptions o;
    if (virtio_parse_console(value, &o, err, errlen))
        return -1;
    cfg->console = o.mode == VIRTIO_CONSOLE_OFF ? NULL : value;
    cfg->console_tty = o.mode == VIRTIO_CONSOLE_TTY;
    return 0;
}

static int opt_net(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    VirtioNetOptions o;
    if (virtio_parse_net(value, &o, err, errlen))
        return -1;
    if (cfg->nr_nets >= MAX_NETS)
        FAIL("--net: at most %d network devices", MAX_NETS);
    cfg->nets[cfg->nr_nets++] = value;
    return 0;
}

static int opt_dump_pci(struct vm_config *cfg, const char *value, char *err, size_t errlen)
{
    (void)value, (void)err, (void)errlen;
    cfg->dump_pci = true;
    return 0;
}

/* OPT_OPTIONAL_VALUE: "--opt", "--opt=V" or "--opt V" (V not starting with "--"). */
enum option_kind { OPT_VALUE, OPT_OPTIONAL_VALUE, OPT_FLAG, OPT_FLAG_DUMP, OPT_FLAG_HELP,
                   OPT_FLAG_VERSION };

static const struct option_def {
    const char *name;
    enum option_kind kind;
    int (*set)(struct vm_config *cfg, const char *value, char *err, size_t errlen);
} option_defs[] = {
    { "kernel", OPT_VALUE, opt_kernel },
    { "initramfs", OPT_VALUE, opt_initramfs },
    { "cmdline", OPT_VALUE, opt_cmdline },
    { "cpus", OPT_VALUE, opt_cpus },
    { "memory", OPT_VALUE, opt_memory },
    { "serial", OPT_VALUE, opt_serial },
    { "serial-port", OPT_VALUE, opt_serial_port },
    { "cpu-features", OPT_VALUE, opt_cpu_features },
    { "test-device", OPT_VALUE, opt_test_device },
    { "debug-exit-port", OPT_VALUE, opt_port },
    { "iommu", OPT_OPTIONAL_VALUE, opt_iommu },
    { "irqchip", OPT_VALUE, opt_irqchip },
    { "seccomp", OPT_VALUE, opt_seccomp },
    { "api-socket", OPT_VALUE, opt_api_socket },
    { "dump-mtree", OPT_FLAG_DUMP, NULL },
    { "dump-pci", OPT_FLAG, opt_dump_pci },
    { "edu", OPT_FLAG, opt_edu },
    { "disk", OPT_VALUE, opt_disk },
    { "rng", OPT_OPTIONAL_VALUE, opt_rng },
    { "device", OPT_VALUE, opt_device },
    { "user-device", OPT_VALUE, opt_user_device },
    { "console", OPT_VALUE, opt_console },
    { "net", OPT_VALUE, opt_net },
    { "help", OPT_FLAG_HELP, NULL },
    { "version", OPT_FLAG_VERSION, NULL },
};

static const struct option_def *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(option_defs) / sizeof(option_defs[0]); i++)
        if (strlen(option_defs[i].name) == len && !strncmp(option_defs[i].name, name, len))
            return &option_defs[i];
    return NULL;
}

/* Options are single-valued (given twice is an error, not "the last wins")
 * except these, which collect one value per use (devices one may add several
 * of belong here). */
static bool option_repeatable(const struct option_def *def)
{
    static const char *const repeatable[] = { "serial-port", "test-device", "edu", "disk", "net" };
    for (size_t i = 0; i < sizeof(repeatable) / sizeof(repeatable[0]); i++)
        if (!strcmp(def->name, repeatable[i]))
            return true;
    return def->kind == OPT_FLAG_HELP || def->kind == OPT_FLAG_VERSION;
}

static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
    struct stat st;
    /* O_NONBLOCK: a FIFO would otherwise block the open until a writer comes. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        FAIL("cannot read %s '%s': %s", what, path, strerror(errno));
    int r = fstat(fd, &st);
    close(fd);
    if (r == 0 && S_ISDIR(st.st_mode))
        FAIL("cannot read %s '%s': %s", what, path, strerror(EISDIR));
    if (r == 0 && !S_ISREG(st.st_mode))
        FAIL("cannot read %s '%s': not a regular file", what, path);
    return 0;
}

enum options_result options_parse(int argc, char *const argv[], struct vm_config *cfg,
                                  char *err, size_t errlen)
{
    *cfg = (struct vm_config){
        .cmdline = "",
        .nr_cpus = 1,
        .mem_size = DEFAULT_MEM,
        .serial = SERIAL_TTY,
        .debug_exit_port = 0xf4,
        .seccomp = SECCOMP_ON,
    };
    bool seen[sizeof(option_defs) / sizeof(option_defs[0])] = { false };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) || !arg[2]) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
            return OPTIONS_ERROR;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct option_def *def = find_option(name, len);
        if (!def) {
            snprintf(err, errlen, "unknown option '--%.*s' (see --help)", (int)len, name);
            return OPTIONS_ERROR;
        }
        if (seen[def - option_defs] && !option_repeatable(def)) {
            snprintf(err, errlen, "option --%s given twice", def->name);
            return OPTIONS_ERROR;
        }
        seen[def - option_defs] = true;
        if (def->kind == OPT_OPTIONAL_VALUE) {
            const char *v = eq ? eq + 1 : "";
            if (!eq && i + 1 < argc && strncmp(argv[i + 1], "--", 2))
                v = argv[++i];
            if (def->set(cfg, v, err, errlen))
                return OPTIONS_ERROR;
            continue;
        }
        if (def->kind != OPT_VALUE) {
            if (eq) {
                snprintf(err, errlen, "option --%s takes no value", def->name);
                return OPTIONS_ERROR;
            }
            if (def->kind == OPT_FLAG_HELP)
                return OPTIONS_HELP;
            if (def->kind == OPT_FLAG_VERSION)
                return OPTIONS_VERSION;
            if (def->kind == OPT_FLAG) {
                if (def->set(cfg, NULL, err, errlen))
                    return OPTIONS_ERROR;
                continue;
            }
            cfg->dump_mtree = true;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            /* "--kernel --cmdline x" is a forgotten value, not a kernel named --cmdline. */
            if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)) {
                snprintf(err, errlen, "option --%s needs a value", def->name);
                return OPTIONS_ERROR;
            }
            value = argv[++i];
        }
        if (!*value && def->set != opt_cmdline) {
            snprintf(err, errlen, "option --%s needs a value", def->name);
            return OPTIONS_ERROR;
        }
        if (def->set(cfg, value, err, errlen))
            return OPTIONS_ERROR;
    }
    /* Remappable IOAPIC entries are unreadable to KVM's own IOAPIC (DESIGN §4),
     * so interrupt remapping needs ours; QEMU refuses the same combination. */
    bool intremap = cfg->iommu && cfg->iommu_intremap;
    if (intremap && cfg->irqchip == IRQCHIP_KERNEL) {
        snprintf(err, errlen, "--iommu with interrupt remapping needs --irqchip split "
                              "(or add intremap=off to --iommu)");
        return OPTIONS_ERROR;
    }
    if (cfg->irqchip == IRQCHIP_DEFAULT)
        cfg->irqchip = intremap ? IRQCHIP_SPLIT : IRQCHIP_KERNEL;
    bool dump = cfg->dump_mtree || cfg->dump_pci;
    if (!cfg->kernel && !dump) {
        snprintf(err, errlen, "no kernel given (use --kernel PATH)");
        return OPTIONS_ERROR;
    }
    unsigned on_tty = cfg->serial == SERIAL_TTY;
    for (unsigned n = 0; n < VM_SERIAL_PORTS - 1; n++)
        on_tty += cfg->more_serial[n].present && cfg->more_serial[n].mode == SERIAL_TTY;
    if (on_tty > 1) {
        snprintf(err, errlen, "only one serial port can use the terminal (tty); "
                 "COM1 does unless --serial says otherwise");
        return OPTIONS_ERROR;
    }
    if (on_tty && cfg->console_tty) {
        snprintf(err, errlen, "--console tty: the terminal is taken by a serial port "
                 "(COM1 uses it unless --serial says otherwise: add --serial off or file=PATH)");
        return OPTIONS_ERROR;
    }
    if (cfg->kernel && !dump && check_readable("kernel", cfg->kernel, err, errlen))
        return OPTIONS_ERROR;
    if (cfg->initramfs && !dump &&
        check_readable("initramfs", cfg->initramfs, err, errlen))
        return OPTIONS_ERROR;
    return OPTIONS_RUN;
}
