#include "vmm/cpuid.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "util/log.h"

enum cpuid_reg { EAX, EBX, ECX, EDX };

struct cpuid_feature {
    const char *name;
    uint32_t leaf;
    uint32_t subleaf;
    enum cpuid_reg reg;
    unsigned bit;
    const char *needs;   /* hidden when this one is hidden; set when this one is set */
};

static const struct cpuid_feature features[] = {
    { "fpu", 1, 0, EDX, 0, NULL },          { "vme", 1, 0, EDX, 1, NULL },
    { "de", 1, 0, EDX, 2, NULL },           { "pse", 1, 0, EDX, 3, NULL },
    { "tsc", 1, 0, EDX, 4, NULL },          { "msr", 1, 0, EDX, 5, NULL },
    { "pae", 1, 0, EDX, 6, NULL },          { "mce", 1, 0, EDX, 7, NULL },
    { "cx8", 1, 0, EDX, 8, NULL },          { "apic", 1, 0, EDX, 9, NULL },
    { "sep", 1, 0, EDX, 11, NULL },         { "mtrr", 1, 0, EDX, 12, NULL },
    { "pge", 1, 0, EDX, 13, NULL },         { "mca", 1, 0, EDX, 14, NULL },
    { "cmov", 1, 0, EDX, 15, NULL },        { "pat", 1, 0, EDX, 16, NULL },
    { "pse36", 1, 0, EDX, 17, NULL },       { "clflush", 1, 0, EDX, 19, NULL },
    { "mmx", 1, 0, EDX, 23, NULL },         { "fxsr", 1, 0, EDX, 24, NULL },
    { "sse", 1, 0, EDX, 25, NULL },         { "sse2", 1, 0, EDX, 26, "sse" },
    { "ht", 1, 0, EDX, 28, NULL },

    { "pni", 1, 0, ECX, 0, "sse2" },        { "sse3", 1, 0, ECX, 0, "sse2" },
    { "pclmulqdq", 1, 0, ECX, 1, "sse2" },  { "ssse3", 1, 0, ECX, 9, "pni" },
    { "fma", 1, 0, ECX, 12, "avx" },        { "cx16", 1, 0, ECX, 13, NULL },
    { "pcid", 1, 0, ECX, 17, NULL },        { "sse4_1", 1, 0, ECX, 19, "ssse3" },
    { "sse4_2", 1, 0, ECX, 20, "sse4_1" },  { "x2apic", 1, 0, ECX, 21, "apic" },
    { "movbe", 1, 0, ECX, 22, NULL },       { "popcnt", 1, 0, ECX, 23, NULL },
    { "tsc_deadline_timer", 1, 0, ECX, 24, "apic" },
    { "aes", 1, 0, ECX, 25, "sse2" },       { "xsave", 1, 0, ECX, 26, NULL },
    { "avx", 1, 0, ECX, 28, "xsave" },      { "f16c", 1, 0, ECX, 29, "avx" },
    { "rdrand", 1, 0, ECX, 30, NULL },      { "hypervisor", 1, 0, ECX, 31, NULL },

    { "fsgsbase", 7, 0, EBX, 0, NULL },     { "bmi1", 7, 0, EBX, 3, NULL },
    { "avx2", 7, 0, EBX, 5, "avx" },        { "smep", 7, 0, EBX, 7, NULL },
    { "bmi2", 7, 0, EBX, 8, NULL },         { "erms", 7, 0, EBX, 9, NULL },
    { "invpcid", 7, 0, EBX, 10, NULL },     { "avx512f", 7, 0, EBX, 16, "avx" },
    { "avx512dq", 7, 0, EBX, 17, "avx512f" }, { "rdseed", 7, 0, EBX, 18, NULL },
    { "adx", 7, 0, EBX, 19, NULL },         { "smap", 7, 0, EBX, 20, NULL },
    { "clflushopt", 7, 0, EBX, 23, NULL },  { "clwb", 7, 0, EBX, 24, NULL },
    { "avx512cd", 7, 0, EBX, 28, "avx512f" }, { "sha_ni", 7, 0, EBX, 29, "sse2" },
    { "avx512bw", 7, 0, EBX, 30, "avx512f" }, { "avx512vl", 7, 0, EBX, 31, "avx512f" },
    { "umip", 7, 0, ECX, 2, NULL },         { "pku", 7, 0, ECX, 3, "xsave" },
    { "rdpid", 7, 0, ECX, 22, NULL },

    { "xsaveopt", 0xd, 1, EAX, 0, "xsave" }, { "xsavec", 0xd, 1, EAX, 1, "xsave" },
    { "xgetbv1", 0xd, 1, EAX, 2, "xsave" },  { "xsaves", 0xd, 1, EAX, 3, "xsave" },

    { "lahf_lm", 0x80000001, 0, ECX, 0, NULL }, { "abm", 0x80000001, 0, ECX, 5, NULL },
    { "sse4a", 0x80000001, 0, ECX, 6, "sse2" }, { "syscall", 0x80000001, 0, EDX, 11, NULL },
    { "nx", 0x80000001, 0, EDX, 20, NULL },     { "pdpe1gb", 0x80000001, 0, EDX, 26, NULL },
    { "rdtscp", 0x80000001, 0, EDX, 27, NULL }, { "lm", 0x80000001, 0, EDX, 29, NULL },

    { "clzero", 0x80000008, 0, EBX, 0, NULL },  { "xsaveerptr", 0x80000008, 0, EBX, 2, NULL },
};
#define NR_FEATURES (sizeof(features) / sizeof(features[0]))

