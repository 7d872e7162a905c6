/* The KVM memslot listener on a real KVM VM (skipped without /dev/kvm): more
 * sections than slots fall back to dispatch, and a failed delete keeps its slot. */
#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"
#include "vmm/kvm_memory.h"

#define NR_PAGES 600   /* more than the listener's 512 slots */
#define PAGE 0x1000ull

TEST(slots_run_out_then_dispatch_serves_the_rest)
{
    struct fake_vm f;
    fake_vm_init(&f);
    if (!fake_vm_open_kvm(&f)) {
        fake_vm_destroy(&f);
        return;
    }
    int vmfd = f.vm.vm_fd;
    REQUIRE(kvm_memory_listener_init(&f.vm) == 0);

    /* One page of RAM each, two pages apart: one slot per section. */
    f.vm.ram = memory_region_new_ram("ram", NR_PAGES * PAGE);
    REQUIRE(f.vm.ram);
    uint8_t *host = memory_region_get_ram_ptr(f.vm.ram);
    MemoryRegion *pages[NR_PAGES];
    memory_region_transaction_begin();
    for (unsigned i = 0; i < NR_PAGES; i++) {
        host[i * PAGE] = (uint8_t)i;
        pages[i] = memory_region_new_alias("page", f.vm.ram, i * PAGE, PAGE);
        memory_region_add_subregion(f.vm.sysmem, 0x100000 + 2 * i * PAGE, pages[i]);
    }
    memory_region_transaction_commit();
    CHECK(!f.vm.exit_requested);
    CHECK_EQ(kvm_memory_slots_used(&f.vm), 512);
    MemTxResult res;
    CHECK_EQ(address_space_ldub(f.vm.as_mem, 0x100000 + 2 * (NR_PAGES - 1) * PAGE, &res),
             (uint8_t)(NR_PAGES - 1));

    /* A delete KVM refuses (a bad VM fd here) leaves the slot taken. */
    f.vm.vm_fd = -1;
    memory_region_del_subregion(f.vm.sysmem, pages[0]);
    CHECK(f.vm.exit_requested);
    CHECK_EQ(f.vm.exit_status, EXIT_HOST_ERROR);
    CHECK_EQ(kvm_memory_slots_used(&f.vm), 512);
    f.vm.vm_fd = vmfd;

    kvm_memory_listener_free(&f.vm);
    for (unsigned i = 0; i < NR_PAGES; i++)
        memory_region_unref(pages[i]);
    fake_vm_destroy(&f);
    fake_vm_close_kvm(&f);
}
