/* The control socket's protocol: parse one JSON request, run the command,
 * build one JSON reply. No sockets here (vmm/api.c carries the bytes), so unit
 * tests drive it directly. Commands run on the API thread: they take the big
 * lock only while reading device state, never while a reply is written out. */
#include <inttypes.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/device.h"
#include "iommu/vtd.h"
#include "memory/memory.h"
#include "pci/pci.h"
#include "vmm/acpi.h"
#include "vmm/api.h"
#include "vmm/options.h"
#include "vmm/vm.h"

/* A command fills `b` with its return value (an object: json-glib's builder
 * has no scalar roots; `ret` takes a scalar instead), or returns an error
 * message (g_strdup'ed) and leaves both alone. */
typedef char *(*ApiCommandFn)(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret);

static char *reply_to_string(JsonNode *root)
{
    JsonGenerator *gen = json_generator_new();
    json_generator_set_root(gen, root);
    gchar *text = json_generator_to_data(gen, NULL);
    g_object_unref(gen);
    char *line = g_strconcat(text, "\n", NULL);
    g_free(text);
    return line;
}

char *api_error_reply(const char *message)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, message);
    json_builder_end_object(b);
    json_builder_end_object(b);
    JsonNode *root = json_builder_get_root(b);
    char *line = reply_to_string(root);
    json_node_unref(root);
    g_object_unref(b);
    return line;
}

/* ---- commands ---- */

/* Object members; a NULL string is JSON null. */
static void add_bool(JsonBuilder *b, const char *name, bool v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, v);
}

static void add_int(JsonBuilder *b, const char *name, uint64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)v);
}

static void add_string(JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name(b, name);
    if (v)
        json_builder_add_string_value(b, v);
    else
        json_builder_add_null_value(b);
}

static char *cmd_info(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)ret;
    (void)args;
    struct vm *vm = ctx->vm;
    json_builder_begin_object(b);
    add_string(b, "version", MINIVMM_VERSION);
    add_string(b, "state", ctx->paused ? "paused" : "running");
    add_int(b, "vcpus", vm->nr_vcpus);
    add_int(b, "memory", vm->ram_size);
    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    /* The list only grows at start-up; instances live until teardown. */
    for (Device *d = vm->devices; d; d = d->next) {
        json_builder_begin_object(b);
        add_string(b, "id", d->id);
        add_string(b, "class", d->cls->name);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return NULL;
}

static char *dump_to_string(ApiContext *ctx, void (*dump)(void *, AddressSpace *const *, unsigned),
                            JsonNode **ret)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return g_strdup("out of memory");
    AddressSpace *spaces[] = { ctx->vm->as_mem, ctx->vm->as_io };
    memory_bql_lock();
    dump(out, spaces, 2);
    memory_bql_unlock();
    fclose(out);
    *ret = json_node_init_string(json_node_alloc(), text);
    free(text);
    return NULL;
}

static char *cmd_mtree(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)args;
    (void)b;
    return dump_to_string(ctx, memory_dump_regions, ret);
}

static char *cmd_flatview(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)args;
    (void)b;
    return dump_to_string(ctx, memory_dump_flatviews, ret);
}

static char *cmd_iommu(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)ret;
    (void)args;
    Device *dev = vm_find_device(ctx->vm, "vtd");
    if (!dev)
        return g_strdup("no IOMMU (start with --iommu)");
    VTDInfo info;
    vtd_get_info(DEVICE_CAST(VTDState, dev), &info);
    json_builder_begin_object(b);
    add_bool(b, "translation", info.translation);
    add_bool(b, "interrupt-remapping", info.intremap);
    add_bool(b, "queued-invalidation", info.queued_inval);
    add_int(b, "root-table", info.root_table);
    add_int(b, "iotlb-hits", info.iotlb_hits);
    add_int(b, "iotlb-misses", info.iotlb_misses);
    add_int(b, "faults", info.faults);
    add_int(b, "fault-status", info.fault_status);
    json_builder_end_object(b);
    return NULL;
}