/* Bits the CPU computes from the guest's CR4; a table value would only lie. */
#define LEAF1_ECX_OSXSAVE (1u << 27)
#define LEAF7_ECX_OSPKE   (1u << 4)

/* XSAVE state components (leaf 0xD) owned by features: hidden with them. */
#define XCR0_AVX      (1ull << 2)
#define XCR0_AVX512   (7ull << 5)
#define XCR0_PKRU     (1ull << 9)
#define XSAVE_LEGACY_AREA_SIZE 576   /* legacy region + XSAVE header */

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *table, unsigned leaf, unsigned subleaf)
{
    for (unsigned i = 0; i < table->nent; i++) {
        struct kvm_cpuid_entry2 *e = &table->entries[i];
        if (e->function == leaf && (e->index == subleaf ||
                                    !(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX)))
            return e;
    }
    return NULL;
}

static uint32_t *entry_reg(struct kvm_cpuid_entry2 *e, enum cpuid_reg reg)
{
    switch (reg) {
    case EAX: return &e->eax;
    case EBX: return &e->ebx;
    case ECX: return &e->ecx;
    default:  return &e->edx;
    }
}

/* Feature names compare with '-' and '_' treated alike ("sse4-1" is "sse4_1"). */
static bool name_matches(const char *table_name, const char *name, size_t len)
{
    if (strlen(table_name) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i] == '-' ? '_' : name[i];
        if (c != table_name[i])
            return false;
    }
    return true;
}

static const struct cpuid_feature *feature_by_name(const char *name, size_t len)
{
    for (unsigned i = 0; i < NR_FEATURES; i++)
        if (name_matches(features[i].name, name, len))
            return &features[i];
    return NULL;
}

static bool feature_is_set(struct kvm_cpuid2 *table, const struct cpuid_feature *f)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(table, f->leaf, f->subleaf);
    return e && (*entry_reg(e, f->reg) >> f->bit & 1);
}

static bool same_bit(const struct cpuid_feature *a, const struct cpuid_feature *b)
{
    return a->leaf == b->leaf && a->subleaf == b->subleaf && a->reg == b->reg &&
           a->bit == b->bit;
}

static void hide_feature(struct kvm_cpuid2 *table, const struct cpuid_feature *f)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(table, f->leaf, f->subleaf);
    if (e)
        *entry_reg(e, f->reg) &= ~(1u << f->bit);
    /* Everything that needs this bit (under any of its names) goes too. */
    for (unsigned i = 0; i < NR_FEATURES; i++) {
        const struct cpuid_feature *dep = &features[i];
        if (!dep->needs || !same_bit(feature_by_name(dep->needs, strlen(dep->needs)), f))
            continue;
        if (feature_is_set(table, dep))
            hide_feature(table, dep);
    }
}

static void set_feature(struct kvm_cpuid2 *table, const struct cpuid_feature *f)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(table, f->leaf, f->subleaf);
    if (!e) {
        log_debug("cpuid: leaf 0x%x.%u is absent, cannot set %s", f->leaf, f->subleaf, f->name);
        return;
    }
    *entry_reg(e, f->reg) |= 1u << f->bit;
    if (f->needs)
        set_feature(table, feature_by_name(f->needs, strlen(f->needs)));
}

