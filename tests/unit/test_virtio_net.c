/* virtio-net (virtio/net.c) on user-mode networking (libslirp, no host
 * network needed): the guest's ARP request for the host (10.0.2.2) goes out
 * on the transmit queue and slirp's reply comes back into the receive queue,
 * in one buffer or spread over small mergeable ones (handed back together),
 * or held in the backlog until the driver posts buffers. Plus the --net
 * option parser. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/harness.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/options.h"

#define F(bit) (1ull << (bit))
#define NET_F_MAC      5
#define NET_F_MRG      15
#define NET_F_STATUS   16
#define TX_DESC  0x40000ull
#define TX_AVAIL 0x41000ull
#define TX_USED  0x42000ull
#define TX_BUF   0x50000ull

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

static bool setup(Drv *v)
{
    memset(v, 0, sizeof(*v));
    VirtioNetOptions o;
    char err[256];
    if (virtio_parse_net("user,mac=52:54:00:aa:bb:cc", &o, err, sizeof(err)))
        return false;
    if (!pci_vm_init(&v->f) || virtio_net_init(&v->f.vm, &o, false) != 0)
        return false;
    return drv_attach(v);
}

static void queue(Drv *v, unsigned q, uint64_t desc, uint64_t avail, uint64_t used)
{
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_SIZE, 8, 2);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)desc, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)avail, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)used, 4);
    drv_set_common(v, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

static void start(Drv *v, uint64_t features)
{
    memset(v->ram + VQ_DESC, 0, 0x3000);
    memset(v->ram + TX_DESC, 0, 0x3000);
    drv_negotiate(v, features);
    queue(v, 0, VQ_DESC, VQ_AVAIL, VQ_USED);
    queue(v, 1, TX_DESC, TX_AVAIL, TX_USED);
    uint8_t st = (uint8_t)drv_common(v, VIRTIO_PCI_COMMON_STATUS, 1);
    drv_set_common(v, VIRTIO_PCI_COMMON_STATUS, st | VIRTIO_STATUS_DRIVER_OK, 1);
}

static void kick(Drv *v, unsigned q)
{
    drv_mmio_write(v, VIRTIO_PCI_NOTIFY_OFF + q * VIRTIO_PCI_NOTIFY_MULT, 0, 2);
    virtio_device_run(v->vdev);
}

/* Receive buffers 0..n-1 of `len` bytes each, at VQ_BUF + 0x800 * i. */
static void post_rx(Drv *v, unsigned n, uint32_t len)
{
    for (unsigned i = 0; i < n; i++) {
        split_desc(v->ram, VQ_DESC, i, VQ_BUF + 0x800 * i, len, VRING_DESC_F_WRITE, 0);
        split_publish(v->ram, 8, (uint16_t)i, (uint16_t)i);
    }
}

/* The header and an ARP request "who has 10.0.2.2, tell 10.0.2.15". */
static void send_arp(Drv *v)
{
    uint8_t f[12 + 42] = { 0 };
    uint8_t *e = f + 12;
    memset(e, 0xff, 6);
    memcpy(e + 6, guest_mac, 6);
    e[12] = 0x08, e[13] = 0x06;
    const uint8_t arp[] = { 0, 1, 8, 0, 6, 4, 0, 1 };
    memcpy(e + 14, arp, sizeof(arp));
    memcpy(e + 22, guest_mac, 6);
    const uint8_t sip[] = { 10, 0, 2, 15 }, tip[] = { 10, 0, 2, 2 };
    memcpy(e + 28, sip, 4);
    memcpy(e + 38, tip, 4);
    memcpy(v->ram + TX_BUF, f, sizeof(f));
    uint8_t *ram = v->ram;
    uint64_t d = TX_DESC;
    for (int i = 0; i < 8; i++)
        ram[d + i] = (uint8_t)((TX_BUF) >> (8 * i));
    put32(ram, d + 8, sizeof(f));
    put16(ram, d + 12, 0);
    uint16_t idx = get16(ram, TX_AVAIL + 2);
    put16(ram, TX_AVAIL + 4 + 2 * (idx % 8), 0);
    put16(ram, TX_AVAIL + 2, (uint16_t)(idx + 1));
    kick(v, 1);
}

/* The reply, reassembled from `n` used buffers. */
static bool check_arp_reply(Drv *v, unsigned n, uint32_t buflen)
{
    uint8_t pkt[128];
    size_t got = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t len = get32(v->ram, VQ_USED + 4 + 8 * i + 4);
        if (len > buflen || got + len > sizeof(pkt))
            return false;
        memcpy(pkt + got, v->ram + VQ_BUF + 0x800 * i, len);
        got += len;
    }
    const uint8_t *e = pkt + 12;
    return got >= 12 + 42 && get16(pkt, 10) == n && !memcmp(e, guest_mac, 6) &&
           e[12] == 0x08 && e[13] == 0x06 && e[21] == 2 /* reply */ && e[28] == 10 &&
           e[29] == 0 && e[30] == 2 && e[31] == 2;
}

