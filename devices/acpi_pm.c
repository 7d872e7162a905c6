/* The hardware-reduced ACPI power-management registers the FADT points at
 * (vmm/acpi.h): sleep control, sleep status and reset, one byte each, and the
 * 32-bit PM timer.
 *
 * Linux powers off with acpi_hw_extended_sleep(S5): it writes WAK_STS to the
 * status register, SLP_TYP(S5) | SLP_EN to the control register, then polls the
 * status register for WAK_STS; we end the VM at the control write. It reboots
 * with acpi_reboot(): the reset value to the reset register.
 *
 * S3: SLP_TYP(S3) | SLP_EN stops every vCPU with RAM kept. A wake event
 * (acpi_pm_wake: an RTC alarm) sets WAK_STS and restarts the guest as firmware
 * would on resume: the boot CPU in real mode at the FACS's waking vector, the
 * others waiting for a SIPI.
 */
#include "vmm/acpi.h"

#include <pthread.h>
#include <time.h>

#include "devices/device.h"
#include "devices/internal.h"
#include "util/log.h"
#include "util/time.h"
#include "vmm/vcpu.h"

enum sleep_state { AWAKE, ENTERING_S3, IN_S3 };

typedef struct ACPIPMState {
    Device dev;
    pthread_mutex_t lock;       /* sleep state: a vCPU and the RTC's timer thread */
    enum sleep_state state;
    bool wake_pending;          /* a wake event came while entering S3 */
    uint8_t status;             /* WAK_STS */
    int64_t timer_start_ns;     /* CLOCK_MONOTONIC at reset: the PM timer's zero */
    DeviceMappings maps;
} ACPIPMState;

/* s->lock held, vCPUs paused. */
static void wake_locked(ACPIPMState *s)
{
    struct vm *vm = s->dev.vm;
    MemTxResult r1, r2;
    uint64_t vector = address_space_ldq_le(vm->as_mem, ACPI_FACS_ADDR + ACPI_FACS_X_WAKING_VECTOR,
                                           &r2);
    if (r2 != MEMTX_OK || vector == 0)
        vector = address_space_ldl_le(vm->as_mem, ACPI_FACS_ADDR + ACPI_FACS_WAKING_VECTOR, &r1);
    if (vector > 0xfffff) {
        /* Real mode reaches the first MiB only: what firmware would do is undefined. */
        log_guest_error("ACPI: waking vector 0x%llx is above 1 MiB, using its low 20 bits",
                        (unsigned long long)vector);
        vector &= 0xfffff;
    }
    log_debug("ACPI: waking from S3 at 0x%llx", (unsigned long long)vector);
    for (unsigned i = 0; vm->vcpus && i < vm->nr_vcpus; i++) {
        if (x86_wake_vcpu(&vm->vcpus[i], i == 0, (uint32_t)vector)) {
            vm_request_exit(vm, EXIT_HOST_ERROR);
            break;
        }
    }
    s->status |= ACPI_WAKE_STATUS;
    s->state = AWAKE;
    vm_resume_vcpus(vm);
}

static void enter_s3(ACPIPMState *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->state != AWAKE) {
        pthread_mutex_unlock(&s->lock);
        return;     /* another vCPU got there first */
    }
    s->state = ENTERING_S3;
    s->wake_pending = false;
    pthread_mutex_unlock(&s->lock);

    log_debug("ACPI: guest entered S3");
    /* This vCPU counts as stopped while in its device op; it waits with the
     * others as soon as the op returns. */
    vm_pause_vcpus(s->dev.vm);

    pthread_mutex_lock(&s->lock);
    s->state = IN_S3;
    if (s->wake_pending)
        wake_locked(s);
    pthread_mutex_unlock(&s->lock);
}

void acpi_pm_wake(struct vm *vm)
{
    Device *dev = vm_find_device(vm, "acpi-pm");
    if (!dev)
        return;
    ACPIPMState *s = DEVICE_CAST(ACPIPMState, dev);
    /* With the big lock no vCPU is inside a device op while its state is
     * reset below (a paused vCPU may still be finishing one). */
    bool locked = memory_bql_locked();
    if (!locked)
        memory_bql_lock();
    pthread_mutex_lock(&s->lock);
    if (s->state == IN_S3)
        wake_locked(s);
    else if (s->state == ENTERING_S3)
        s->wake_pending = true;
    pthread_mutex_unlock(&s->lock);
    if (!locked)
        memory_bql_unlock();
}

int acpi_power_button(struct vm *vm)
{
    if (!vm_find_device(vm, "acpi-pm"))
        return -1;
    vm_set_irq_line(vm, ACPI_GED_GSI, true);
    vm_set_irq_line(vm, ACPI_GED_GSI, false);
    return 0;
}

