/* PC platform devices on a fake VM (no KVM), driven through the address
 * spaces as a vCPU would: the RTC's ports, CMOS bytes and timer-thread
 * interrupts, QEMU's pc-testdev, the ACPI PM timer and S3 sleep state. */
#include <string.h>
#include <time.h>

#include "devices/mc146818.h"
#include "devices/platform.h"
#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"
#include "vmm/acpi.h"
#include "vmm/layout.h"

#define RAM_SIZE (64ull << 20)

static void out8(struct fake_vm *f, uint16_t port, uint8_t v)
{
    CHECK_EQ(address_space_write(f->vm.as_io, port, &v, 1), MEMTX_OK);
}

static uint8_t in8(struct fake_vm *f, uint16_t port)
{
    uint8_t v = 0;
    CHECK_EQ(address_space_read(f->vm.as_io, port, &v, 1), MEMTX_OK);
    return v;
}

static uint8_t cmos(struct fake_vm *f, uint8_t index)
{
    out8(f, RTC_PORT_INDEX, index);
    return in8(f, RTC_PORT_DATA);
}

static unsigned irq_calls(struct fake_vm *f, unsigned gsi)
{
    return __atomic_load_n(&f->irq_calls[gsi], __ATOMIC_ACQUIRE);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

TEST(rtc_ports_read_the_host_date)
{
    struct fake_vm f;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 2));
    REQUIRE(rtc_create(&f.vm) == 0);
    out8(&f, RTC_PORT_INDEX, RTC_REG_B);
    out8(&f, RTC_PORT_DATA, RTC_B_24H | RTC_B_BINARY);
    time_t before = time(NULL);
    unsigned year = cmos(&f, RTC_CENTURY) * 100u + cmos(&f, RTC_YEAR);
    unsigned mon = cmos(&f, RTC_MONTH), day = cmos(&f, RTC_DAY_OF_MONTH);
    unsigned h = cmos(&f, RTC_HOURS), m = cmos(&f, RTC_MINUTES), s = cmos(&f, RTC_SECONDS);
    struct tm tm = { .tm_year = (int)year - 1900, .tm_mon = (int)mon - 1, .tm_mday = (int)day,
                     .tm_hour = (int)h, .tm_min = (int)m, .tm_sec = (int)s };
    time_t rtc = timegm(&tm);
    CHECK(rtc >= before && rtc <= time(NULL));
    CHECK_EQ(in8(&f, RTC_PORT_INDEX), 0xff);          /* the index port is write-only */
    out8(&f, RTC_PORT_INDEX, 0x80 | RTC_REG_D);       /* NMI off, index 0x0d */
    CHECK_EQ(in8(&f, RTC_PORT_DATA), RTC_D_VRT);
    fake_vm_destroy(&f);
}

TEST(rtc_cmos_memory_bytes)
{
    struct fake_vm f;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 3));
    REQUIRE(rtc_create(&f.vm) == 0);
    CHECK_EQ(cmos(&f, 0x15) | cmos(&f, 0x16) << 8, 640);
    uint64_t ext_kb = (RAM_SIZE - (1u << 20)) / 1024;
    CHECK_EQ(cmos(&f, 0x17) | cmos(&f, 0x18) << 8, ext_kb);
    CHECK_EQ(cmos(&f, 0x30) | cmos(&f, 0x31) << 8, ext_kb);
    CHECK_EQ(cmos(&f, 0x34) | cmos(&f, 0x35) << 8, (RAM_SIZE - (16u << 20)) >> 16);
    CHECK_EQ(cmos(&f, 0x5b) | cmos(&f, 0x5c) << 8 | cmos(&f, 0x5d) << 16, 0);
    CHECK_EQ(cmos(&f, 0x5f), 2);
    fake_vm_destroy(&f);
}

/* The timer thread raises IRQ 8 for a periodic interrupt nobody polls, and
 * again only after register C is read. */
