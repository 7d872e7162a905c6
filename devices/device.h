/* Device instances. Every device model, legacy or PCI, is an instance of a
 * DeviceClass: created on a VM with device_new, configured by its creator
 * (fields of the model's own struct, which starts with a Device), realized,
 * reset, and destroyed through this one interface. A VM may hold several
 * instances of a class (COM1-COM4, several PCI devices of one kind), and unit
 * tests create and destroy as many VMs as they like: no model keeps state
 * outside its instance.
 *
 * Lifetime: device_new links the instance into vm->devices (creation order);
 * vm_devices_destroy unrealizes and frees them in reverse order. */
#ifndef MINIVMM_DEVICE_H
#define MINIVMM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct vm;
typedef struct Device Device;

typedef struct DeviceClass {
    const char *name;              /* "serial", "edu", ... */
    size_t instance_size;          /* of the model's struct; its first member is a Device */
    /* Maps registers, starts threads. 0, or -1 after one log_error line naming
     * the device; a failed realize is still unrealized by vm_devices_destroy. */
    int (*realize)(Device *dev);
    /* Power-on register state (optional); also what a guest reset does. */
    void (*reset)(Device *dev);
    /* Finishes I/O the guest has started (optional): queued output written,
     * later disk writes completed and synced. Called by vm_devices_flush on a
     * clean stop, once the vCPUs have stopped and before any unrealize,
     * without the big lock; bounded in time. */
    void (*flush)(Device *dev);
    /* Releases what realize took (optional). Called once the vCPUs have
     * stopped, without the big lock; must never block for good. */
    void (*unrealize)(Device *dev);
} DeviceClass;

struct Device {
    const DeviceClass *cls;
    struct vm *vm;
    char *id;                      /* unique in the VM: "com1", "edu0" */
    bool realized;
    Device *next;                  /* vm->devices, in creation order */
};

/* A zeroed instance of cls->instance_size bytes with cls, vm and id set,
 * linked into vm->devices. `id` NULL: "<name><n>" with the first free n.
 * NULL (and one error line) when the id is taken. */
Device *device_new(struct vm *vm, const DeviceClass *cls, const char *id);
/* Calls cls->realize once; 0 or -1. */
int device_realize(Device *dev);
Device *vm_find_device(struct vm *vm, const char *id);
/* cls->reset of every realized device, in creation order. */
void vm_devices_reset(struct vm *vm);
/* cls->flush of every realized device, in creation order. */
void vm_devices_flush(struct vm *vm);
/* Unrealizes and frees every device, newest first. */
void vm_devices_destroy(struct vm *vm);

/* The model's struct from its embedded Device (the first member). */
#define DEVICE_CAST(type, dev) ((type *)(void *)(dev))

#endif