/* Walks `list`; with `table` NULL only checks it. */
static int apply_list(struct kvm_cpuid2 *table, const char *list, char *err, size_t errlen)
{
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool hide = false;
        const char *name = p;
        if (len && (*name == '+' || *name == '-')) {
            hide = *name == '-';
            name++;
            len--;
        }
        if (!len) {
            snprintf(err, errlen, "--cpu-features: empty item in '%s'", list);
            return -1;
        }
        const struct cpuid_feature *f = feature_by_name(name, len);
        if (!f) {
            if (name_matches("osxsave", name, len) || name_matches("ospke", name, len))
                snprintf(err, errlen, "--cpu-features: '%.*s' cannot be changed: the guest "
                         "sets it through CR4", (int)len, name);
            else
                snprintf(err, errlen, "--cpu-features: unknown CPU feature '%.*s'",
                         (int)len, name);
            return -1;
        }
        if (table) {
            if (hide)
                hide_feature(table, f);
            else
                set_feature(table, f);
        }
        if (!end)
            return 0;
        p = end + 1;
    }
}

int cpuid_check_features(const char *list, char *err, size_t errlen)
{
    return apply_list(NULL, list, err, errlen);
}

bool cpuid_host_is_kvm_pvm(const char *module_dir)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/kvm_pvm", module_dir);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cpuid_sysfs_module_dir(void)
{
    const char *dir = getenv("MINIVMM_SYSFS_MODULE_DIR");
    return dir && *dir ? dir : "/sys/module";
}

struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd)
{
    for (unsigned nent = 128; nent <= 4096; nent *= 2) {
        struct kvm_cpuid2 *t = calloc(1, sizeof(*t) + nent * sizeof(t->entries[0]));
        if (!t)
            return NULL;
        t->nent = nent;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, t) == 0)
            return t;
        int e = errno;
        free(t);
        if (e != E2BIG) {
            errno = e;
            return NULL;
        }
    }
    errno = E2BIG;
    return NULL;
}

/* Leaf 0xD describes the XSAVE state components; hidden features take theirs
 * along so the guest never enables state it has no instructions for. */
static void fix_xsave_leaf(struct kvm_cpuid2 *table)
{
    const struct cpuid_feature *xsave = feature_by_name("xsave", 5);
    struct kvm_cpuid_entry2 *xleaf = cpuid_find(table, 0xd, 0);
    if (!xleaf)
        return;
    uint64_t drop = 0;
    if (!feature_is_set(table, xsave))
        drop = ~0ull;
    if (!feature_is_set(table, feature_by_name("avx", 3)))
        drop |= XCR0_AVX;
    if (!feature_is_set(table, feature_by_name("avx512f", 7)))
        drop |= XCR0_AVX512;
    if (!feature_is_set(table, feature_by_name("pku", 3)))
        drop |= XCR0_PKRU;

    uint64_t xcr0 = ((uint64_t)xleaf->edx << 32 | xleaf->eax) & ~drop;
    uint32_t max_size = xcr0 ? XSAVE_LEGACY_AREA_SIZE : 0;
    for (unsigned i = 0; i < table->nent; i++) {
        struct kvm_cpuid_entry2 *e = &table->entries[i];
        if (e->function != 0xd || e->index < 2)
            continue;
        if (e->index < 64 && (drop >> e->index & 1)) {
            e->eax = e->ebx = e->ecx = e->edx = 0;
        } else if (e->index < 64 && (xcr0 >> e->index & 1) && e->eax + e->ebx > max_size) {
            max_size = e->eax + e->ebx;   /* size + offset of a user state component */
        }
    }
    if (!xcr0) {
        struct kvm_cpuid_entry2 *sub1 = cpuid_find(table, 0xd, 1);
        if (sub1)
            sub1->eax = sub1->ebx = sub1->ecx = sub1->edx = 0;
        xleaf->ebx = 0;
    }
    xleaf->eax = (uint32_t)xcr0;
    xleaf->edx = (uint32_t)(xcr0 >> 32);
    xleaf->ecx = max_size;
}

/* Hides every feature whose prerequisite is missing (KVM's table, or a hidden one). */
static void hide_orphans(struct kvm_cpuid2 *table)
{
    for (unsigned i = 0; i < NR_FEATURES; i++) {
        const struct cpuid_feature *f = &features[i];
        if (f->needs && feature_is_set(table, f) &&
            !feature_is_set(table, feature_by_name(f->needs, strlen(f->needs))))
            hide_feature(table, f);
    }
}

