/* The CMOS RTC device: ports 0x70/0x71 around the MC146818 register logic
 * (devices/mc146818.c), IRQ 8, and a timer thread for interrupts nobody polls.
 *
 * The register state has its own lock (taken inside the big lock by the port
 * ops, alone by the timer thread). The timer thread sleeps on a condition
 * variable until the next event that would raise the IRQ line, without the big
 * lock; port writes that may move that event signal it. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "devices/device.h"
#include "devices/internal.h"
#include "devices/mc146818.h"
#include "devices/platform.h"
#include "util/log.h"
#include "vmm/acpi.h"
#include "vmm/layout.h"
#include "vmm/seccomp.h"

/* CMOS bytes PC firmware leaves for the OS (as QEMU and SeaBIOS use them). */
#define CMOS_BASE_MEM_KB     0x15   /* 16-bit: KiB below 640 KiB */
#define CMOS_EXT_MEM_KB      0x17   /* 16-bit: KiB above 1 MiB, at most 65535 */
#define CMOS_EXT_MEM_KB_COPY 0x30   /* the same, where POST reports it */
#define CMOS_MEM_ABOVE_16M   0x34   /* 16-bit: 64 KiB units from 16 MiB to the hole */
#define CMOS_MEM_ABOVE_4G    0x5b   /* 24-bit: 64 KiB units above 4 GiB */
#define CMOS_NR_CPUS_MINUS_1 0x5f

#define NS_PER_SEC 1000000000ll

typedef struct RTCState {
    Device dev;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* on CLOCK_MONOTONIC: the timer thread's sleep */
    struct mc146818 regs;
    uint8_t index;              /* selected by port 0x70 */
    bool nmi_disabled;          /* port 0x70 bit 7; we raise no NMIs ourselves */
    bool irq_level;
    bool stop;
    bool thread_started;
    pthread_t thread;
    bool lock_initialized;      /* realize got as far as the lock and condition */
    DeviceMappings maps;
} RTCState;

static int64_t host_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static void put_cmos16(struct mc146818 *r, uint8_t index, uint64_t v)
{
    if (v > 0xffff)
        v = 0xffff;
    r->cmos[index] = (uint8_t)v;
    r->cmos[index + 1] = (uint8_t)(v >> 8);
}

static void set_memory_bytes(RTCState *s)
{
    struct vm *vm = s->dev.vm;
    uint64_t below = vm->ram_below_4g, above = vm->ram_size - below;
    uint64_t ext_kb = below > LAYOUT_HIGH_MEM ? (below - LAYOUT_HIGH_MEM) / 1024 : 0;
    put_cmos16(&s->regs, CMOS_BASE_MEM_KB, 640);
    put_cmos16(&s->regs, CMOS_EXT_MEM_KB, ext_kb);
    put_cmos16(&s->regs, CMOS_EXT_MEM_KB_COPY, ext_kb);
    put_cmos16(&s->regs, CMOS_MEM_ABOVE_16M, below > (16u << 20) ? (below - (16u << 20)) >> 16 : 0);
    uint64_t above_64k = above >> 16 > 0xffffff ? 0xffffff : above >> 16;
    s->regs.cmos[CMOS_MEM_ABOVE_4G] = (uint8_t)above_64k;
    s->regs.cmos[CMOS_MEM_ABOVE_4G + 1] = (uint8_t)(above_64k >> 8);
    s->regs.cmos[CMOS_MEM_ABOVE_4G + 2] = (uint8_t)(above_64k >> 16);
    s->regs.cmos[CMOS_NR_CPUS_MINUS_1] = (uint8_t)(vm->nr_vcpus ? vm->nr_vcpus - 1 : 0);
}

/* s->lock held. Brings IRQ 8 to the level the registers give. True for a
 * rising edge with the alarm flag set: the S3 wake event, which the caller
 * passes on (acpi_pm_wake) once it has dropped s->lock. */
static bool sync_irq(RTCState *s, int64_t now)
{
    bool level = mc146818_update(&s->regs, now);
    if (level == s->irq_level)
        return false;
    s->irq_level = level;
    vm_set_irq_line(s->dev.vm, RTC_IRQ, level);
    uint8_t c = s->regs.cmos[RTC_REG_C], b = s->regs.cmos[RTC_REG_B];
    return level && (c & b & RTC_C_AF);
}

