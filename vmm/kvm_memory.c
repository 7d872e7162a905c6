/* The KVM memslot listener.
 *
 * Each host-backed section of as_mem becomes one memslot covering its host-page
 * aligned interior; sub-page pieces (and sections whose guest and host addresses
 * are out of page phase) stay unmapped, so accesses there exit to dispatch,
 * which serves them correctly, only slower. A memslot cannot be changed in
 * place: a batch applies all deletions before the additions, and when a deleted
 * range overlaps an added one the vCPUs are paused in between, so no vCPU sees
 * the hole (it would take the access as MMIO, e.g. a read of RAM as all-ones).
 * When the slots run out, further sections stay unmapped too (one warning):
 * dispatch serves them from their host memory, only slower, and a vCPU cannot
 * run code from them. */
#include "vmm/kvm_memory.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"

/* More than this many host-backed sections would be a runaway configuration. */
#define MAX_SLOTS 512u
/* No x86 guest-physical address reaches this (52 bits); sections above are MMIO. */
#define MAX_GUEST_PHYS (1ull << 52)

struct kvm_slot {
    bool used;
    uint64_t gpa, size, host;
    uint32_t flags;
};

struct slot_list {
    struct kvm_slot *items;
    unsigned nr, cap;
};

struct kvm_memory_listener {
    MemoryListener ml;
    struct vm *vm;
    bool readonly_supported;
    uint64_t page_mask;
    struct kvm_slot *slots;       /* index = KVM slot id */
    unsigned nr_slots;
    bool in_batch;
    bool warned_full;             /* the out-of-slots warning was given */
    struct slot_list dels, adds;  /* the batch between begin and commit */
};

static struct kvm_memory_listener *from_ml(MemoryListener *ml)
{
    return (struct kvm_memory_listener *)((char *)ml - offsetof(struct kvm_memory_listener, ml));
}

/* The slot for a section, or false if no part of it can be mapped. */
static bool slot_of_section(const struct kvm_memory_listener *kl, const MemoryRegionSection *s,
                            struct kvm_slot *slot)
{
    if (!s->host || !s->size)
        return false;
    if (s->readonly && !kl->readonly_supported)
        return false;  /* reads trap to dispatch instead: correct, only slower */
    uint64_t gpa = s->offset_within_address_space, host = (uint64_t)(uintptr_t)s->host;
    uint64_t mask = kl->page_mask;
    if ((gpa & mask) != (host & mask))
        return false;
    uint64_t last = gpa + (s->size - 1);
    if (last < gpa || last >= MAX_GUEST_PHYS)
        return false;
    uint64_t start = (gpa + mask) & ~mask, end = (last + 1) & ~mask;
    if (end <= start)
        return false;
    *slot = (struct kvm_slot){
        .used = true,
        .gpa = start,
        .size = end - start,
        .host = host + (start - gpa),
        .flags = s->readonly ? KVM_MEM_READONLY : 0,
    };
    return true;
}

static int set_slot(struct kvm_memory_listener *kl, unsigned id, const struct kvm_slot *slot,
                    bool remove)
{
    struct kvm_userspace_memory_region r = {
        .slot = id,
        .flags = slot->flags,
        .guest_phys_addr = slot->gpa,
        .memory_size = remove ? 0 : slot->size,
        .userspace_addr = slot->host,
    };
    log_debug("kvm: slot %u: gpa 0x%llx size 0x%llx%s", id, (unsigned long long)r.guest_phys_addr,
              (unsigned long long)r.memory_size, slot->flags & KVM_MEM_READONLY ? " readonly" : "");
    if (ioctl(kl->vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) == 0)
        return 0;
    log_error("KVM_SET_USER_MEMORY_REGION (slot %u, gpa 0x%llx, size 0x%llx) failed: %s", id,
              (unsigned long long)slot->gpa, (unsigned long long)r.memory_size, strerror(errno));
    vm_request_exit(kl->vm, EXIT_HOST_ERROR);
    return -1;
}

static void apply_del(struct kvm_memory_listener *kl, const struct kvm_slot *slot)
{
    for (unsigned id = 0; id < kl->nr_slots; id++) {
        struct kvm_slot *s = &kl->slots[id];
        if (s->used && s->gpa == slot->gpa && s->size == slot->size && s->host == slot->host) {
            /* A slot KVM still has is not free (set_slot has asked for the exit). */
            if (set_slot(kl, id, s, true) == 0)
                s->used = false;
            return;
        }
    }
}

static void apply_add(struct kvm_memory_listener *kl, const struct kvm_slot *slot)
{
    for (unsigned id = 0; id < kl->nr_slots; id++) {
        if (!kl->slots[id].used) {
            if (set_slot(kl, id, slot, false) == 0)
                kl->slots[id] = *slot;
            return;
        }
    }
    if (!kl->warned_full) {
        kl->warned_full = true;
        log_warn("all %u KVM memory slots in use: gpa 0x%llx and later sections are served "
                 "by dispatch (slower; no code can run from them)", kl->nr_slots,
                 (unsigned long long)slot->gpa);
    }
}

