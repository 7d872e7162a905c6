/* virtio-blk's device model per 4 KiB read request, without KVM: a fake VM
 * with RAM and the PCI host, a 1 MiB image, a driver (tests/unit's) that sets
 * up a 256-entry split ring with EVENT_IDX and MSI-X, and the interrupt as
 * the irqfd write it is on a real VM. Each request is header (out), 4 KiB of
 * data (in) and the status byte (in); the driver's side (descriptors, avail)
 * is written outside bench_blk_request, and callgrind counts what
 * virtio_device_run costs per request: the ring walk, the header read, the
 * preadv onto the guest's pages through the DMA layer (pci_dma_file_rw), the
 * status byte, the used entry and the interrupt decision. It checks that the
 * data arrived.
 * Usage: bench_virtio N (requests). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/unit/virtio_driver.h"
#include "vmm/irq.h"

#define VIRTIO_BLK_T_IN 0
#define REQ_HDR  0x43000ull   /* pages apart from the rings in the DMA cache */
#define REQ_DATA 0x44000ull
#define REQ_ST   0x45000ull
#define QSIZE    256

/* The MSI-X entry for vector 1 and MSI-X on (irqfd mode, as with KVM). */
static void msix_on(Drv *v)
{
    uint64_t e = v->bar + VIRTIO_PCI_MSIX_OFF + 16;
    uint64_t addr = 0xfee00000;
    uint32_t data = 0x41, ctrl = 0;
    address_space_write(v->vm->as_mem, e, &addr, 8);
    address_space_write(v->vm->as_mem, e + 8, &data, 4);
    address_space_write(v->vm->as_mem, e + 12, &ctrl, 4);
    uint8_t cap = pci_find_capability(v->d, PCI_CAP_ID_MSIX);
    cf8_write(v->vm, v->devfn, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
}

__attribute__((noinline)) static void bench_blk_request(VirtIODevice *vdev)
{
    virtio_device_run(vdev);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    char img[64];
    snprintf(img, sizeof(img), "/tmp/minivmm-bench-blk-%d", (int)getpid());
    FILE *fp = fopen(img, "w");
    if (!fp)
        return 1;
    for (unsigned pos = 0; pos < 1 << 20; pos++)   /* each byte: its sector number */
        fputc((int)(pos / 512) & 0xff, fp);
    if (fclose(fp) != 0)
        return 1;
    static Drv v;
    if (!pci_vm_init(&v.f) || irq_routes_init(&v.f.vm) ||
        virtio_blk_init(&v.f.vm, img, false, false, NULL) || !drv_attach(&v)) {
        unlink(img);
        return 1;
    }
    v.vdev->use_irqfds = true;
    msix_on(&v);
    drv_negotiate(&v, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX);
    drv_start(&v, QSIZE, 1);
    uint8_t *ram = v.ram;
    for (long i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)i;
        unsigned d = (unsigned)(3 * (i % (QSIZE / 3)));
        put32(ram, REQ_HDR, VIRTIO_BLK_T_IN);
        put64(ram, REQ_HDR + 8, (uint64_t)(i % 256) * 8);
        split_desc(ram, VQ_DESC, d, REQ_HDR, 16, VRING_DESC_F_NEXT, (uint16_t)(d + 1));
        split_desc(ram, VQ_DESC, d + 1, REQ_DATA, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                   (uint16_t)(d + 2));
        split_desc(ram, VQ_DESC, d + 2, REQ_ST, 1, VRING_DESC_F_WRITE, 0);
        /* used_event: interrupt for every request, as a driver waiting on each. */
        put16(ram, VQ_AVAIL + 4 + 2 * QSIZE, idx);
        split_publish(ram, QSIZE, idx, (uint16_t)d);
        bench_blk_request(v.vdev);
    }
    uint16_t used = get16(ram, VQ_USED + 2);
    uint8_t status = ram[REQ_ST];
    /* The last request's data really arrived: sectors 8k .. 8k + 7. */
    uint8_t first = (uint8_t)((n - 1) % 256 * 8), data_ok = ram[REQ_DATA] == first &&
                    ram[REQ_DATA + 4095] == (uint8_t)(first + 7);
    eventfd_t signals = 0;
    eventfd_read(v.vdev->irqfd[1].fd, &signals);
    vm_devices_destroy(&v.f.vm);
    irq_routes_free(&v.f.vm);
    pci_vm_destroy(&v.f);
    unlink(img);
    if (used != (uint16_t)n || status != 0 || signals != (eventfd_t)n || !data_ok) {
        fprintf(stderr, "bench_virtio: used %u status %u interrupts %llu data %s for %ld "
                "requests\n", used, status, (unsigned long long)signals,
                data_ok ? "ok" : "wrong", n);
        return 1;
    }
    printf("%ld requests\n", n);
    return 0;
}
