/* The CPUID policy on a synthetic KVM_GET_SUPPORTED_CPUID table: feature names,
 * errors, set/hide with dependents, leaf 0xD, host defaults, topology. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "vmm/cpuid.h"

#define L1_ECX_CX16    (1u << 13)
#define L1_ECX_POPCNT  (1u << 23)
#define L1_ECX_XSAVE   (1u << 26)
#define L1_ECX_OSXSAVE (1u << 27)
#define L1_ECX_AVX     (1u << 28)
#define L1_ECX_FMA     (1u << 12)
#define L1_ECX_F16C    (1u << 29)
#define L1_ECX_HYPERV  (1u << 31)
#define L1_ECX_SSE3    (1u << 0)
#define L1_ECX_SSSE3   (1u << 9)
#define L1_ECX_SSE41   (1u << 19)
#define L1_EDX_SSE2    (1u << 26)
#define L7_EBX_AVX2    (1u << 5)
#define L7_EBX_AVX512F (1u << 16)
#define L7_EBX_AVX512VL (1u << 31)
#define L7_EBX_SMAP    (1u << 20)
#define L7_ECX_PKU     (1u << 3)
#define L7_ECX_OSPKE   (1u << 4)
#define XERPTR         (1u << 2)

static const struct kvm_cpuid_entry2 host_entries[] = {
    { .function = 0, .eax = 0xd },
    { .function = 1, .eax = 0x806f8, .ebx = 0x00010800,
      .ecx = 0xfffa3203 | L1_ECX_CX16 | L1_ECX_XSAVE | L1_ECX_AVX | L1_ECX_FMA | L1_ECX_F16C,
      .edx = 0x178bfbff },
    { .function = 4, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x121 },
    { .function = 4, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x163 },
    { .function = 4, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0 },
    { .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      .ebx = L7_EBX_AVX2 | L7_EBX_AVX512F | L7_EBX_AVX512VL | L7_EBX_SMAP,
      .ecx = L7_ECX_PKU | L7_ECX_OSPKE },
    { .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ecx = 0x100 },
    { .function = 0xd, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      .eax = 0x2e7, .ebx = 0x240, .ecx = 0xa88 },
    { .function = 0xd, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0xf },
    { .function = 0xd, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      .eax = 0x100, .ebx = 0x240 },
    { .function = 0xd, .index = 5, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      .eax = 0x40, .ebx = 0x440 },
    { .function = 0xd, .index = 6, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      .eax = 0x200, .ebx = 0x480 },
    { .function = 0xd, .index = 7, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      .eax = 0x400, .ebx = 0x680 },
    { .function = 0xd, .index = 9, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      .eax = 0x8, .ebx = 0xa80 },
    { .function = 0x80000000, .eax = 0x80000008 },
    { .function = 0x80000001, .ecx = 0x121, .edx = 0x2c100800 },
    { .function = 0x80000008, .eax = 0x3030, .ebx = 0x1, .ecx = 0x7001 },
};
#define NR_HOST (sizeof(host_entries) / sizeof(host_entries[0]))

static struct kvm_cpuid2 *host_table(void)
{
    struct kvm_cpuid2 *t = calloc(1, sizeof(*t) + NR_HOST * sizeof(t->entries[0]));
    t->nent = NR_HOST;
    memcpy(t->entries, host_entries, sizeof(host_entries));
    return t;
}

static uint32_t reg(struct kvm_cpuid2 *t, unsigned leaf, unsigned sub, char r)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(t, leaf, sub);
    if (!e)
        return 0xdeadbeef;
    return r == 'a' ? e->eax : r == 'b' ? e->ebx : r == 'c' ? e->ecx : e->edx;
}

/* Applies `list` (no host defaults) to a fresh host table. */
static struct kvm_cpuid2 *policy(const char *list)
{
    char err[256];
    struct kvm_cpuid2 *t = host_table();
    if (cpuid_apply_policy(t, false, list, err, sizeof(err)))
        test_fail_(__FILE__, __LINE__, "policy '%s': %s", list ? list : "(none)", err);
    return t;
}

TEST(check_names)
{
    char err[256];
    CHECK_EQ(cpuid_check_features("-cx16,+xsaveerptr", err, sizeof(err)), 0);
    CHECK_EQ(cpuid_check_features("sse4-1,sse4_2,pni,sse3,+avx512vl,-lm", err, sizeof(err)), 0);
    CHECK_EQ(cpuid_check_features("cx16,frobnicate", err, sizeof(err)), -1);
    CHECK(strstr(err, "'frobnicate'") != NULL);
    CHECK_EQ(cpuid_check_features("+", err, sizeof(err)), -1);
    CHECK(strstr(err, "empty item") != NULL);
    CHECK_EQ(cpuid_check_features("cx16,,lm", err, sizeof(err)), -1);
    CHECK_EQ(cpuid_check_features("", err, sizeof(err)), -1);
    CHECK_EQ(cpuid_check_features("+osxsave", err, sizeof(err)), -1);
    CHECK(strstr(err, "'osxsave'") != NULL && strstr(err, "CR4") != NULL);
    CHECK_EQ(cpuid_check_features("CX16", err, sizeof(err)), -1);
}

