/* Device instances: creation, lookup, reset and teardown (devices/device.h). */
#include "devices/device.h"

#include <glib.h>
#include <string.h>

#include "util/log.h"
#include "vmm/vm.h"

Device *vm_find_device(struct vm *vm, const char *id)
{
    for (Device *d = vm->devices; d; d = d->next)
        if (!strcmp(d->id, id))
            return d;
    return NULL;
}

Device *device_new(struct vm *vm, const DeviceClass *cls, const char *id)
{
    char *name;
    if (id) {
        if (vm_find_device(vm, id)) {
            log_error("%s: a device with id '%s' already exists", cls->name, id);
            return NULL;
        }
        name = g_strdup(id);
    } else {
        name = NULL;
        for (unsigned n = 0; !name; n++) {
            name = g_strdup_printf("%s%u", cls->name, n);
            if (vm_find_device(vm, name)) {
                g_free(name);
                name = NULL;
            }
        }
    }
    Device *dev = g_malloc0(cls->instance_size < sizeof(Device) ? sizeof(Device)
                                                                : cls->instance_size);
    dev->cls = cls;
    dev->vm = vm;
    dev->id = name;
    Device **tail = &vm->devices;
    while (*tail)
        tail = &(*tail)->next;
    *tail = dev;
    return dev;
}

int device_realize(Device *dev)
{
    if (dev->realized)
        return 0;
    if (dev->cls->realize && dev->cls->realize(dev) < 0)
        return -1;
    dev->realized = true;
    return 0;
}

void vm_devices_reset(struct vm *vm)
{
    for (Device *d = vm->devices; d; d = d->next)
        if (d->realized && d->cls->reset)
            d->cls->reset(d);
}

void vm_devices_flush(struct vm *vm)
{
    for (Device *d = vm->devices; d; d = d->next)
        if (d->realized && d->cls->flush)
            d->cls->flush(d);
}

static void device_free(Device *dev)
{
    /* A failed realize may have taken part of its resources: unrealize tidies. */
    if (dev->cls->unrealize)
        dev->cls->unrealize(dev);
    g_free(dev->id);
    g_free(dev);
}

void vm_devices_destroy(struct vm *vm)
{
    /* Newest first: later devices may use earlier ones (a PCI device its bus). */
    while (vm->devices) {
        Device **last = &vm->devices;
        while ((*last)->next)
            last = &(*last)->next;
        Device *dev = *last;
        *last = NULL;
        device_free(dev);
    }
}