TEST(rtc_periodic_interrupt_from_the_timer_thread)
{
    struct fake_vm f;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 1));
    REQUIRE(rtc_create(&f.vm) == 0);
    out8(&f, RTC_PORT_INDEX, RTC_REG_A);
    out8(&f, RTC_PORT_DATA, RTC_A_DIVIDER_32K | 6);   /* 1024 Hz */
    cmos(&f, RTC_REG_C);
    CHECK_EQ(irq_calls(&f, RTC_IRQ), 0);
    out8(&f, RTC_PORT_INDEX, RTC_REG_B);
    out8(&f, RTC_PORT_DATA, RTC_B_24H | RTC_B_PIE);
    for (int i = 0; i < 200 && irq_calls(&f, RTC_IRQ) == 0; i++)
        sleep_ms(1);
    CHECK_EQ(irq_calls(&f, RTC_IRQ), 1);
    sleep_ms(5);
    CHECK_EQ(irq_calls(&f, RTC_IRQ), 1);              /* stays high until C is read */
    CHECK(f.irq_level[RTC_IRQ]);
    CHECK_EQ(cmos(&f, RTC_REG_C) & (RTC_C_IRQF | RTC_C_PF), RTC_C_IRQF | RTC_C_PF);
    CHECK(irq_calls(&f, RTC_IRQ) >= 2);               /* lowered by the read */
    for (int i = 0; i < 200 && irq_calls(&f, RTC_IRQ) < 3; i++)
        sleep_ms(1);
    CHECK(irq_calls(&f, RTC_IRQ) >= 3);               /* and raised again */
    fake_vm_destroy(&f);
}

TEST(pc_testdev_registers)
{
    struct fake_vm f;
    fake_vm_init(&f);
    REQUIRE(pc_testdev_create(&f.vm) == 0);
    AddressSpace *io = f.vm.as_io;
    MemTxResult r;
    CHECK_EQ(address_space_stl_le(io, PC_TESTDEV_PORT_DATA, 0x11223344), MEMTX_OK);
    CHECK_EQ(address_space_ldl_le(io, PC_TESTDEV_PORT_DATA, &r), 0x11223344);
    CHECK_EQ(address_space_ldub(io, PC_TESTDEV_PORT_DATA + 2, &r), 0x22);
    CHECK_EQ(address_space_lduw_le(io, PC_TESTDEV_PORT_DATA + 2, &r), 0x1122);
    CHECK_EQ(address_space_stb(io, PC_TESTDEV_PORT_DATA + 1, 0xab), MEMTX_OK);
    CHECK_EQ(address_space_ldl_le(io, PC_TESTDEV_PORT_DATA_BYTE, &r), 0x1122ab44);
    CHECK_EQ(address_space_stw_le(io, PC_TESTDEV_PORT_DATA_BYTE + 2, 0x5566), MEMTX_OK);
    CHECK_EQ(address_space_ldl_le(io, PC_TESTDEV_PORT_DATA, &r), 0x5566ab44);
    /* unaligned on the 4-byte port: refused, as in QEMU */
    address_space_lduw_le(io, PC_TESTDEV_PORT_DATA + 1, &r);
    CHECK(r != MEMTX_OK);
    /* IRQ lines */
    CHECK_EQ(address_space_stb(io, PC_TESTDEV_PORT_IRQ + 10, 7), MEMTX_OK);
    CHECK(f.irq_level[10]);
    CHECK_EQ(address_space_stb(io, PC_TESTDEV_PORT_IRQ + 10, 0), MEMTX_OK);
    CHECK(!f.irq_level[10]);
    CHECK_EQ(f.irq_calls[10], 2);
    CHECK(address_space_stw_le(io, PC_TESTDEV_PORT_IRQ, 1) != MEMTX_OK);   /* bytes only */
    CHECK_EQ(f.irq_calls[0] + f.irq_calls[1], 0);
    /* the flush port takes 4-byte writes; an address that is not RAM is ignored */
    CHECK_EQ(address_space_stl_le(io, PC_TESTDEV_PORT_FLUSH, 0x12345000), MEMTX_OK);
    CHECK(address_space_stb(io, PC_TESTDEV_PORT_FLUSH, 1) != MEMTX_OK);
    /* scratch memory */
    AddressSpace *mem = f.vm.as_mem;
    CHECK_EQ(address_space_stl_le(mem, PC_TESTDEV_IOMEM + 0x100, 0xcafef00d), MEMTX_OK);
    CHECK_EQ(address_space_ldub(mem, PC_TESTDEV_IOMEM + 0x101, &r), 0xf0);
    CHECK_EQ(address_space_stb(mem, PC_TESTDEV_IOMEM + 0xffff, 0x5a), MEMTX_OK);
    CHECK_EQ(address_space_ldub(mem, PC_TESTDEV_IOMEM + 0xffff, &r), 0x5a);
    CHECK_EQ(address_space_ldl_le(mem, PC_TESTDEV_IOMEM + 0x100, &r), 0xcafef00d);
    fake_vm_destroy(&f);
}