TEST(set_and_hide)
{
    struct kvm_cpuid2 *t = policy("-cx16,+xsaveerptr,popcnt,-smap");
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_CX16, 0);
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_POPCNT, L1_ECX_POPCNT);
    CHECK_EQ(reg(t, 0x80000008, 0, 'b'), 0x1 | XERPTR);
    CHECK_EQ(reg(t, 7, 0, 'b') & L7_EBX_SMAP, 0);
    CHECK_EQ(reg(t, 7, 0, 'b') & L7_EBX_AVX2, L7_EBX_AVX2);
    free(t);
    /* Last item wins. */
    t = policy("-cx16,+cx16");
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_CX16, L1_ECX_CX16);
    free(t);
}

TEST(fixed_bits)
{
    struct kvm_cpuid2 *t = host_table();
    char err[256];
    cpuid_find(t, 1, 0)->ecx &= ~L1_ECX_HYPERV;
    cpuid_find(t, 1, 0)->ecx |= L1_ECX_OSXSAVE;
    CHECK_EQ(cpuid_apply_policy(t, false, NULL, err, sizeof(err)), 0);
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_HYPERV, L1_ECX_HYPERV);
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_OSXSAVE, 0);
    CHECK_EQ(reg(t, 7, 0, 'c') & L7_ECX_OSPKE, 0);
    /* Nothing hidden: leaf 0xD as the host has it. */
    CHECK_EQ(reg(t, 0xd, 0, 'a'), 0x2e7);
    CHECK_EQ(reg(t, 0xd, 0, 'c'), 0xa88);
    free(t);
}

TEST(hide_xsave_hides_dependents)
{
    struct kvm_cpuid2 *t = policy("-xsave");
    uint32_t ecx = reg(t, 1, 0, 'c');
    CHECK_EQ(ecx & (L1_ECX_XSAVE | L1_ECX_AVX | L1_ECX_FMA | L1_ECX_F16C), 0);
    CHECK_EQ(reg(t, 7, 0, 'b') & (L7_EBX_AVX2 | L7_EBX_AVX512F | L7_EBX_AVX512VL), 0);
    CHECK_EQ(reg(t, 7, 0, 'b') & L7_EBX_SMAP, L7_EBX_SMAP);
    CHECK_EQ(reg(t, 7, 0, 'c') & L7_ECX_PKU, 0);
    for (unsigned sub = 0; sub < 10; sub++) {
        if (sub == 3 || sub == 4 || sub == 8)
            continue;
        CHECK_EQ(reg(t, 0xd, sub, 'a'), 0);
        CHECK_EQ(reg(t, 0xd, sub, 'b'), 0);
        CHECK_EQ(reg(t, 0xd, sub, 'c'), 0);
        CHECK_EQ(reg(t, 0xd, sub, 'd'), 0);
    }
    free(t);
}

TEST(hide_avx_keeps_xsave)
{
    struct kvm_cpuid2 *t = policy("-avx");
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_XSAVE, L1_ECX_XSAVE);
    CHECK_EQ(reg(t, 1, 0, 'c') & (L1_ECX_AVX | L1_ECX_FMA | L1_ECX_F16C), 0);
    CHECK_EQ(reg(t, 7, 0, 'b') & (L7_EBX_AVX2 | L7_EBX_AVX512F | L7_EBX_AVX512VL), 0);
    /* x87, SSE and PKRU remain; the largest area ends with PKRU. */
    CHECK_EQ(reg(t, 0xd, 0, 'a'), 0x203);
    CHECK_EQ(reg(t, 0xd, 0, 'c'), 0xa88);
    CHECK_EQ(reg(t, 0xd, 2, 'a'), 0);
    CHECK_EQ(reg(t, 0xd, 5, 'a'), 0);
    CHECK_EQ(reg(t, 0xd, 9, 'a'), 8);
    CHECK_EQ(reg(t, 0xd, 1, 'a'), 0xf);
    free(t);
    /* Without PKU as well, the area ends with the legacy region and header. */
    t = policy("-avx,-pku");
    CHECK_EQ(reg(t, 0xd, 0, 'a'), 0x3);
    CHECK_EQ(reg(t, 0xd, 0, 'c'), 576);
    free(t);
}

TEST(hide_sse2_chain)
{
    struct kvm_cpuid2 *t = policy("-sse2");
    CHECK_EQ(reg(t, 1, 0, 'd') & L1_EDX_SSE2, 0);
    CHECK_EQ(reg(t, 1, 0, 'c') & (L1_ECX_SSE3 | L1_ECX_SSSE3 | L1_ECX_SSE41), 0);
    free(t);
}