static void add_pci_bars(JsonBuilder *b, const PCIFunctionDesc *o)
{
    static const char *const types[] = { [PCI_BAR_IO] = "io", [PCI_BAR_MEM32] = "mem32",
                                         [PCI_BAR_MEM64] = "mem64" };
    json_builder_set_member_name(b, "bars");
    json_builder_begin_array(b);
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        const PCIBarDesc *bar = &o->bars[n];
        if (!bar->type)
            continue;
        json_builder_begin_object(b);
        add_int(b, "index", n);
        add_string(b, "type", types[bar->type]);
        add_bool(b, "prefetchable", bar->prefetchable);
        add_int(b, "address", bar->addr);
        add_int(b, "size", bar->size);
        add_bool(b, "enabled", bar->enabled);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void add_pci_irq(JsonBuilder *b, const PCIFunctionDesc *o)
{
    json_builder_set_member_name(b, "interrupts");
    json_builder_begin_object(b);
    add_string(b, "mode", o->irq_mode);
    char pin[2] = { (char)('A' + o->intx_pin - 1), 0 };
    add_string(b, "intx-pin", o->intx_pin ? pin : NULL);
    if (o->intx_pin)
        add_int(b, "intx-gsi", o->intx_gsi);
    add_bool(b, "intx-disabled", o->command & PCI_COMMAND_INTX_DISABLE);
    json_builder_set_member_name(b, "msi");
    if (o->msi) {
        json_builder_begin_object(b);
        add_bool(b, "enabled", o->msi_enabled);
        add_int(b, "vectors", o->msi_vectors);
        add_int(b, "max-vectors", o->msi_max_vectors);
        add_bool(b, "64bit", o->msi_64bit);
        add_bool(b, "maskable", o->msi_maskable);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "msix");
    if (o->msix) {
        json_builder_begin_object(b);
        add_bool(b, "enabled", o->msix_enabled);
        add_bool(b, "masked", o->msix_masked);
        add_int(b, "vectors", o->msix_vectors);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_end_object(b);
}

static void add_pci_function(PCIDevice *d, void *opaque)
{
    JsonBuilder *b = opaque;
    PCIFunctionDesc o;
    pci_describe(d, &o);
    char bdf[16];
    snprintf(bdf, sizeof(bdf), "%02x:%02x.%u", o.bus, o.slot, o.func);
    json_builder_begin_object(b);
    add_string(b, "bdf", bdf);
    add_string(b, "id", o.id);
    add_int(b, "vendor-id", o.vendor_id);
    add_int(b, "device-id", o.device_id);
    add_int(b, "subsystem-vendor-id", o.subsystem_vendor_id);
    add_int(b, "subsystem-id", o.subsystem_id);
    add_int(b, "class", o.class_code);
    add_int(b, "revision", o.revision);
    /* Resolved when the socket was set up (pci_resolve_names): null = not in pci.ids. */
    add_string(b, "vendor", o.names ? o.names->vendor : NULL);
    add_string(b, "device", o.names ? o.names->device : NULL);
    add_string(b, "subsystem-vendor", o.names ? o.names->subsystem_vendor : NULL);
    add_string(b, "class-name", o.names ? o.names->class_name : NULL);
    add_bool(b, "express", o.express);
    add_bool(b, "io", o.command & PCI_COMMAND_IO);
    add_bool(b, "memory", o.command & PCI_COMMAND_MEMORY);
    add_bool(b, "bus-master", o.command & PCI_COMMAND_MASTER);
    add_bool(b, "iommu", o.behind_iommu);
    add_pci_bars(b, &o);
    add_pci_irq(b, &o);
    json_builder_end_object(b);
}

static char *cmd_pci(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)ret;
    (void)args;
    PCIBus *bus = pci_root_bus(ctx->vm);
    if (!bus)
        return g_strdup("no PCI host");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "functions");
    json_builder_begin_array(b);
    memory_bql_lock();
    pci_bus_foreach(bus, add_pci_function, b);
    memory_bql_unlock();
    json_builder_end_array(b);
    json_builder_end_object(b);
    return NULL;
}

/* A non-negative integer member (JSON numbers are doubles or int64 here). */
static bool get_uint(JsonObject *args, const char *name, uint64_t *out)
{
    JsonNode *n = args ? json_object_get_member(args, name) : NULL;
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
        return false;
    gint64 v = json_node_get_int(n);
    if (v < 0)
        return false;
    *out = (uint64_t)v;
    return true;
}

static char *cmd_xp(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)ret;
    uint64_t addr, size;
    if (!get_uint(args, "address", &addr) || !get_uint(args, "size", &size))
        return g_strdup("xp needs arguments {\"address\": N, \"size\": N} (non-negative integers)");
    if (size == 0 || size > API_XP_MAX)
        return g_strdup_printf("xp: size must be 1..%d", API_XP_MAX);
    if (addr + size < addr)
        return g_strdup("xp: the range wraps around");
    uint8_t buf[API_XP_MAX];
    /* Through the memory core, as a device would read: RAM, ROM or MMIO. */
    MemTxResult r = address_space_read(ctx->vm->as_mem, addr, buf, (hwaddr)size);
    if (r != MEMTX_OK)
        return g_strdup_printf("xp: 0x%" PRIx64 "+%" PRIu64 " is not readable", addr, size);
    char *hex = g_malloc(size * 2 + 1);
    for (uint64_t i = 0; i < size; i++)
        snprintf(hex + 2 * i, 3, "%02x", buf[i]);
    json_builder_begin_object(b);
    add_int(b, "address", addr);
    add_int(b, "size", size);
    add_string(b, "data", hex);
    json_builder_end_object(b);
    g_free(hex);
    return NULL;
}