TEST(pc_testdev_flush_keeps_the_page)
{
    struct fake_vm f;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 1));
    REQUIRE(pc_testdev_create(&f.vm) == 0);
    CHECK_EQ(address_space_stq_le(f.vm.as_mem, 0x200008, 0x0123456789abcdefull), MEMTX_OK);
    CHECK_EQ(address_space_stl_le(f.vm.as_io, PC_TESTDEV_PORT_FLUSH, 0x200123), MEMTX_OK);
    MemTxResult r;
    CHECK_EQ(address_space_ldq_le(f.vm.as_mem, 0x200008, &r), 0x0123456789abcdefull);
    fake_vm_destroy(&f);
}

TEST(acpi_pm_timer_counts_at_3_58_mhz)
{
    struct fake_vm f;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 1));
    REQUIRE(acpi_pm_init(&f.vm) == 0);
    MemTxResult r;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint32_t t1 = address_space_ldl_le(f.vm.as_io, ACPI_PM_TIMER_PORT, &r);
    sleep_ms(20);
    uint32_t t2 = address_space_ldl_le(f.vm.as_io, ACPI_PM_TIMER_PORT, &r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    uint32_t ticks = t2 - t1;
    CHECK(ticks > 0 && ticks <= (uint32_t)(secs * ACPI_PM_TIMER_HZ) + 1);
    CHECK(ticks >= (uint32_t)(0.020 * ACPI_PM_TIMER_HZ));
    /* byte reads are cut from the 32-bit value; writes are ignored */
    CHECK(address_space_ldub(f.vm.as_io, ACPI_PM_TIMER_PORT + 3, &r) <= (t2 >> 24) + 1);
    CHECK_EQ(address_space_stl_le(f.vm.as_io, ACPI_PM_TIMER_PORT, 0), MEMTX_OK);
    CHECK(address_space_ldl_le(f.vm.as_io, ACPI_PM_TIMER_PORT, &r) - t2 < 0x80000000u);
    fake_vm_destroy(&f);
}

/* S3 stops the (here: no) vCPUs; a wake event sets WAK_STS, which the guest
 * clears by writing 1. Wake events while awake change nothing. */
TEST(acpi_s3_sleep_and_wake_status)
{
    struct fake_vm f;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 1));
    REQUIRE(acpi_pm_init(&f.vm) == 0);
    acpi_pm_wake(&f.vm);
    CHECK_EQ(in8(&f, ACPI_PM_SLEEP_STATUS_PORT), 0);
    out8(&f, ACPI_PM_SLEEP_CONTROL_PORT, ACPI_S3_SLEEP_TYPE << ACPI_SLEEP_TYPE_SHIFT);
    CHECK_EQ(f.vm.pause_depth, 0);                    /* no SLP_EN: nothing */
    out8(&f, ACPI_PM_SLEEP_CONTROL_PORT,
         ACPI_S3_SLEEP_TYPE << ACPI_SLEEP_TYPE_SHIFT | ACPI_SLEEP_ENABLE);
    CHECK_EQ(f.vm.pause_depth, 1);
    CHECK(!f.vm.exit_requested);
    acpi_pm_wake(&f.vm);
    CHECK_EQ(f.vm.pause_depth, 0);
    CHECK_EQ(in8(&f, ACPI_PM_SLEEP_STATUS_PORT), ACPI_WAKE_STATUS);
    out8(&f, ACPI_PM_SLEEP_STATUS_PORT, ACPI_WAKE_STATUS);
    CHECK_EQ(in8(&f, ACPI_PM_SLEEP_STATUS_PORT), 0);
    fake_vm_destroy(&f);
}

