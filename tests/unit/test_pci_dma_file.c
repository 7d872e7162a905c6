/* pci_dma_file_rw: file I/O straight between a file and guest RAM through the
 * DMA layer. Segments with an offset, across pages and in more pieces than one
 * system call takes; stopping at what is not RAM (MMIO, bus mastering off) so
 * the caller can bounce the rest; IOMMU refusals; I/O errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/fake_iommu.h"
#include "tests/unit/harness.h"
#include "tests/unit/pci_util.h"

#define TDEV PCI_DEVFN(1, 0)
#define FILE_SIZE 0x10000

static char path[64];

static uint8_t pattern(uint64_t pos)
{
    return (uint8_t)(pos ^ (pos >> 8) ^ 0x5a);
}

/* A scratch file holding pattern(); its fd (unlinked already). */
static int make_file(void)
{
    snprintf(path, sizeof(path), "/tmp/minivmm-dmafile-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    unlink(path);
    static uint8_t buf[FILE_SIZE];
    for (unsigned i = 0; i < FILE_SIZE; i++)
        buf[i] = pattern(i);
    if (pwrite(fd, buf, FILE_SIZE, 0) != FILE_SIZE) {
        close(fd);
        return -1;
    }
    return fd;
}

static PCIDevice *setup(struct fake_vm *f)
{
    if (!pci_vm_init(f) || dma_testdev_init(&f->vm) != 0)
        return NULL;
    cf8_write(&f->vm, TDEV, PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 2);
    return pci_bus_device(pci_root_bus(&f->vm), TDEV);
}

TEST(dma_file_read_and_write_segments)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    int fd = make_file();
    REQUIRE(fd >= 0);
    uint8_t *ram = vm_guest_ram(&f.vm, 0, 0x10000);
    REQUIRE(ram);
    memset(ram, 0xee, 0x10000);
    /* 0x10 bytes skipped, then [0x1ff0, 0x2010) across a page and [0x5000, 0x5100). */
    PCIDMASeg segs[] = { { 0x1fe0, 0x30 }, { 0x5000, 0x100 } };
    MemTxResult res = MEMTX_DECODE_ERROR;
    CHECK_EQ(pci_dma_file_rw(d, fd, 0x300, segs, 2, 0x10, 0x120, DMA_DIRECTION_FROM_DEVICE,
                             &res), 0x120);
    CHECK_EQ(res, MEMTX_OK);
    CHECK_EQ(ram[0x1fef], 0xee);
    bool same = true;
    for (unsigned i = 0; i < 0x20; i++)
        same &= ram[0x1ff0 + i] == pattern(0x300 + i);
    for (unsigned i = 0; i < 0x100; i++)
        same &= ram[0x5000 + i] == pattern(0x320 + i);
    CHECK(same);
    CHECK_EQ(ram[0x5100], 0xee);
    /* And back out to another place in the file, stopping at len. */
    CHECK_EQ(pci_dma_file_rw(d, fd, 0x8000, segs, 2, 0, 0x40, DMA_DIRECTION_TO_DEVICE, &res),
             0x40);
    CHECK_EQ(res, MEMTX_OK);
    uint8_t back[0x41];
    REQUIRE(pread(fd, back, sizeof(back), 0x8000) == (ssize_t)sizeof(back));
    CHECK(!memcmp(back, ram + 0x1fe0, 0x30));
    CHECK(!memcmp(back + 0x30, ram + 0x5000, 0x10));
    CHECK_EQ(back[0x40], pattern(0x8040));
    close(fd);
    pci_vm_destroy(&f);
}

TEST(dma_file_many_scattered_segments_take_several_calls)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    int fd = make_file();
    REQUIRE(fd >= 0);
    uint8_t *ram = vm_guest_ram(&f.vm, 0, 0x10000);
    REQUIRE(ram);
    /* 200 pieces of 24 bytes, 64 apart: none merge, more than one preadv holds. */
    static PCIDMASeg segs[200];
    for (unsigned k = 0; k < 200; k++)
        segs[k] = (PCIDMASeg){ 0x3000 + 64 * (dma_addr_t)k, 24 };
    memset(ram, 0, 0x10000);
    MemTxResult res;
    CHECK_EQ(pci_dma_file_rw(d, fd, 0x1000, segs, 200, 0, 200 * 24, DMA_DIRECTION_FROM_DEVICE,
                             &res), 200 * 24);
    bool same = true;
    for (unsigned k = 0; k < 200; k++)
        for (unsigned i = 0; i < 24; i++)
            same &= ram[0x3000 + 64 * k + i] == pattern(0x1000 + 24 * k + i);
    CHECK(same);
    CHECK_EQ(ram[0x3000 + 24], 0);
    close(fd);
    pci_vm_destroy(&f);
}