static MemTxResult rtc_read(void *opaque, hwaddr addr, uint64_t *data, unsigned size)
{
    RTCState *s = opaque;
    (void)size;     /* 1 (impl) */
    if (addr == 0) {
        *data = 0xff;   /* the index register is write-only */
        return MEMTX_OK;
    }
    pthread_mutex_lock(&s->lock);
    int64_t now = host_now_ns();
    *data = mc146818_read(&s->regs, s->index, now);
    bool wake = sync_irq(s, now);
    if (s->index == RTC_REG_C)
        pthread_cond_signal(&s->cond);      /* IRQF clear: the next event counts again */
    pthread_mutex_unlock(&s->lock);
    if (wake)
        acpi_pm_wake(s->dev.vm);
    return MEMTX_OK;
}

static MemTxResult rtc_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    RTCState *s = opaque;
    uint8_t val = (uint8_t)data;
    bool wake = false;
    (void)size;
    pthread_mutex_lock(&s->lock);
    if (addr == 0) {
        s->index = val & (CMOS_SIZE - 1);
        s->nmi_disabled = val & 0x80;
    } else {
        int64_t now = host_now_ns();
        mc146818_write(&s->regs, s->index, val, now);
        wake = sync_irq(s, now);
        pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    if (wake)
        acpi_pm_wake(s->dev.vm);
    return MEMTX_OK;
}

static const MemoryRegionOps rtc_ops = {
    .read = rtc_read,
    .write = rtc_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static void *rtc_timer_thread(void *opaque)
{
    RTCState *s = opaque;
    seccomp_apply_thread(SECCOMP_THREAD_RTC_TIMER, "rtc-timer");
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        int64_t now = host_now_ns();
        if (sync_irq(s, now)) {
            /* Not under s->lock: waking takes the big lock, which a vCPU in
             * one of our port ops holds while it waits for s->lock. */
            pthread_mutex_unlock(&s->lock);
            acpi_pm_wake(s->dev.vm);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        int64_t next = mc146818_next_irq(&s->regs, now);
        if (next == INT64_MAX) {
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        /* The event is on the realtime clock; sleep on the monotonic one for
         * the same span (a host clock step just makes one wake-up early or late). */
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        int64_t wait = next > now ? next - now : 0;
        int64_t ns = deadline.tv_nsec + wait % NS_PER_SEC;
        deadline.tv_sec += (time_t)(wait / NS_PER_SEC + ns / NS_PER_SEC);
        deadline.tv_nsec = (long)(ns % NS_PER_SEC);
        pthread_cond_timedwait(&s->cond, &s->lock, &deadline);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void rtc_reset(Device *dev)
{
    RTCState *s = DEVICE_CAST(RTCState, dev);
    pthread_mutex_lock(&s->lock);
    mc146818_init(&s->regs, host_now_ns());
    set_memory_bytes(s);
    s->index = 0;
    s->nmi_disabled = false;
    if (s->irq_level) {
        s->irq_level = false;
        vm_set_irq_line(dev->vm, RTC_IRQ, false);
    }
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static int rtc_realize(Device *dev)
{
    RTCState *s = DEVICE_CAST(RTCState, dev);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&s->lock, NULL);
    s->lock_initialized = true;
    rtc_reset(dev);

    if (devices_map_region(dev, &s->maps, dev->vm->sysio, RTC_PORT_INDEX,
                           memory_region_new_io("rtc", RTC_NR_PORTS, &rtc_ops, s)))
        return -1;

    int e = pthread_create(&s->thread, NULL, rtc_timer_thread, s);
    if (e) {
        log_error("rtc: cannot start the timer thread: %s", strerror(e));
        return -1;
    }
    pthread_setname_np(s->thread, "rtc-timer");
    s->thread_started = true;
    return 0;
}

static void rtc_unrealize(Device *dev)
{
    RTCState *s = DEVICE_CAST(RTCState, dev);
    if (!s->lock_initialized)
        return;     /* realize never got that far */
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    devices_unmap_all(&s->maps);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
}

static const DeviceClass rtc_class = {
    .name = "rtc",
    .instance_size = sizeof(RTCState),
    .realize = rtc_realize,
    .reset = rtc_reset,
    .unrealize = rtc_unrealize,
};

int rtc_create(struct vm *vm)
{
    Device *dev = device_new(vm, &rtc_class, "rtc");
    return dev ? device_realize(dev) : -1;
}
