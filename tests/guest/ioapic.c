/* ioapic: programs the IOAPIC and takes interrupts from a device line, COM1's
 * IRQ 4 (enabling the THR-empty interrupt in IER raises the UART's line at
 * once; reading IIR or clearing IER lowers it). Runs with either irqchip; the
 * runner compares what it prints with what each should show.
 *
 * 1. "ioapic: id I version V entries N": the id and version registers.
 * 2. edge: pin 4 edge-triggered, vector 0x40; the handler reads IIR: exactly
 *    one interrupt.
 * 3. level: pin 4 level-triggered, vector 0x41; the handler EOIs the local
 *    APIC without lowering the line twice, so the IOAPIC must deliver again
 *    after each EOI; the third time it clears IER first: three interrupts, with
 *    remote IRR set in each handler and clear afterwards.
 * 4. mask: a masked level line stays pending, and is delivered when unmasked.
 * 5. eoireg: pin 4 level-triggered to APIC id 0xfe, which no CPU has, so no
 *    local APIC EOI can interfere; the line raised, then the vector written to
 *    the EOI register (0x40): remote IRR before and after. Ours: 1 0. KVM's
 *    (version 0x11, no EOI register) sets remote IRR only when a local APIC
 *    took the interrupt: 0 0.
 * On kvm_pvm hosts the local APIC reports a level-triggered vector's EOI when
 * it injects the interrupt, not when the guest EOIs it (seen with both
 * irqchips: KVM_EXIT_IOAPIC_EOI arrives before the handler's EOI write), so
 * a line still high at injection is delivered once more: the runner allows
 * that one extra interrupt there.
 * Exit codes: 0 done (the runner judges the lines); 2 an interrupt never came. */
#include "pcplat.h"

#define COM1_IER       (GUEST_COM1 + 1)
#define COM1_IIR       (GUEST_COM1 + 2)
#define IER_THRI       0x02
#define SERIAL_PIN     4

enum { VEC_EDGE = 0x40, VEC_LEVEL, VEC_MASK, VEC_EOIREG };
#define NR_VECS 4
#define NOBODY  0xfe      /* an APIC id no vCPU has */
#define SPINS   200000u   /* ~0.3 s emulated: far more than a delivery takes */
#define SETTLE  3000u     /* spins after the expected count, to catch extra ones */

static volatile unsigned count[NR_VECS];
static volatile unsigned rirr_in_handler;          /* level: remote IRR seen set */

/* Physical destination `dest`, fixed delivery. */
static void set_rte_dest(unsigned pin, uint8_t dest, uint32_t low)
{
    ioapic_set_rte(pin, (uint64_t)dest << 56 | low);
}

/* To APIC id 0: this CPU. */
static void set_rte(unsigned pin, uint32_t low) { set_rte_dest(pin, 0, low); }

/* Called by the stubs below with the vector; interrupts are off. */
void irq_handler(unsigned vector);
void irq_handler(unsigned vector)
{
    unsigned n = ++count[vector - VEC_EDGE];
    switch (vector) {
    case VEC_EDGE:
        inb(COM1_IIR);                     /* acknowledges THR empty: line low */
        break;
    case VEC_LEVEL:
        if (n <= 3 && (ioapic_rte_low(SERIAL_PIN) & RTE_REMOTE_IRR))
            rirr_in_handler++;
        if (n == 3)
            outb(COM1_IER, 0);
        break;
    case VEC_MASK:
        outb(COM1_IER, 0);
        break;
    }
    lapic_eoi();
}

/* One entry stub per vector: save the caller-saved registers, call the
 * handler, iretq. Nine pushes keep the stack 16-byte aligned for the call. */
#define IRQ_STUB(vec)                                                               \
    __asm__(".text\n.globl irq_stub_" #vec "\nirq_stub_" #vec ":\n"                 \
            "push %rax\npush %rcx\npush %rdx\npush %rsi\npush %rdi\n"              \
            "push %r8\npush %r9\npush %r10\npush %r11\n"                            \
            "mov $" #vec ", %edi\ncall irq_handler\n"                               \
            "pop %r11\npop %r10\npop %r9\npop %r8\n"                                \
            "pop %rdi\npop %rsi\npop %rdx\npop %rcx\npop %rax\niretq\n");
IRQ_STUB(0x40)
IRQ_STUB(0x41)
IRQ_STUB(0x42)
extern char irq_stub_0x40[], irq_stub_0x41[], irq_stub_0x42[];

/* Interrupts on until `vector` has come `want` times (then a little longer, to
 * see any extra one), off again. Returns the count. */
static unsigned wait_for(unsigned vector, unsigned want)
{
    volatile unsigned *c = &count[vector - VEC_EDGE];
    unsigned i;
    sti();
    for (i = 0; i < SPINS && *c < want; i++)
        cpu_relax();
    for (i = 0; i < SETTLE; i++)
        cpu_relax();
    cli();
    return *c;
}

static void check_came(unsigned vector, unsigned got)
{
    if (!got)
        guest_fail(2, "no interrupt at vector 0x%x\n", vector);
}

int guest_main(void *info, unsigned long magic)
{
    (void)info, (void)magic;
    idt_set(VEC_EDGE, irq_stub_0x40);
    idt_set(VEC_LEVEL, irq_stub_0x41);
    idt_set(VEC_MASK, irq_stub_0x42);
    lapic_enable();

    uint32_t id = ioapic_read(0x00), ver = ioapic_read(0x01);
    guest_printf("ioapic: id %u version 0x%x entries %u\n", id >> 24, ver & 0xff,
                 ((ver >> 16) & 0xff) + 1);

    set_rte(SERIAL_PIN, VEC_EDGE);
    outb(COM1_IER, IER_THRI);
    unsigned n = wait_for(VEC_EDGE, 1);
    outb(COM1_IER, 0);
    check_came(VEC_EDGE, n);
    guest_printf("edge: %u interrupts\n", n);

    set_rte(SERIAL_PIN, RTE_LEVEL | VEC_LEVEL);
    outb(COM1_IER, IER_THRI);
    n = wait_for(VEC_LEVEL, 3);
    check_came(VEC_LEVEL, n);
    guest_printf("level: %u interrupts, remote IRR set in %u handlers, after: %u\n", n,
                 rirr_in_handler, (ioapic_rte_low(SERIAL_PIN) & RTE_REMOTE_IRR) != 0);

    set_rte(SERIAL_PIN, RTE_MASKED | RTE_LEVEL | VEC_MASK);
    outb(COM1_IER, IER_THRI);
    unsigned held = wait_for(VEC_MASK, 1);
    set_rte(SERIAL_PIN, RTE_LEVEL | VEC_MASK);
    n = wait_for(VEC_MASK, 1);
    check_came(VEC_MASK, n);
    guest_printf("mask: %u while masked, %u after unmasking\n", held, n);

    set_rte_dest(SERIAL_PIN, NOBODY, RTE_LEVEL | VEC_EOIREG);
    outb(COM1_IER, IER_THRI);
    unsigned before = (ioapic_rte_low(SERIAL_PIN) & RTE_REMOTE_IRR) != 0;
    outb(COM1_IER, 0);
    mmio_write32(IOAPIC_BASE + IOAPIC_EOI, VEC_EOIREG);
    unsigned after = (ioapic_rte_low(SERIAL_PIN) & RTE_REMOTE_IRR) != 0;
    guest_printf("eoireg: remote IRR before %u after %u\n", before, after);
    set_rte(SERIAL_PIN, RTE_MASKED);
    return 0;
}