static void sleep_control_write(ACPIPMState *s, uint8_t val)
{
    uint8_t type = (val & ACPI_SLEEP_TYPE_MASK) >> ACPI_SLEEP_TYPE_SHIFT;
    if (val & ~(ACPI_SLEEP_TYPE_MASK | ACPI_SLEEP_ENABLE))
        log_guest_error("ACPI sleep control: reserved bits set in 0x%02x", val);
    if (!(val & ACPI_SLEEP_ENABLE))
        return;     /* the type alone does nothing until SLP_EN */
    switch (type) {
    case ACPI_S5_SLEEP_TYPE:
        log_debug("ACPI: guest entered S5, powering off");
        vm_request_exit(s->dev.vm, EXIT_POWEROFF);
        break;
    case ACPI_S3_SLEEP_TYPE:
        enter_s3(s);
        break;
    default:
        log_guest_error("ACPI sleep control: sleep type %u not supported, ignored", type);
    }
}

static MemTxResult acpi_pm_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    ACPIPMState *s = opaque;
    uint8_t val = (uint8_t)data;
    (void)size;     /* always 1 (impl) */

    switch (ACPI_PM_PORT_BASE + addr) {
    case ACPI_PM_SLEEP_CONTROL_PORT:
        sleep_control_write(s, val);
        break;
    case ACPI_PM_SLEEP_STATUS_PORT:
        if (val & ~ACPI_WAKE_STATUS)
            log_guest_error("ACPI sleep status: reserved bits set in 0x%02x", val);
        pthread_mutex_lock(&s->lock);
        s->status &= (uint8_t)~(val & ACPI_WAKE_STATUS);     /* write 1 to clear */
        pthread_mutex_unlock(&s->lock);
        break;
    case ACPI_PM_RESET_PORT:
        if (val == ACPI_PM_RESET_VALUE) {
            log_debug("ACPI: guest wrote the reset register, rebooting");
            vm_request_exit(s->dev.vm, EXIT_REBOOT);
        } else {
            log_guest_error("ACPI reset register: 0x%02x is not the reset value, ignored",
                            val);
        }
        break;
    }
    return MEMTX_OK;
}

/* Sleep status: WAK_STS once woken from S3. The other two are write-only. */
static MemTxResult acpi_pm_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    ACPIPMState *s = opaque;
    (void)size;
    pthread_mutex_lock(&s->lock);
    *data = ACPI_PM_PORT_BASE + addr == ACPI_PM_SLEEP_STATUS_PORT ? s->status : 0;
    pthread_mutex_unlock(&s->lock);
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

static MemTxResult pm_timer_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    ACPIPMState *s = opaque;
    (void)addr, (void)size;     /* 4 at 0 (impl); narrower reads are cut from it */
    int64_t ns = monotonic_ns() - s->timer_start_ns;
    *data = (uint32_t)((unsigned __int128)ns * ACPI_PM_TIMER_HZ / 1000000000u);
    return MEMTX_OK;
}

static MemTxResult pm_timer_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    (void)opaque, (void)addr, (void)data, (void)size;
    log_guest_error("ACPI PM timer: write ignored (read-only)");
    return MEMTX_OK;
}

static const MemoryRegionOps pm_timer_ops = {
    .read = pm_timer_read,
    .write = pm_timer_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static void acpi_pm_reset(Device *dev)
{
    ACPIPMState *s = DEVICE_CAST(ACPIPMState, dev);
    pthread_mutex_lock(&s->lock);
    s->status = 0;
    s->timer_start_ns = monotonic_ns();
    pthread_mutex_unlock(&s->lock);
}

static int acpi_pm_realize(Device *dev)
{
    ACPIPMState *s = DEVICE_CAST(ACPIPMState, dev);
    pthread_mutex_init(&s->lock, NULL);
    acpi_pm_reset(dev);
    MemoryRegion *io = dev->vm->sysio;
    if (devices_map_region(dev, &s->maps, io, ACPI_PM_PORT_BASE,
                           memory_region_new_io("acpi-pm", ACPI_PM_NR_PORTS, &acpi_pm_ops, s)))
        return -1;
    return devices_map_region(dev, &s->maps, io, ACPI_PM_TIMER_PORT,
                              memory_region_new_io("acpi-pm-timer", ACPI_PM_TIMER_LEN,
                                                   &pm_timer_ops, s));
}

static void acpi_pm_unrealize(Device *dev)
{
    ACPIPMState *s = DEVICE_CAST(ACPIPMState, dev);
    devices_unmap_all(&s->maps);
    pthread_mutex_destroy(&s->lock);
}

static const DeviceClass acpi_pm_class = {
    .name = "acpi-pm",
    .instance_size = sizeof(ACPIPMState),
    .realize = acpi_pm_realize,
    .reset = acpi_pm_reset,
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