static void empty_return(JsonBuilder *b)
{
    json_builder_begin_object(b);
    json_builder_end_object(b);
}

static char *cmd_pause(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)ret;
    (void)args;
    if (ctx->paused)
        return g_strdup("already paused");
    vm_pause_vcpus(ctx->vm);
    ctx->paused = true;
    empty_return(b);
    return NULL;
}

static char *cmd_resume(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)ret;
    (void)args;
    if (!ctx->paused)
        return g_strdup("not paused");
    vm_resume_vcpus(ctx->vm);
    ctx->paused = false;
    empty_return(b);
    return NULL;
}

static char *cmd_powerdown(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)ret;
    (void)args;
    if (acpi_power_button(ctx->vm))
        return g_strdup("the machine has no ACPI power button");
    empty_return(b);
    return NULL;
}

static char *cmd_quit(ApiContext *ctx, JsonObject *args, JsonBuilder *b, JsonNode **ret)
{
    (void)ret;
    (void)args;
    vm_request_exit(ctx->vm, EXIT_POWEROFF);
    empty_return(b);
    return NULL;
}

static const struct api_command {
    const char *name;
    ApiCommandFn fn;
} commands[] = {
    { "info", cmd_info },       { "mtree", cmd_mtree },   { "flatview", cmd_flatview },
    { "pci", cmd_pci },
    { "iommu", cmd_iommu },     { "xp", cmd_xp },         { "pause", cmd_pause },
    { "resume", cmd_resume },   { "powerdown", cmd_powerdown }, { "quit", cmd_quit },
};

/* ---- parse and dispatch ---- */

static char *run_request(ApiContext *ctx, JsonNode *root, JsonNode **ret)
{
    if (!JSON_NODE_HOLDS_OBJECT(root))
        return g_strdup("a request is a JSON object");
    JsonObject *req = json_node_get_object(root);
    JsonNode *cmd = json_object_get_member(req, "command");
    if (!cmd || !JSON_NODE_HOLDS_VALUE(cmd) || json_node_get_value_type(cmd) != G_TYPE_STRING)
        return g_strdup("the request has no \"command\" string");
    JsonNode *argn = json_object_get_member(req, "arguments");
    if (argn && !JSON_NODE_HOLDS_OBJECT(argn) && !JSON_NODE_HOLDS_NULL(argn))
        return g_strdup("\"arguments\" must be an object");
    JsonObject *args = argn && JSON_NODE_HOLDS_OBJECT(argn) ? json_node_get_object(argn) : NULL;
    const char *name = json_node_get_string(cmd);
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(commands[i].name, name))
            continue;
        JsonBuilder *b = json_builder_new();
        char *err = commands[i].fn(ctx, args, b, ret);
        if (!err && !*ret)
            *ret = json_builder_get_root(b);
        g_object_unref(b);
        return err;
    }
    return g_strdup_printf("unknown command '%s'", name);
}

char *api_handle_request(ApiContext *ctx, const char *line, size_t len)
{
    if (len > API_MAX_REQUEST)
        return api_error_reply("request longer than 4096 bytes");
    if (memchr(line, '\0', len))
        return api_error_reply("request contains a NUL byte");
    JsonParser *parser = json_parser_new();
    GError *gerr = NULL;
    char *reply;
    if (!json_parser_load_from_data(parser, line, (gssize)len, &gerr)) {
        char *msg = g_strdup_printf("malformed JSON: %s", gerr->message);
        reply = api_error_reply(msg);
        g_free(msg);
        g_error_free(gerr);
    } else if (!json_parser_get_root(parser)) {
        reply = api_error_reply("empty request");
    } else {
        JsonNode *ret = NULL;
        char *err = run_request(ctx, json_parser_get_root(parser), &ret);
        if (err) {
            reply = api_error_reply(err);
            g_free(err);
        } else {
            JsonObject *o = json_object_new();
            json_object_set_member(o, "return", ret);
            JsonNode *root = json_node_init_object(json_node_alloc(), o);
            reply = reply_to_string(root);
            json_node_unref(root);
            json_object_unref(o);
        }
    }
    g_object_unref(parser);
    return reply;
}