TEST(dma_file_stops_where_ram_ends)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    int fd = make_file();
    REQUIRE(fd >= 0);
    /* The device's own BAR after some RAM: the RAM part is done, the caller
     * learns where it stopped (and pci_dma_rw then refuses the BAR). */
    uint64_t bar = pci_bar_address(d, 0);
    REQUIRE(bar != PCI_BAR_UNMAPPED);
    PCIDMASeg segs[] = { { 0x3000, 0x200 }, { bar, 0x100 } };
    MemTxResult res = MEMTX_DECODE_ERROR;
    CHECK_EQ(pci_dma_file_rw(d, fd, 0, segs, 2, 0, 0x300, DMA_DIRECTION_FROM_DEVICE, &res),
             0x200);
    CHECK_EQ(res, MEMTX_OK);
    CHECK_EQ(*(uint8_t *)vm_guest_ram(&f.vm, 0x31ff, 1), pattern(0x1ff));
    /* Bus mastering off: nothing is RAM to the device. */
    cf8_write(&f.vm, TDEV, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    CHECK_EQ(pci_dma_file_rw(d, fd, 0, segs, 1, 0, 0x200, DMA_DIRECTION_TO_DEVICE, &res), 0);
    CHECK_EQ(res, MEMTX_OK);
    uint8_t b[0x200];
    CHECK_EQ(pci_dma_read(d, 0x3000, b, sizeof(b)), MEMTX_DECODE_ERROR);
    close(fd);
    pci_vm_destroy(&f);
}

TEST(dma_file_io_errors)
{
    struct fake_vm f;
    PCIDevice *d = setup(&f);
    REQUIRE(d);
    int fd = make_file();
    REQUIRE(fd >= 0);
    PCIDMASeg seg = { 0x3000, 0x1000 };
    MemTxResult res;
    errno = 0;
    CHECK_EQ(pci_dma_file_rw(d, fd, FILE_SIZE - 0x800, &seg, 1, 0, 0x1000,
                             DMA_DIRECTION_FROM_DEVICE, &res), -1);   /* short: past the end */
    CHECK_EQ(errno, EIO);
    close(fd);
    errno = 0;
    CHECK_EQ(pci_dma_file_rw(d, fd, 0, &seg, 1, 0, 0x1000, DMA_DIRECTION_FROM_DEVICE, &res), -1);
    CHECK_EQ(errno, EBADF);
    pci_vm_destroy(&f);
}

TEST(dma_file_behind_the_iommu)
{
    struct fake_vm f;
    FakeIOMMU io;
    REQUIRE(pci_vm_init(&f));
    fake_iommu_attach(&io, &f, 0x100000);
    io.ro_start = 0x8000;
    io.ro_end = 0x9000;
    REQUIRE(dma_testdev_init(&f.vm) == 0);
    cf8_write(&f.vm, TDEV, PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 2);
    PCIDevice *d = pci_bus_device(pci_root_bus(&f.vm), TDEV);
    REQUIRE(d);
    int fd = make_file();
    REQUIRE(fd >= 0);
    uint8_t *ram = vm_guest_ram(&f.vm, 0, 0x200000);
    REQUIRE(ram);
    /* Translated: IOVA 0x1000 is guest-physical 0x101000. */
    PCIDMASeg seg = { 0x1000, 0x100 };
    MemTxResult res;
    CHECK_EQ(pci_dma_file_rw(d, fd, 0x40, &seg, 1, 0, 0x100, DMA_DIRECTION_FROM_DEVICE, &res),
             0x100);
    CHECK_EQ(res, MEMTX_OK);
    CHECK_EQ(ram[0x101000], pattern(0x40));
    CHECK_EQ(ram[0x1000], 0);
    /* A read-only page: the device may read it into the file, not write it. */
    ram[0x108000] = 0x99;
    PCIDMASeg ro = { 0x8000, 0x10 };
    unsigned faults = io.faults;
    CHECK_EQ(pci_dma_file_rw(d, fd, 0, &ro, 1, 0, 0x10, DMA_DIRECTION_FROM_DEVICE, &res), 0);
    CHECK_EQ(res, MEMTX_IOMMU_FAULT);
    CHECK_EQ(io.faults, faults + 1);
    CHECK_EQ(ram[0x108000], 0x99);
    CHECK_EQ(pci_dma_file_rw(d, fd, 0, &ro, 1, 0, 0x10, DMA_DIRECTION_TO_DEVICE, &res), 0x10);
    uint8_t b = 0;
    REQUIRE(pread(fd, &b, 1, 0) == 1);
    CHECK_EQ(b, 0x99);
    /* Unmapped after use: the next call translates again and faults. */
    io.mapped = false;
    IOMMUTLBEntry unmap = { .iova = 0, .addr_mask = UINT64_MAX, .perm = IOMMU_NONE };
    memory_bql_lock();
    memory_region_iommu_notify(io.mr, IOMMU_NOTIFIER_UNMAP, &unmap);
    memory_bql_unlock();
    ram[0x101000] = 0;
    CHECK_EQ(pci_dma_file_rw(d, fd, 0x40, &seg, 1, 0, 0x100, DMA_DIRECTION_FROM_DEVICE, &res), 0);
    CHECK_EQ(res, MEMTX_IOMMU_FAULT);
    CHECK_EQ(ram[0x101000], 0);
    close(fd);
    pci_vm_destroy(&f);
    memory_region_unref(io.mr);
}