int cpuid_apply_policy(struct kvm_cpuid2 *table, bool kvm_pvm_defaults, const char *user_list,
                       char *err, size_t errlen)
{
    if (kvm_pvm_defaults && apply_list(table, CPUID_KVM_PVM_DEFAULTS, err, errlen))
        return -1;
    if (user_list && apply_list(table, user_list, err, errlen))
        return -1;
    hide_orphans(table);
    set_feature(table, feature_by_name("hypervisor", 10));
    struct kvm_cpuid_entry2 *e = cpuid_find(table, 1, 0);
    if (e)
        e->ecx &= ~LEAF1_ECX_OSXSAVE;
    e = cpuid_find(table, 7, 0);
    if (e)
        e->ecx &= ~LEAF7_ECX_OSPKE;
    fix_xsave_leaf(table);
    return 0;
}

static unsigned bits_for(unsigned n)
{
    unsigned b = 0;
    while ((1u << b) < n)
        b++;
    return b;
}

static unsigned min_u(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

/* Leaves 0xB and 0x1F: an SMT level of one thread, a core level of nr_cpus. */
static void add_topology_levels(struct kvm_cpuid2 *t, uint32_t leaf, unsigned apic_id,
                                unsigned nr_cpus)
{
    const struct { uint32_t eax, ebx, ecx; } levels[] = {
        { 0, 1, 1u << 8 | 0 },
        { bits_for(nr_cpus), nr_cpus, 2u << 8 | 1 },
        { 0, 0, 2 },   /* level type 0: the end of the list */
    };
    for (unsigned i = 0; i < 3; i++) {
        t->entries[t->nent++] = (struct kvm_cpuid_entry2){
            .function = leaf, .index = i, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
            .eax = levels[i].eax, .ebx = levels[i].ebx, .ecx = levels[i].ecx, .edx = apic_id,
        };
    }
}

/* Cache descriptors (leaves 4 and 0x8000001D): L1 and L2 per core, L3 shared. */
static uint32_t cache_sharing(uint32_t eax, unsigned nr_cpus)
{
    unsigned level = eax >> 5 & 7;
    unsigned sharing = level >= 3 ? min_u(nr_cpus - 1, 0xfff) : 0;
    return (eax & ~(0xfffu << 14)) | sharing << 14;
}

struct kvm_cpuid2 *cpuid_vcpu_table(const struct kvm_cpuid2 *policy, unsigned apic_id,
                                    unsigned nr_cpus)
{
    struct kvm_cpuid2 *t = calloc(1, sizeof(*t) + (policy->nent + 6) * sizeof(t->entries[0]));
    if (!t)
        return NULL;
    bool has_leaf_b = false, has_leaf_1f = false;
    for (unsigned i = 0; i < policy->nent; i++) {
        struct kvm_cpuid_entry2 e = policy->entries[i];
        if (e.function == 0xb || e.function == 0x1f) {
            has_leaf_b |= e.function == 0xb;
            has_leaf_1f |= e.function == 0x1f;
            continue;
        }
        switch (e.function) {
        case 1:
            e.ebx = (e.ebx & 0xffff) | min_u(nr_cpus, 255) << 16 | (apic_id & 0xff) << 24;
            break;
        case 4:
            if (e.eax & 0x1f)
                e.eax = (cache_sharing(e.eax, nr_cpus) & 0x03ffffff) |
                        min_u(nr_cpus - 1, 63) << 26;
            break;
        case 0x8000001d:
            if (e.eax & 0x1f)
                e.eax = cache_sharing(e.eax, nr_cpus);
            break;
        case 0x80000008:
            e.ecx = (e.ecx & ~0xf0ffu) | bits_for(nr_cpus) << 12 | (nr_cpus - 1);
            break;
        case 0x8000001e:
            e.eax = apic_id;
            e.ebx = (e.ebx & ~0xffffu) | (apic_id & 0xff);
            break;
        }
        t->entries[t->nent++] = e;
    }
    if (has_leaf_b)
        add_topology_levels(t, 0xb, apic_id, nr_cpus);
    if (has_leaf_1f)
        add_topology_levels(t, 0x1f, apic_id, nr_cpus);
    return t;
}
