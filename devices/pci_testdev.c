/* pci-testdev: QEMU's PCI test device (vendor 0x1b36, device 0x0005), so test
 * kernels written for it (kvm-unit-tests' pci test) run unchanged.
 * `--test-device pci`.
 *
 * BAR 0 is 4 KiB of memory, BAR 1 256 I/O ports; both decode bytewise (wider
 * accesses are split, little-endian). Each BAR offers three tests: 0 no-eventfd,
 * 1 wildcard-eventfd, 2 datamatch-eventfd. A byte write of N to offset 0 of a
 * BAR stops the running test and starts test N of that BAR (N >= 3: none).
 * Reads return the running test's header bytes (0 past its end, or with no
 * test running):
 *   0x00 u8 test number (mmio 0-2, portio 3-5)   0x01 u8 access width (1)
 *   0x04 le32 notify offset: the BAR's size / 2 + the test number
 *   0x08 u8 data (0xfa; 0xce for the wildcard test)   0x0c le32 count
 *   0x10 name ("mmio-no-eventfd", ..., "portio-datamatch-eventfd"), NUL-ended
 * A byte write at the notify offset counts, for the datamatch and no-eventfd
 * tests only when it carries the data byte. Starting a test zeroes its count.
 *
 * ioeventfd: with KVM, the eventfd tests put a KVM ioeventfd (1 byte, with
 * datamatch for the datamatch test) on the notify offset wherever the BAR is
 * mapped, so those writes never leave the kernel. Where QEMU then reads a
 * count of 0, we add what the eventfd counted when the count is read, so the
 * guest sees every notify either way (kvm-unit-tests accepts both). */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/devices.h"
#include "pci/pci.h"
#include "util/log.h"

#define IOTEST_MEM_SIZE   0x1000
#define IOTEST_IO_SIZE    0x100
#define IOTEST_PER_BAR    3
#define IOTEST_DATAMATCH  0xfa
#define IOTEST_NOMATCH    0xce
#define IOTEST_HDR_SIZE   0x10
#define IOTEST_NAME_MAX   32

enum { TEST_NO_EVENTFD, TEST_WILDCARD, TEST_DATAMATCH };

typedef struct IOTest {
    uint8_t buf[IOTEST_HDR_SIZE + IOTEST_NAME_MAX];   /* the header the guest reads */
    unsigned len;                                     /* header + name + NUL */
} IOTest;

/* Where a KVM ioeventfd is assigned now (active false: nowhere). */
typedef struct AssignedEventfd {
    uint64_t addr;
    uint8_t data;
    bool pio, datamatch, active;
} AssignedEventfd;

typedef struct PCITestDev {
    PCIDevice pci;
    MemoryRegion *bar[2];            /* 0 memory, 1 I/O */
    uint64_t bar_addr[2];            /* where each is mapped, or PCI_BAR_UNMAPPED */
    MemoryListener listener[2];
    bool listening[2];
    IOTest tests[2 * IOTEST_PER_BAR];
    int current;                     /* running test, -1 none */
    int notify_fd;                   /* eventfd for the eventfd tests (with KVM) */
    bool have_notify_fd;
    AssignedEventfd assigned;
} PCITestDev;

static uint32_t test_count(const IOTest *t)
{
    return t->buf[12] | t->buf[13] << 8 | t->buf[14] << 16 | (uint32_t)t->buf[15] << 24;
}

static void test_set_count(IOTest *t, uint32_t c)
{
    for (unsigned i = 0; i < 4; i++)
        t->buf[12 + i] = (uint8_t)(c >> (8 * i));
}

static unsigned test_kind(int t) { return (unsigned)t % IOTEST_PER_BAR; }
static unsigned test_bar(int t) { return (unsigned)t / IOTEST_PER_BAR; }
static uint32_t test_offset(int t)
{
    return (test_bar(t) ? IOTEST_IO_SIZE : IOTEST_MEM_SIZE) / 2 + (uint32_t)t;
}

/* Adds what the eventfd counted to the running test. */
static void drain_eventfd(PCITestDev *s)
{
    uint64_t n;
    if (s->have_notify_fd && read(s->notify_fd, &n, sizeof(n)) == sizeof(n) && s->current >= 0)
        test_set_count(&s->tests[s->current], test_count(&s->tests[s->current]) + (uint32_t)n);
}

