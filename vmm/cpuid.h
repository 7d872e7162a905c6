/* CPUID policy: what the guest's CPUID says, starting from what KVM supports.
 *
 * A feature list ("--cpu-features -cx16,+xsaveerptr") is a comma-separated list of
 * feature names, each with '+' (set; also the meaning of a bare name) or '-'
 * (hide). Items apply left to right, the last one wins. Hiding a feature also
 * hides the features that need it (-xsave hides avx, avx2, avx512*, fma, ...);
 * setting one also sets what it needs (+avx sets xsave). */
#ifndef MINIVMM_CPUID_H
#define MINIVMM_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>

/* Host-compatibility defaults applied before the user's list on hosts whose KVM
 * is kvm_pvm (see DESIGN.md §8): its emulator cannot run cmpxchg16b or the FPU
 * work-around a guest uses without XSAVEERPTR. */
#define CPUID_KVM_PVM_DEFAULTS "-cx16,+xsaveerptr"

/* Checks a feature list without applying it. Returns 0, or -1 with a message
 * naming the bad item in `err`. */
int cpuid_check_features(const char *list, char *err, size_t errlen);

/* Whether `module_dir` (normally /sys/module) shows the kvm_pvm module. */
bool cpuid_host_is_kvm_pvm(const char *module_dir);
/* The module directory to probe: $MINIVMM_SYSFS_MODULE_DIR, else /sys/module. */
const char *cpuid_sysfs_module_dir(void);

/* KVM_GET_SUPPORTED_CPUID into a fresh table (free() it); NULL with errno on failure. */
struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd);

/* Applies the defaults (when `kvm_pvm_defaults`), then `user_list` (may be NULL),
 * then the fixed settings (hypervisor bit on, OSXSAVE/OSPKE off: the CPU derives
 * them from the guest's CR4). Returns 0, or -1 with a message in `err`. */
int cpuid_apply_policy(struct kvm_cpuid2 *table, bool kvm_pvm_defaults, const char *user_list,
                       char *err, size_t errlen);

/* A copy of `policy` for the vCPU with `apic_id` of `nr_cpus` (one socket, one
 * thread per core): APIC IDs in leaves 1, 0xB, 0x1F, 0x8000001E; core counts in
 * leaves 4, 0x8000001D, 0x80000008. free() it; NULL when out of memory. */
struct kvm_cpuid2 *cpuid_vcpu_table(const struct kvm_cpuid2 *policy, unsigned apic_id,
                                    unsigned nr_cpus);

/* The entry for (leaf, subleaf), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *table, unsigned leaf, unsigned subleaf);

#endif
