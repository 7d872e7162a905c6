/* minivmm: parse the command line, build the machine, run it, exit with the
 * guest's status. stdout belongs to the guest's serial console. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/devices.h"
#include "devices/ioapic.h"
#include "devices/platform.h"
#include "devices/vfio/vfio.h"
#include "iommu/vtd.h"
#include "pci/dma.h"
#include "pci/pci.h"
#include "util/log.h"
#include "virtio/options.h"
#include "virtio/virtio.h"
#include "vmm/acpi.h"
#include "vmm/api.h"
#include "vmm/loader.h"
#include "vmm/mptable.h"
#include "vmm/options.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

/* The Makefile passes `git describe` of the source tree; empty outside a checkout. */
#ifndef MINIVMM_REVISION
#define MINIVMM_REVISION ""
#endif

/* The virtio devices; errors name the option (bad input: exit status 2). */
static int create_virtio_devices(struct vm *vm, const struct vm_config *cfg)
{
    char err[256];
    bool iommu;
    for (unsigned i = 0; i < cfg->nr_disks; i++) {
        VirtioDiskOptions o;
        if (virtio_parse_disk(cfg->disks[i], &o, err, sizeof(err))) {
            log_error("%s", err);
            return -1;
        }
        if (virtio_resolve_iommu("--disk", o.iommu, cfg->iommu, &iommu) ||
            virtio_blk_init(vm, o.path, o.readonly, iommu, o.id[0] ? o.id : NULL))
            return -1;
    }
    if (cfg->rng) {
        VirtioRngOptions o;
        if (virtio_parse_rng(cfg->rng, &o, err, sizeof(err))) {
            log_error("%s", err);
            return -1;
        }
        if (virtio_resolve_iommu("--rng", o.iommu, cfg->iommu, &iommu) ||
            virtio_rng_init(vm, o.src, iommu))
            return -1;
    }
    for (unsigned i = 0; i < cfg->nr_nets; i++) {
        VirtioNetOptions o;
        if (virtio_parse_net(cfg->nets[i], &o, err, sizeof(err))) {
            log_error("%s", err);
            return -1;
        }
        if (virtio_resolve_iommu("--net", o.iommu, cfg->iommu, &iommu) ||
            virtio_net_init(vm, &o, iommu))
            return -1;
    }
    if (cfg->console) {
        VirtioConsoleOptions o;
        if (virtio_parse_console(cfg->console, &o, err, sizeof(err))) {
            log_error("%s", err);
            return -1;
        }
        if (virtio_resolve_iommu("--console", -1, cfg->iommu, &iommu) ||
            virtio_console_init(vm, o.mode == VIRTIO_CONSOLE_FILE ? o.path : NULL, iommu))
            return -1;
    }
    return 0;
}

/* Assigned devices: a bad path, a device in use or a server that cannot be
 * reached is bad input (exit status 2), reported before the guest starts. */
static int create_vfio_devices(struct vm *vm, const struct vm_config *cfg)
{
    char err[256];
    VFIOOptions o;
    for (unsigned i = 0; i < cfg->nr_vfio_devices; i++) {
        if (vfio_parse_device("--device", "path", cfg->vfio_devices[i], &o, err, sizeof(err))) {
            log_error("%s", err);
            return -1;
        }
        VFIOBackend *be = vfio_kernel_open(o.path);
        if (!be || vfio_pci_create(vm, be, o.id[0] ? o.id : NULL))
            return -1;
    }
    for (unsigned i = 0; i < cfg->nr_vfio_user_devices; i++) {
        if (vfio_parse_device("--user-device", "socket", cfg->vfio_user_devices[i], &o, err,
                              sizeof(err))) {
            log_error("%s", err);
            return -1;
        }
        VFIOBackend *be = vfio_user_connect(o.path);
        if (!be || vfio_pci_create(vm, be, o.id[0] ? o.id : NULL))
            return -1;
    }
    return 0;
}