static void kvm_ioeventfd(PCITestDev *s, const AssignedEventfd *e, bool assign)
{
    struct kvm_ioeventfd k = {
        .datamatch = e->data, .addr = e->addr, .len = 1, .fd = s->notify_fd,
        .flags = (e->pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                 (e->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
                 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
    };
    if (ioctl(s->pci.dev.vm->vm_fd, KVM_IOEVENTFD, &k) < 0)
        log_warn("%s: KVM_IOEVENTFD %s at %s 0x%llx: %s (notifies exit instead)", s->pci.dev.id,
                 assign ? "assign" : "deassign", e->pio ? "port" : "address",
                 (unsigned long long)e->addr, strerror(errno));
}

/* Puts the KVM ioeventfd where the running test and the BAR's mapping say:
 * on the notify offset of a mapped BAR for an eventfd test, else nowhere. */
static void sync_ioeventfd(PCITestDev *s)
{
    AssignedEventfd want = { 0 };
    int t = s->current;
    if (s->have_notify_fd && t >= 0 && test_kind(t) != TEST_NO_EVENTFD &&
        s->bar_addr[test_bar(t)] != PCI_BAR_UNMAPPED) {
        want = (AssignedEventfd){
            .addr = s->bar_addr[test_bar(t)] + test_offset(t), .data = IOTEST_DATAMATCH,
            .pio = test_bar(t) == 1, .datamatch = test_kind(t) == TEST_DATAMATCH, .active = true,
        };
    }
    const AssignedEventfd *a = &s->assigned;
    if (want.active == a->active && (!want.active || (want.addr == a->addr &&
        want.pio == a->pio && want.datamatch == a->datamatch && want.data == a->data)))
        return;
    if (s->assigned.active)
        kvm_ioeventfd(s, &s->assigned, false);
    if (want.active)
        kvm_ioeventfd(s, &want, true);
    s->assigned = want;
}

static void stop_test(PCITestDev *s)
{
    drain_eventfd(s);
    s->current = -1;
    sync_ioeventfd(s);
}

static void start_test(PCITestDev *s, int t)
{
    drain_eventfd(s);   /* notifies of the previous test are not this one's */
    test_set_count(&s->tests[t], 0);
    s->current = t;
    sync_ioeventfd(s);
}

static MemTxResult testdev_read(PCITestDev *s, hwaddr addr, uint64_t *data)
{
    *data = 0;
    if (s->current < 0)
        return MEMTX_OK;
    IOTest *t = &s->tests[s->current];
    drain_eventfd(s);
    if (addr < t->len)
        *data = t->buf[addr];
    return MEMTX_OK;
}

static MemTxResult testdev_write(PCITestDev *s, unsigned bar, hwaddr addr, uint64_t val)
{
    if (addr == 0) {
        stop_test(s);
        if (val < IOTEST_PER_BAR)
            start_test(s, (int)(bar * IOTEST_PER_BAR + val));
        return MEMTX_OK;
    }
    int t = s->current;
    if (t < 0 || test_bar(t) != bar || addr != test_offset(t))
        return MEMTX_OK;
    if (test_kind(t) != TEST_WILDCARD && val != IOTEST_DATAMATCH)
        return MEMTX_OK;
    test_set_count(&s->tests[t], test_count(&s->tests[t]) + 1);
    return MEMTX_OK;
}

static MemTxResult bar_read(void *o, hwaddr addr, uint64_t *data, unsigned size)
{
    (void)size;
    return testdev_read(o, addr, data);
}

static MemTxResult mem_write(void *o, hwaddr addr, uint64_t val, unsigned size)
{
    (void)size;
    return testdev_write(o, 0, addr, val);
}

static MemTxResult io_write(void *o, hwaddr addr, uint64_t val, unsigned size)
{
    (void)size;
    return testdev_write(o, 1, addr, val);
}

static const MemoryRegionOps mem_ops = {
    .read = bar_read,
    .write = mem_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static const MemoryRegionOps io_ops = {
    .read = bar_read,
    .write = io_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

/* The BARs' addresses follow the flat views, so a moved BAR moves its eventfd. */
static void bar_section(PCITestDev *s, unsigned bar, const MemoryRegionSection *sec, bool add)
{
    if (sec->mr != s->bar[bar] || sec->offset_within_region != 0)
        return;
    s->bar_addr[bar] = add ? sec->offset_within_address_space : PCI_BAR_UNMAPPED;
    sync_ioeventfd(s);
}

#define TESTDEV_OF(l, n) ((PCITestDev *)((char *)(l) - offsetof(PCITestDev, listener[n])))
static void mem_add(MemoryListener *l, const MemoryRegionSection *sec) { bar_section(TESTDEV_OF(l, 0), 0, sec, true); }
static void mem_del(MemoryListener *l, const MemoryRegionSection *sec) { bar_section(TESTDEV_OF(l, 0), 0, sec, false); }
static void io_add(MemoryListener *l, const MemoryRegionSection *sec) { bar_section(TESTDEV_OF(l, 1), 1, sec, true); }
static void io_del(MemoryListener *l, const MemoryRegionSection *sec) { bar_section(TESTDEV_OF(l, 1), 1, sec, false); }

static void init_tests(PCITestDev *s)
{
    static const char *const kinds[IOTEST_PER_BAR] = { "no-eventfd", "wildcard-eventfd",
                                                       "datamatch-eventfd" };
    for (int t = 0; t < 2 * IOTEST_PER_BAR; t++) {
        IOTest *x = &s->tests[t];
        memset(x, 0, sizeof(*x));
        x->buf[0] = (uint8_t)t;
        x->buf[1] = 1;
        for (unsigned i = 0; i < 4; i++)
            x->buf[4 + i] = (uint8_t)(test_offset(t) >> (8 * i));
        x->buf[8] = test_kind(t) == TEST_WILDCARD ? IOTEST_NOMATCH : IOTEST_DATAMATCH;
        int n = snprintf((char *)x->buf + IOTEST_HDR_SIZE, IOTEST_NAME_MAX, "%s-%s",
                         test_bar(t) ? "portio" : "mmio", kinds[test_kind(t)]);
        x->len = IOTEST_HDR_SIZE + (unsigned)n + 1;
    }
    s->current = -1;
}

static int testdev_realize(Device *dev)
{
    PCITestDev *s = DEVICE_CAST(PCITestDev, dev);
    PCIBus *bus = pci_root_bus(dev->vm);
    s->bar_addr[0] = s->bar_addr[1] = PCI_BAR_UNMAPPED;
    if (!bus) {
        log_error("%s: no PCI bus", dev->id);
        return -1;
    }
    const PCIDeviceInfo info = {
        .vendor_id = 0x1b36, .device_id = 0x0005,
        .subsystem_vendor_id = 0x1af4, .subsystem_id = 0x1100,
        .class_code = 0x00ff00,
    };
    if (pci_device_init(&s->pci, bus, -1, &info, NULL) < 0)
        return -1;
    init_tests(s);
    s->bar[0] = memory_region_new_io("pci-testdev-mmio", IOTEST_MEM_SIZE, &mem_ops, s);
    s->bar[1] = memory_region_new_io("pci-testdev-portio", IOTEST_IO_SIZE, &io_ops, s);
    if (pci_register_bar(&s->pci, 0, PCI_BAR_MEM32, false, s->bar[0]) < 0 ||
        pci_register_bar(&s->pci, 1, PCI_BAR_IO, false, s->bar[1]) < 0)
        return -1;
    if (!dev->vm->has_kvm)
        return 0;
    s->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->notify_fd < 0) {
        log_error("%s: eventfd: %s", dev->id, strerror(errno));
        return -1;
    }
    s->have_notify_fd = true;
    s->listener[0] = (MemoryListener){ .region_add = mem_add, .region_del = mem_del };
    s->listener[1] = (MemoryListener){ .region_add = io_add, .region_del = io_del };
    memory_listener_register(&s->listener[0], dev->vm->as_mem);
    memory_listener_register(&s->listener[1], dev->vm->as_io);
    s->listening[0] = s->listening[1] = true;
    return 0;
}

static void testdev_reset(Device *dev)
{
    PCITestDev *s = DEVICE_CAST(PCITestDev, dev);
    stop_test(s);
    pci_device_reset(&s->pci);
}

static void testdev_unrealize(Device *dev)
{
    PCITestDev *s = DEVICE_CAST(PCITestDev, dev);
    for (unsigned i = 0; i < 2; i++)
        if (s->listening[i])
            memory_listener_unregister(&s->listener[i]);
    s->current = -1;
    sync_ioeventfd(s);
    pci_device_uninit(&s->pci);
    for (unsigned i = 0; i < 2; i++)
        if (s->bar[i])
            memory_region_unref(s->bar[i]);
    if (s->have_notify_fd)
        close(s->notify_fd);
}

static const DeviceClass pci_testdev_class = {
    .name = "pci-testdev",
    .instance_size = sizeof(PCITestDev),
    .realize = testdev_realize,
    .reset = testdev_reset,
    .unrealize = testdev_unrealize,
};

int pci_testdev_init(struct vm *vm)
{
    Device *dev = device_new(vm, &pci_testdev_class, NULL);
    return dev ? device_realize(dev) : -1;
}