TEST(set_pulls_in_requirements)
{
    struct kvm_cpuid2 *t = policy("-xsave,+avx2");
    CHECK_EQ(reg(t, 7, 0, 'b') & L7_EBX_AVX2, L7_EBX_AVX2);
    CHECK_EQ(reg(t, 1, 0, 'c') & (L1_ECX_XSAVE | L1_ECX_AVX), L1_ECX_XSAVE | L1_ECX_AVX);
    CHECK_EQ(reg(t, 7, 0, 'b') & L7_EBX_AVX512F, 0);
    free(t);
}

TEST(orphans_of_the_host_table_hidden)
{
    struct kvm_cpuid2 *t = host_table();
    char err[256];
    cpuid_find(t, 1, 0)->ecx &= ~L1_ECX_XSAVE;   /* a host without XSAVE but AVX bits */
    CHECK_EQ(cpuid_apply_policy(t, false, NULL, err, sizeof(err)), 0);
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_AVX, 0);
    CHECK_EQ(reg(t, 7, 0, 'b') & L7_EBX_AVX2, 0);
    CHECK_EQ(reg(t, 0xd, 0, 'a'), 0);
    free(t);
}

TEST(kvm_pvm_probe_and_defaults)
{
    char dir[] = "/tmp/minivmm-sysfs-XXXXXX", sub[64];
    REQUIRE(mkdtemp(dir));
    CHECK(!cpuid_host_is_kvm_pvm(dir));
    snprintf(sub, sizeof(sub), "%s/kvm_pvm", dir);
    REQUIRE(mkdir(sub, 0755) == 0);
    CHECK(cpuid_host_is_kvm_pvm(dir));

    setenv("MINIVMM_SYSFS_MODULE_DIR", dir, 1);
    CHECK(!strcmp(cpuid_sysfs_module_dir(), dir));
    unsetenv("MINIVMM_SYSFS_MODULE_DIR");
    CHECK(!strcmp(cpuid_sysfs_module_dir(), "/sys/module"));
    rmdir(sub);
    rmdir(dir);

    char err[256];
    struct kvm_cpuid2 *t = host_table();
    CHECK_EQ(cpuid_apply_policy(t, true, NULL, err, sizeof(err)), 0);
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_CX16, 0);
    CHECK_EQ(reg(t, 0x80000008, 0, 'b') & XERPTR, XERPTR);
    free(t);
    /* The user's list comes after the defaults. */
    t = host_table();
    CHECK_EQ(cpuid_apply_policy(t, true, "+cx16,-xsaveerptr", err, sizeof(err)), 0);
    CHECK_EQ(reg(t, 1, 0, 'c') & L1_ECX_CX16, L1_ECX_CX16);
    CHECK_EQ(reg(t, 0x80000008, 0, 'b') & XERPTR, 0);
    free(t);
    t = host_table();
    CHECK_EQ(cpuid_apply_policy(t, true, "nonsense", err, sizeof(err)), -1);
    CHECK(strstr(err, "'nonsense'") != NULL);
    free(t);
}

TEST(topology)
{
    struct kvm_cpuid2 *p = policy(NULL);
    struct kvm_cpuid2 *t = cpuid_vcpu_table(p, 3, 5);
    REQUIRE(t);
    CHECK_EQ(reg(t, 1, 0, 'b') >> 24, 3);
    CHECK_EQ(reg(t, 1, 0, 'b') >> 16 & 0xff, 5);
    CHECK_EQ(reg(t, 1, 0, 'b') & 0xffff, 0x0800);
    /* Leaf 0xB: SMT level (1 thread), core level (5 cores, 3 bits), end. */
    CHECK_EQ(reg(t, 0xb, 0, 'b'), 1);
    CHECK_EQ(reg(t, 0xb, 0, 'c'), 0x100);
    CHECK_EQ(reg(t, 0xb, 1, 'a'), 3);
    CHECK_EQ(reg(t, 0xb, 1, 'b'), 5);
    CHECK_EQ(reg(t, 0xb, 1, 'c'), 0x201);
    CHECK_EQ(reg(t, 0xb, 2, 'c'), 2);
    for (unsigned sub = 0; sub < 3; sub++)
        CHECK_EQ(reg(t, 0xb, sub, 'd'), 3);
    /* Leaf 4: cores per package - 1 = 4; the L3 shared by all 5. */
    CHECK_EQ(reg(t, 4, 0, 'a') >> 26, 4);
    CHECK_EQ(reg(t, 4, 0, 'a') >> 14 & 0xfff, 0);
    CHECK_EQ(reg(t, 4, 1, 'a') >> 14 & 0xfff, 4);
    CHECK_EQ(reg(t, 4, 2, 'a'), 0);
    CHECK_EQ(reg(t, 0x80000008, 0, 'c'), 0x3004);
    CHECK(cpuid_find(t, 0x1f, 0) == NULL);
    free(t);
    t = cpuid_vcpu_table(p, 0, 1);
    CHECK_EQ(reg(t, 0xb, 1, 'a'), 0);
    CHECK_EQ(reg(t, 0xb, 1, 'b'), 1);
    CHECK_EQ(reg(t, 0x80000008, 0, 'c'), 0x0000);
    free(t);
    free(p);
}