static void list_push(struct kvm_memory_listener *kl, struct slot_list *list,
                      const struct kvm_slot *slot)
{
    if (list->nr == list->cap) {
        unsigned cap = list->cap ? list->cap * 2 : 16;
        struct kvm_slot *items = realloc(list->items, cap * sizeof(*items));
        if (!items) {
            log_error("out of memory updating KVM memory slots");
            vm_request_exit(kl->vm, EXIT_HOST_ERROR);
            return;
        }
        list->items = items;
        list->cap = cap;
    }
    list->items[list->nr++] = *slot;
}

static void listener_begin(MemoryListener *ml)
{
    struct kvm_memory_listener *kl = from_ml(ml);
    kl->in_batch = true;
    kl->dels.nr = kl->adds.nr = 0;
}

static void listener_region_del(MemoryListener *ml, const MemoryRegionSection *s)
{
    struct kvm_memory_listener *kl = from_ml(ml);
    struct kvm_slot slot;
    if (!slot_of_section(kl, s, &slot))
        return;
    if (kl->in_batch)
        list_push(kl, &kl->dels, &slot);
    else
        apply_del(kl, &slot);
}

static void listener_region_add(MemoryListener *ml, const MemoryRegionSection *s)
{
    struct kvm_memory_listener *kl = from_ml(ml);
    struct kvm_slot slot;
    if (!slot_of_section(kl, s, &slot))
        return;
    if (kl->in_batch)
        list_push(kl, &kl->adds, &slot);
    else
        apply_add(kl, &slot);
}

static bool batch_overlaps(const struct kvm_memory_listener *kl)
{
    for (unsigned i = 0; i < kl->dels.nr; i++) {
        const struct kvm_slot *d = &kl->dels.items[i];
        for (unsigned j = 0; j < kl->adds.nr; j++) {
            const struct kvm_slot *a = &kl->adds.items[j];
            if (d->gpa < a->gpa + a->size && a->gpa < d->gpa + d->size)
                return true;
        }
    }
    return false;
}

static bool same_slot(const struct kvm_slot *a, const struct kvm_slot *b)
{
    return a->gpa == b->gpa && a->size == b->size && a->host == b->host && a->flags == b->flags;
}

/* A range that is deleted and added back unchanged (e.g. a region replaced by
 * another view of the same memory) keeps its slot: no pause, no hole. */
static void drop_unchanged(struct kvm_memory_listener *kl)
{
    unsigned i = 0;
    while (i < kl->dels.nr) {
        bool dropped = false;
        for (unsigned j = 0; j < kl->adds.nr && !dropped; j++) {
            if (same_slot(&kl->dels.items[i], &kl->adds.items[j])) {
                kl->dels.items[i] = kl->dels.items[--kl->dels.nr];
                kl->adds.items[j] = kl->adds.items[--kl->adds.nr];
                dropped = true;
            }
        }
        if (!dropped)
            i++;
    }
}

static void listener_commit(MemoryListener *ml)
{
    struct kvm_memory_listener *kl = from_ml(ml);
    drop_unchanged(kl);
    bool pause = batch_overlaps(kl);
    if (pause)
        vm_pause_vcpus(kl->vm);
    for (unsigned i = 0; i < kl->dels.nr; i++)
        apply_del(kl, &kl->dels.items[i]);
    for (unsigned i = 0; i < kl->adds.nr; i++)
        apply_add(kl, &kl->adds.items[i]);
    if (pause)
        vm_resume_vcpus(kl->vm);
    kl->dels.nr = kl->adds.nr = 0;
    kl->in_batch = false;
}

int kvm_memory_listener_init(struct vm *vm)
{
    struct kvm_memory_listener *kl = calloc(1, sizeof(*kl));
    int max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
    if (!kl) {
        log_error("out of memory");
        return -1;
    }
    kl->vm = vm;
    kl->nr_slots = max > 0 && (unsigned)max < MAX_SLOTS ? (unsigned)max : MAX_SLOTS;
    kl->slots = calloc(kl->nr_slots, sizeof(*kl->slots));
    if (!kl->slots) {
        free(kl);
        log_error("out of memory");
        return -1;
    }
    kl->readonly_supported = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
    kl->page_mask = (uint64_t)sysconf(_SC_PAGESIZE) - 1;
    kl->ml = (MemoryListener){
        .begin = listener_begin,
        .region_del = listener_region_del,
        .region_add = listener_region_add,
        .commit = listener_commit,
    };
    vm->kvm_memory = kl;
    memory_listener_register(&kl->ml, vm->as_mem);
    return 0;
}

unsigned kvm_memory_slots_used(const struct vm *vm)
{
    const struct kvm_memory_listener *kl = vm->kvm_memory;
    unsigned n = 0;
    for (unsigned id = 0; kl && id < kl->nr_slots; id++)
        n += kl->slots[id].used;
    return n;
}

void kvm_memory_listener_free(struct vm *vm)
{
    struct kvm_memory_listener *kl = vm->kvm_memory;
    if (!kl)
        return;
    memory_listener_unregister(&kl->ml);
    free(kl->dels.items);
    free(kl->adds.items);
    free(kl->slots);
    free(kl);
    vm->kvm_memory = NULL;
}
