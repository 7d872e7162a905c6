/* smp: the BSP starts the APs through the local APIC (INIT, STARTUP, STARTUP
 * with vector 0x08 -> the trampoline at 0x8000, lib/tramp.S); each AP prints
 * "cpu N online" (N = its APIC ID) and counts itself in with lock xadd; the BSP
 * waits, bounded, for all of them and prints "all N cpus online".
 * N comes from the command line: cpus=N (the runner passes --cmdline cpus=N).
 * With flood=1 the BSP then prints lines without end while AP 1, once
 * FLOOD_BYTES have gone out (or after a long TSC wait, should output block),
 * crashes the guest with a triple fault: minivmm must exit with status 6 even
 * when nobody reads its output. With stall=1 the BSP instead gets stuck in a
 * device (the test device's stall command, holding the big lock) and AP 1 then
 * crashes the guest: minivmm must give up on the BSP and exit with status 6.
 * Exit codes: 0 ok; 2 timeout; 3 bad command line / boot info. */
#include "guest.h"
#include "tramp.h"

#define SIPI_VECTOR    (TRAMP_BASE >> 12)
#define MAX_CPUS       16
#define AP_STACK_SIZE  4096

#define LAPIC_BASE     0xfee00000ul
#define LAPIC_ID       0x020
#define LAPIC_SVR      0x0f0
#define LAPIC_ICR_LO   0x300
#define LAPIC_ICR_HI   0x310
#define ICR_INIT       0x00000500u
#define ICR_STARTUP    0x00000600u
#define ICR_ASSERT     0x00004000u
#define ICR_BUSY       0x00001000u

static char ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((section(".stack"), aligned(16)));
static volatile uint32_t cpus_online = 1;   /* the BSP */
static volatile uint32_t flood_mode;
static volatile uint32_t flood_bytes;       /* printed by the BSP in flood mode */
static volatile uint32_t stall_mode, bsp_stalling;
#define FLOOD_BYTES (72u << 10)             /* more than a pipe holds */
#define FLOOD_LINE  "flood: 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"

static uint32_t lapic_read(unsigned reg) { return mmio_read32(LAPIC_BASE + reg); }
static void lapic_write(unsigned reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }

static void short_delay(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        cpu_relax();
}

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
    lapic_write(LAPIC_ICR_HI, apic_id << 24);
    lapic_write(LAPIC_ICR_LO, icr);
    for (unsigned i = 0; i < 1000 && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY); i++)
        cpu_relax();
}

static __attribute__((noreturn, used)) void ap_main(void)
{
    uint32_t id = lapic_read(LAPIC_ID) >> 24;
    spin_lock(&serial_lock);
    guest_printf("cpu %u online\n", id);
    spin_unlock(&serial_lock);
    atomic_fetch_add32(&cpus_online, 1);
    if (stall_mode && id == 1) {
        while (!atomic_read32(&bsp_stalling))
            cpu_relax();
        short_delay(100000);   /* the BSP's port write reaches the device meanwhile */
        load_empty_idt();
        __asm__ volatile("ud2" ::: "memory");
    }
    if (flood_mode && id == 1) {
        /* 4*10^10 TSC ticks (8-40 s) only matter when output blocks the BSP. */
        uint64_t start = rdtsc();
        while (atomic_read32(&flood_bytes) < FLOOD_BYTES && rdtsc() - start < 40000000000ull)
            cpu_relax();
        load_empty_idt();
        __asm__ volatile("ud2" ::: "memory");
    }
    halt_forever();
}

int guest_main(void *info, unsigned long magic)
{
    const struct hvm_start_info *si = info;
    (void)magic;

    if (!si || si->magic != HVM_START_MAGIC)
        guest_fail(3, "no hvm_start_info");
    const char *cmdline = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
    unsigned long n = cmdline_ulong(cmdline, "cpus", 0);
    if (n < 1 || n > MAX_CPUS)
        guest_fail(3, "command line \"%s\": need cpus=N with 1 <= N <= %u", cmdline, MAX_CPUS);

    flood_mode = (uint32_t)cmdline_ulong(cmdline, "flood", 0);
    stall_mode = (uint32_t)cmdline_ulong(cmdline, "stall", 0);
    uint32_t bsp_id = lapic_read(LAPIC_ID) >> 24;
    guest_printf("smp: bsp apic id %u, starting %lu cpus\n", bsp_id, n);

    /* Each AP takes the next of ap_stacks and enters with the BSP's NXE. */
    tramp_install(EFER_LME | ((uint32_t)rdmsr(EFER_MSR) & EFER_NXE), ap_stacks, AP_STACK_SIZE,
                  ap_main);

    lapic_write(LAPIC_SVR, 0x1ff);  /* software enable, spurious vector 0xff */
    for (uint32_t id = 0; id < n; id++) {
        if (id == bsp_id)
            continue;
        send_ipi(id, ICR_INIT | ICR_ASSERT);
        short_delay(100);  /* KVM's in-kernel LAPIC needs no 10 ms wait */
        send_ipi(id, ICR_STARTUP | ICR_ASSERT | SIPI_VECTOR);
        short_delay(20);
        send_ipi(id, ICR_STARTUP | ICR_ASSERT | SIPI_VECTOR);
    }

    /* Bounded wait: 5*10^9 TSC ticks (1.2-5 s; APs take ~10 ms here on an
     * emulating host, far less natively) or 2*10^8 polls, whichever comes
     * first (the poll bound only matters if the TSC does not advance). */
    uint64_t start = rdtsc();
    for (unsigned long polls = 0; atomic_read32(&cpus_online) < n; polls++) {
        if (rdtsc() - start > 5000000000ull || polls > 200000000ul) {
            spin_lock(&serial_lock);
            guest_printf("smp: timeout: %u of %lu cpus online\n", atomic_read32(&cpus_online), n);
            spin_unlock(&serial_lock);
            guest_exit(2);
        }
        cpu_relax();
    }
    spin_lock(&serial_lock);
    guest_printf("all %lu cpus online\n", n);
    spin_unlock(&serial_lock);
    if (stall_mode) {
        atomic_fetch_add32(&bsp_stalling, 1);
        outl(TESTDEV_PORT_CTRL, TESTDEV_CMD_STALL);
        puts("smp: back from the stalled device\n");
    }
    while (flood_mode) {
        spin_lock(&serial_lock);
        puts(FLOOD_LINE);
        spin_unlock(&serial_lock);
        atomic_fetch_add32(&flood_bytes, sizeof(FLOOD_LINE) - 1);
    }
    return 0;
}
