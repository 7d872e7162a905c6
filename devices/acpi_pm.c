/* The hardware-reduced ACPI power-management registers the FADT points at
 * (vmm/acpi.h): sleep control, sleep status and reset, one byte each.
 *
 * Linux powers off with acpi_hw_extended_sleep(S5): it writes WAK_STS to the
 * status register, SLP_TYP(S5) | SLP_EN to the control register, then polls the
 * status register for WAK_STS; we end the VM at the control write and reads
 * return 0, so a vCPU that runs on polls harmlessly. It reboots with
 * acpi_reboot(): the reset value to the reset register.
 */
#include "vmm/acpi.h"

#include "devices/internal.h"
#include "util/log.h"

typedef struct AcpiPm {
    Device dev;
    DeviceMappings maps;
} AcpiPm;

static void sleep_control_write(struct vm *vm, uint8_t val)
{
    uint8_t type = (val & ACPI_SLEEP_TYPE_MASK) >> ACPI_SLEEP_TYPE_SHIFT;
    if (val & ~(ACPI_SLEEP_TYPE_MASK | ACPI_SLEEP_ENABLE))
        log_guest_error("ACPI sleep control: reserved bits set in 0x%02x", val);
    if (!(val & ACPI_SLEEP_ENABLE))
        return;     /* the type alone does nothing until SLP_EN */
    if (type != ACPI_S5_SLEEP_TYPE) {
        log_guest_error("ACPI sleep control: sleep type %u not supported, ignored", type);
        return;
    }
    log_debug("ACPI: guest entered S5, powering off");
    vm_request_exit(vm, EXIT_POWEROFF);
}

static MemTxResult acpi_pm_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    struct vm *vm = ((AcpiPm *)opaque)->dev.vm;
    uint8_t val = (uint8_t)data;
    (void)size;     /* always 1 (impl) */

    switch (ACPI_PM_PORT_BASE + addr) {
    case ACPI_PM_SLEEP_CONTROL_PORT:
        sleep_control_write(vm, val);
        break;
    case ACPI_PM_SLEEP_STATUS_PORT:
        /* Write 1 to clear WAK_STS; we never wake, so there is nothing to clear. */
        if (val & ~ACPI_WAKE_STATUS)
            log_guest_error("ACPI sleep status: reserved bits set in 0x%02x", val);
        break;
    case ACPI_PM_RESET_PORT:
        if (val == ACPI_PM_RESET_VALUE) {
            log_debug("ACPI: guest wrote the reset register, rebooting");
            vm_request_exit(vm, EXIT_REBOOT);
        } else {
            log_guest_error("ACPI reset register: 0x%02x is not the reset value, ignored",
                            val);
        }
        break;
    }
    return MEMTX_OK;
}

/* Sleep status: WAK_STS never set (no wake-up from S5). The other two are
 * write-only. */
static MemTxResult acpi_pm_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)size;
    *data = 0;
    return MEMTX_OK;
}

static const MemoryRegionOps acpi_pm_ops = {
    .read = acpi_pm_read,
    .write = acpi_pm_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* The FADT's generic addresses say byte access (Linux uses inb/outb);
     * wider guest accesses are split by the bus, as on ISA. */
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static int acpi_pm_realize(Device *dev)
{
    AcpiPm *pm = DEVICE_CAST(AcpiPm, dev);
    return devices_map_region(dev, &pm->maps, dev->vm->sysio, ACPI_PM_PORT_BASE,
                              memory_region_new_io("acpi-pm", ACPI_PM_NR_PORTS,
                                                   &acpi_pm_ops, pm));
}

static void acpi_pm_unrealize(Device *dev)
{
    devices_unmap_all(&DEVICE_CAST(AcpiPm, dev)->maps);
}

static const DeviceClass acpi_pm_class = {
    .name = "acpi-pm",
    .instance_size = sizeof(AcpiPm),
    .realize = acpi_pm_realize,
    .unrealize = acpi_pm_unrealize,
};

/* Once per VM: devices_create makes it with the other fixed-port devices (so
 * a clash is a usage error), acpi_setup for VMs built without it (unit tests). */
int acpi_pm_init(struct vm *vm)
{
    if (vm_find_device(vm, "acpi-pm"))
        return 0;
    Device *dev = device_new(vm, &acpi_pm_class, "acpi-pm");
    return dev && device_realize(dev) == 0 ? 0 : -1;
}