static int create_devices(struct vm *vm, const struct vm_config *cfg)
{
    /* First: the other devices' lines lead to it. */
    if (cfg->irqchip == IRQCHIP_SPLIT && !ioapic_create(vm))
        return EXIT_HOST_ERROR;
    if (devices_create(vm, cfg))
        return EXIT_USAGE;
    if (pci_host_init(vm))
        return EXIT_HOST_ERROR;
    if (cfg->iommu) {
        VTDState *vtd = vtd_create(vm, &(VTDConfig){ .caching_mode = cfg->iommu_caching_mode,
                                                      .intremap = cfg->iommu_intremap });
        if (!vtd)
            return EXIT_HOST_ERROR;
        /* Before any PCI device realizes: each takes its DMA region from here. */
        pci_bus_set_iommu(pci_root_bus(vm), vtd_dma_region, vtd);
    }
    for (unsigned i = 0; i < cfg->nr_edu; i++)
        if (edu_init(vm))
            return EXIT_HOST_ERROR;
    if (cfg->dma_testdev && dma_testdev_init(vm))
        return EXIT_HOST_ERROR;
    if (cfg->pci_testdev && pci_testdev_init(vm))
        return EXIT_HOST_ERROR;
    if (rtc_create(vm) || (cfg->pc_testdev && pc_testdev_create(vm)))
        return EXIT_HOST_ERROR;
    if (create_virtio_devices(vm, cfg) || create_vfio_devices(vm, cfg))
        return EXIT_USAGE;
    /* Before the loader, which passes the RSDP's address to the kernel. */
    if (acpi_setup(vm))
        return EXIT_HOST_ERROR;
    /* Only so Linux's scan for one stops early; it takes the MADT's description. */
    if (mptable_setup(vm))
        return EXIT_HOST_ERROR;
    return 0;
}

static bool cfg_has_vfio(const struct vm_config *cfg)
{
    return cfg->nr_vfio_devices || cfg->nr_vfio_user_devices;
}

static void dump_mtree(struct vm *vm)
{
    AddressSpace *spaces[] = { vm->as_mem, vm->as_io };
    memory_dump_mtree(stdout, spaces, 2);
    printf("\nPCI:\n");
    pci_dump(vm, stdout);
    if (cfg_has_vfio(vm->cfg)) {
        printf("\nVFIO:\n");
        vfio_dump_bars(vm, stdout);
    }
    fflush(stdout);
}

/* SIGTERM, SIGINT and SIGHUP stop the VM cleanly (EXIT_SIGNAL): the handler
 * only notes the signal and wakes vm_wait_for_exit, which does the rest. */
static struct vm *signal_vm;

static void stop_signal_handler(int sig)
{
    signal_vm->stop_signal = sig;
    sem_post(&signal_vm->exit_sem);
}

static void install_stop_signals(struct vm *vm)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
    signal_vm = vm;
    struct sigaction sa = { .sa_handler = stop_signal_handler, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

/* Starts the guest and waits for its end; every thread but main exists
 * before main confines itself (filters are inherited). */
static int run_guest(struct vm *vm, const struct vm_config *cfg, ApiServer **api)
{
    struct boot_regs regs = { 0 };
    if (loader_load(vm, cfg, &regs))
        return EXIT_USAGE;
    /* A path in the way is the user's to fix: a usage error. */
    if (cfg->api_socket && !(*api = api_server_start(vm, cfg->api_socket)))
        return EXIT_USAGE;
    vm_start_vcpus(vm, &regs);
    seccomp_apply_thread(SECCOMP_THREAD_MAIN, "main");
    int status = vm_wait_for_exit(vm);
    if (vm_vcpus_stopped(vm))
        vm_devices_flush(vm);
    return status;
}

static int run(const struct vm_config *cfg)
{
    struct vm vm;
    ApiServer *api = NULL;
    if (!cfg->dump_mtree && !cfg->dump_pci && seccomp_setup(cfg->seccomp))
        return EXIT_HOST_ERROR;
    int status = vm_create(&vm, cfg);
    install_stop_signals(&vm);
    if (status == 0)
        status = create_devices(&vm, cfg);
    if (status == 0 && cfg->dump_mtree) {
        dump_mtree(&vm);
    } else if (status == 0 && cfg->dump_pci) {
        pci_dump(&vm, stdout);
        fflush(stdout);
    } else if (status == 0) {
        status = run_guest(&vm, cfg, &api);
    }
    if (!vm_vcpus_stopped(&vm)) {
        /* A live vCPU may still use RAM, the address spaces and the devices:
         * release nothing, just give the terminal back and leave. */
        log_warn("exiting with status %d without releasing the VM", status);
        terminal_restore();
        _exit(status);
    }
    api_server_stop(api);
    vm_destroy(&vm);
    return status;
}

int main(int argc, char **argv)
{
    struct vm_config cfg;
    char err[512];
    switch (options_parse(argc, argv, &cfg, err, sizeof(err))) {
    case OPTIONS_HELP:
        options_usage(stdout);
        return 0;
    case OPTIONS_VERSION:
        if (MINIVMM_REVISION[0])
            printf("minivmm %s (git %s)\n", MINIVMM_VERSION, MINIVMM_REVISION);
        else
            printf("minivmm %s\n", MINIVMM_VERSION);
        return 0;
    case OPTIONS_ERROR:
        log_error("%s", err);
        return EXIT_USAGE;
    case OPTIONS_RUN:
        break;
    }
    return run(&cfg);
}
