/* libFuzzer target for the virtqueue walker, split and packed: the input is
 * the ring memory a hostile driver controls. Its first byte picks the layout
 * (packed or split, EVENT_IDX, INDIRECT_DESC, queue size, start index); the
 * rest is copied over the descriptor table, rings and indirect tables in
 * fake-VM RAM. Descriptors may point anywhere (RAM, the PCI windows, nowhere).
 * The device pops, fills and pushes what it gets until the ring is empty or
 * broken: any outcome but a crash, a hang or a sanitizer report is fine, and
 * a broken queue must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/pci_util.h"
#include "virtio/virtio.h"

#define RING_BASE 0x10000ull
#define RING_SPAN 0x4000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fake_vm f;
    static PCIDevice *d;
    static uint8_t *ram;
    static VirtQueueElement *e;
    if (!d) {
        if (!pci_vm_init(&f) || dma_testdev_init(&f.vm) != 0)
            abort();
        cf8_write(&f.vm, PCI_DEVFN(1, 0), PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 2);
        d = pci_bus_device(pci_root_bus(&f.vm), PCI_DEVFN(1, 0));
        ram = vm_guest_ram(&f.vm, 0, 1 << 20);
        e = calloc(1, sizeof(*e));
        if (!d || !ram || !e)
            abort();
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    bool packed = mode & 1, event_idx = mode & 2, indirect = mode & 4;
    uint16_t qsize = (uint16_t)(4u << ((mode >> 3) & 3));   /* 4..32 */
    memset(ram + RING_BASE, 0, RING_SPAN);
    size_t n = size - 1 < RING_SPAN ? size - 1 : RING_SPAN;
    memcpy(ram + RING_BASE, data + 1, n);
    VirtQueue vq;
    dma_addr_t desc = RING_BASE, avail = RING_BASE + 16ull * qsize, used = RING_BASE + 0x1000;
    virtqueue_init(&vq, d, "fuzz", qsize, packed, event_idx, indirect, desc, avail, used);
    if (mode & 0x80) {   /* start near the 16-bit wrap */
        vq.last_avail = vq.used_idx = 0xfff0;
    }
    static uint8_t buf[256];
    for (unsigned round = 0; round < 4 * qsize; round++) {
        virtqueue_disable_notification(&vq);
        int r = virtqueue_pop(&vq, e);
        if (r < 0) {
            if (!vq.broken || !vq.error)
                abort();
            break;
        }
        if (r == 0) {
            if (!virtqueue_enable_notification(&vq))
                break;
            continue;
        }
        if (e->nr_out + e->nr_in > VIRTQ_MAX_CHAIN)
            abort();
        virtqueue_read_out(&vq, e, 0, buf, sizeof(buf));
        int64_t w = virtqueue_write_in(&vq, e, 0, buf, e->in_len < sizeof(buf) ? e->in_len : sizeof(buf));
        if (virtqueue_push(&vq, e, w > 0 ? (uint32_t)w : 0) < 0)
            break;
        virtqueue_should_notify(&vq);
    }
    return 0;
}