TEST(virtio_net_arp_through_slirp)
{
    Drv v;
    REQUIRE(setup(&v));
    CHECK_EQ(cf8_read(v.vm, v.devfn, PCI_DEVICE_ID, 2), 0x1041);
    uint64_t df = drv_device_features(&v);
    CHECK(df & F(NET_F_MAC));
    CHECK(df & F(NET_F_MRG));
    CHECK(df & F(NET_F_STATUS));
    CHECK_EQ(drv_mmio_read(&v, VIRTIO_PCI_DEVICE_OFF, 4), 0xaa005452u);   /* the MAC */
    CHECK_EQ(drv_mmio_read(&v, VIRTIO_PCI_DEVICE_OFF + 6, 2), 1);         /* link up */
    start(&v, F(VIRTIO_F_VERSION_1) | F(NET_F_MAC) | F(NET_F_MRG) | F(NET_F_STATUS));
    post_rx(&v, 2, 2048);
    kick(&v, 0);
    send_arp(&v);
    CHECK_EQ(get16(v.ram, TX_USED + 2), 1);
    REQUIRE(get16(v.ram, VQ_USED + 2) == 1);
    CHECK(check_arp_reply(&v, 1, 2048));
    pci_vm_destroy(&v.f);
}

TEST(virtio_net_mergeable_buffers_and_backlog)
{
    Drv v;
    REQUIRE(setup(&v));
    start(&v, F(VIRTIO_F_VERSION_1) | F(NET_F_MRG));
    /* No receive buffers yet: the reply waits in the backlog. */
    send_arp(&v);
    CHECK_EQ(get16(v.ram, VQ_USED + 2), 0);
    /* slirp pads the reply to 64 bytes: 76 with the header. Two 32-byte
     * buffers are not enough: nothing is taken. */
    post_rx(&v, 2, 32);
    kick(&v, 0);
    CHECK_EQ(get16(v.ram, VQ_USED + 2), 0);
    /* A third: all three come back at once, num_buffers 3. */
    split_desc(v.ram, VQ_DESC, 2, VQ_BUF + 0x1000, 32, VRING_DESC_F_WRITE, 0);
    split_publish(v.ram, 8, 2, 2);
    kick(&v, 0);
    REQUIRE(get16(v.ram, VQ_USED + 2) == 3);
    CHECK_EQ(get32(v.ram, VQ_USED + 4 + 4), 32);
    CHECK_EQ(get32(v.ram, VQ_USED + 4 + 16 + 4), 12);
    CHECK(check_arp_reply(&v, 3, 32));
    pci_vm_destroy(&v.f);
}

TEST(virtio_net_hostile_transmit_needs_reset)
{
    Drv v;
    REQUIRE(setup(&v));
    start(&v, F(VIRTIO_F_VERSION_1));
    /* 4 bytes: no room for the 12-byte header. */
    uint64_t d = TX_DESC;
    for (int i = 0; i < 8; i++)
        v.ram[d + i] = (uint8_t)(TX_BUF >> (8 * i));
    put32(v.ram, d + 8, 4);
    put16(v.ram, TX_AVAIL + 4, 0);
    put16(v.ram, TX_AVAIL + 2, 1);
    kick(&v, 1);
    CHECK(drv_common(&v, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
    pci_vm_destroy(&v.f);
}

TEST(virtio_net_options)
{
    VirtioNetOptions o;
    char err[256];
    CHECK_EQ(virtio_parse_net("user,hostfwd=tcp:2222-:22,hostfwd=tcp:127.0.0.1:8080-10.0.2.16:80",
                              &o, err, sizeof(err)), 0);
    CHECK_EQ(o.kind, VIRTIO_NET_USER);
    REQUIRE(o.nr_hostfwd == 2);
    CHECK_EQ(o.hostfwd[0].host_port, 2222);
    CHECK_EQ(o.hostfwd[0].guest_port, 22);
    CHECK_EQ(o.hostfwd[0].host_addr, 0);
    CHECK_EQ(o.hostfwd[1].host_addr, 0x7f000001);
    CHECK_EQ(o.hostfwd[1].guest_addr, 0x0a000210);
    CHECK_EQ(virtio_parse_net("user,hostfwd=tcp::2222-:22", &o, err, sizeof(err)), 0);
    CHECK_EQ(o.hostfwd[0].host_port, 2222);
    CHECK_EQ(virtio_parse_net("tap=tap0,mac=52:54:00:01:02:03", &o, err, sizeof(err)), 0);
    CHECK_EQ(o.kind, VIRTIO_NET_TAP);
    CHECK(!strcmp(o.ifname, "tap0"));
    CHECK(o.mac_set && o.mac[5] == 3);
    CHECK_EQ(virtio_parse_net("user,mac=52:54:00:01:02", &o, err, sizeof(err)), -1);
    CHECK(strstr(err, "bad mac"));
    CHECK_EQ(virtio_parse_net("user,mac=53:54:00:01:02:03", &o, err, sizeof(err)), -1);
    CHECK(strstr(err, "multicast"));
    CHECK_EQ(virtio_parse_net("user,hostfwd=tcp:0-:22", &o, err, sizeof(err)), -1);
    CHECK_EQ(virtio_parse_net("user,hostfwd=sctp:1-:2", &o, err, sizeof(err)), -1);
    CHECK_EQ(virtio_parse_net("tap=averyveryverylongname", &o, err, sizeof(err)), -1);
    CHECK_EQ(virtio_parse_net("tap=tap0,hostfwd=tcp:1-:2", &o, err, sizeof(err)), -1);
    CHECK(strstr(err, "'hostfwd'"));
    CHECK_EQ(virtio_parse_net("bridge", &o, err, sizeof(err)), -1);
}
