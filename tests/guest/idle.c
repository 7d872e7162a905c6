/* idle: a guest that waits to be told what to do, for the control-socket and
 * seccomp tests. It prints where its counter lives, then counts (one increment
 * per loop, with `pause`) until the ACPI power button (the GED's interrupt,
 * GSI 10 -> vector 0x41) is pressed; then it powers off through \_S5_, as an
 * OS does:
 *   idle: counter at 0xADDR
 *   idle: power button
 * With `forbidden=1` on the command line it first asks the test device to make
 * a system call no seccomp filter allows (TESTDEV_CMD_FORBIDDEN_SYSCALL); if
 * that returns it prints "idle: forbidden call returned" and goes on.
 * Exit codes: 3 no ACPI tables or no \_S5_, 4 S5 did not power off. */
#include "devices/testdev.h"
#include "pcplat.h"

#define GED_GSI    10      /* ACPI_GED_GSI (vmm/acpi.h, not includable here) */
#define GED_VECTOR 0x41

static volatile unsigned long counter;
static volatile unsigned presses;

__attribute__((interrupt)) static void ged_isr(struct interrupt_frame *f)
{
    (void)f;
    presses = presses + 1;
    lapic_eoi();
}

int guest_main(void *info, unsigned long magic)
{
    (void)magic;
    struct hvm_start_info *si = info;
    struct acpi_info a;
    acpi_find(si, &a);
    int s5 = acpi_sleep_type(&a, "_S5_");
    if (s5 < 0)
        guest_fail(3, "no \\_S5_ in the DSDT");
    const char *cmdline = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";

    if (cmdline_ulong(cmdline, "forbidden", 0)) {
        outl(TESTDEV_PORT_CTRL, TESTDEV_CMD_FORBIDDEN_SYSCALL);
        puts("idle: forbidden call returned\n");
    }

    idt_set(GED_VECTOR, ged_isr);
    lapic_enable();
    ioapic_route(GED_GSI, GED_VECTOR);
    guest_printf("idle: counter at %p\n", (void *)&counter);
    sti();
    while (!presses) {
        counter = counter + 1;
        cpu_relax();
    }
    cli();
    puts("idle: power button\n");
    outb(a.sleep_status, 0x80);
    outb(a.sleep_control, (uint8_t)(s5 << 2 | 0x20));
    guest_fail(4, "still running after S5");
}