static uint32_t ld32(struct fake_vm *f, uint64_t gpa)
{
    MemTxResult r;
    return address_space_ldl_le(f->vm.as_mem, gpa, &r);
}

static bool checksum_ok(struct fake_vm *f, uint64_t gpa, uint32_t len)
{
    uint8_t sum = 0, b;
    for (uint32_t i = 0; i < len; i++) {
        address_space_read(f->vm.as_mem, gpa + i, &b, 1);
        sum = (uint8_t)(sum + b);
    }
    return sum == 0;
}

/* The RSDT beside the XSDT (same tables, 32-bit), the FACS the FADT points at,
 * and the FADT's PM timer. */
TEST(acpi_rsdt_facs_and_pm_timer_in_the_tables)
{
    struct fake_vm f;
    REQUIRE(fake_vm_init_with_ram(&f, RAM_SIZE, 2));
    REQUIRE(acpi_setup(&f.vm) == 0);
    uint64_t rsdp = LAYOUT_ACPI;
    uint32_t rsdt = ld32(&f, rsdp + 16);
    uint64_t xsdt = ld32(&f, rsdp + 24) | (uint64_t)ld32(&f, rsdp + 28) << 32;
    REQUIRE(rsdt != 0);
    CHECK(checksum_ok(&f, rsdp, 20));
    CHECK_EQ(ld32(&f, rsdt), 0x54445352);                   /* "RSDT" */
    uint32_t rlen = ld32(&f, rsdt + 4), xlen = ld32(&f, xsdt + 4);
    CHECK(checksum_ok(&f, rsdt, rlen));
    REQUIRE((rlen - 36) / 4 == (xlen - 36) / 8 && rlen > 36);
    uint64_t fadt = 0;
    for (uint32_t i = 0; i < (rlen - 36) / 4; i++) {
        uint32_t e = ld32(&f, rsdt + 36 + 4 * i);
        CHECK_EQ(e, ld32(&f, xsdt + 36 + 8 * i));
        CHECK_EQ(ld32(&f, xsdt + 36 + 8 * i + 4), 0);
        if (ld32(&f, e) == 0x50434146)                         /* "FACP" */
            fadt = e;
    }
    REQUIRE(fadt != 0);
    CHECK_EQ(ld32(&f, fadt + 36), ACPI_FACS_ADDR);
    CHECK_EQ(ACPI_FACS_ADDR % 64, 0);
    CHECK_EQ(ld32(&f, ACPI_FACS_ADDR), 0x53434146);          /* "FACS" */
    CHECK_EQ(ld32(&f, ACPI_FACS_ADDR + 4), 64);
    CHECK_EQ(ld32(&f, ACPI_FACS_ADDR + 12), 0);              /* no waking vector yet */
    CHECK_EQ(ld32(&f, fadt + 76), ACPI_PM_TIMER_PORT);       /* PM_TMR_BLK */
    MemTxResult r;
    CHECK_EQ(address_space_ldub(f.vm.as_mem, fadt + 91, &r), 4);          /* PM_TMR_LEN */
    CHECK_EQ(ld32(&f, fadt + 208) & 0xffff, 1 | 32 << 8);    /* X_PM_TMR_BLK: I/O, 32 bits */
    CHECK_EQ(ld32(&f, fadt + 212), ACPI_PM_TIMER_PORT);
    CHECK(ld32(&f, fadt + 112) & (1u << 8));                 /* TMR_VAL_EXT */
    CHECK(!(ld32(&f, fadt + 108) >> 8 & (1u << 5)));         /* no NO_CMOS_RTC */
    fake_vm_destroy(&f);
}
