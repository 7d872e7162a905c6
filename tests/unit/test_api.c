/* The control socket's protocol without a socket: api_handle_request on a fake
 * VM, every command, and every kind of bad request. */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "iommu/vtd.h"
#include "pci/dma.h"
#include "pci/pci.h"
#include "tests/unit/fake_vm.h"
#include "tests/unit/harness.h"
#include "vmm/acpi.h"
#include "vmm/api.h"

#define RAM (16u << 20)

struct api_test {
    struct fake_vm f;
    ApiContext ctx;
};

static bool setup(struct api_test *t)
{
    memset(t, 0, sizeof(*t));
    if (!fake_vm_init_with_ram(&t->f, RAM, 2))
        return false;
    t->ctx.vm = &t->f.vm;
    return true;
}

/* The reply to `req`, compared whole (json-glib writes no spaces). */
static void expect(struct api_test *t, const char *req, const char *want)
{
    char *got = api_handle_request(&t->ctx, req, strlen(req));
    if (strcmp(got, want))
        test_fail_(__FILE__, __LINE__, "%s: got %s want %s", req, got, want);
    g_free(got);
}

/* The reply to `req` contains `needle`. */
static void expect_has(struct api_test *t, const char *req, const char *needle)
{
    char *got = api_handle_request(&t->ctx, req, strlen(req));
    if (!strstr(got, needle))
        test_fail_(__FILE__, __LINE__, "%s: got %s, lacks %s", req, got, needle);
    g_free(got);
}

TEST(bad_requests)
{
    struct api_test t;
    REQUIRE(setup(&t));
    expect_has(&t, "not json", "{\"error\":{\"message\":\"malformed JSON: ");
    expect_has(&t, "{\"command\": \"info\"", "malformed JSON");
    expect(&t, "", "{\"error\":{\"message\":\"empty request\"}}\n");
    expect(&t, "[\"info\"]", "{\"error\":{\"message\":\"a request is a JSON object\"}}\n");
    expect(&t, "{}", "{\"error\":{\"message\":\"the request has no \\\"command\\\" string\"}}\n");
    expect(&t, "{\"command\": null}",
           "{\"error\":{\"message\":\"the request has no \\\"command\\\" string\"}}\n");
    expect(&t, "{\"command\": \"reboot\"}",
           "{\"error\":{\"message\":\"unknown command 'reboot'\"}}\n");
    expect(&t, "{\"command\": \"info\", \"arguments\": [1]}",
           "{\"error\":{\"message\":\"\\\"arguments\\\" must be an object\"}}\n");
    /* NUL inside the line: refused, not cut short. */
    char *r = api_handle_request(&t.ctx, "{\"command\": \"quit\"}\0x", 21);
    CHECK(strstr(r, "NUL byte") != NULL);
    g_free(r);
    CHECK(!t.f.vm.exit_requested);
    fake_vm_destroy(&t.f);
}

TEST(oversized_request)
{
    struct api_test t;
    REQUIRE(setup(&t));
    size_t len = API_MAX_REQUEST + 1;
    char *line = malloc(len);
    REQUIRE(line);
    memset(line, ' ', len);
    memcpy(line, "{\"command\": \"info\"}", 19);   /* valid JSON, padded past the limit */
    char *r = api_handle_request(&t.ctx, line, len);
    CHECK(!strcmp(r, "{\"error\":{\"message\":\"request longer than 4096 bytes\"}}\n"));
    g_free(r);
    r = api_handle_request(&t.ctx, line, API_MAX_REQUEST);   /* at the limit: served */
    CHECK(!strncmp(r, "{\"return\":{\"version\"", 20));
    g_free(r);
    free(line);
    fake_vm_destroy(&t.f);
}

static const DeviceClass dummy_class = { .name = "dummy", .instance_size = sizeof(Device) };

TEST(info)
{
    struct api_test t;
    REQUIRE(setup(&t));
    REQUIRE(device_new(&t.f.vm, &dummy_class, "d0"));
    REQUIRE(device_new(&t.f.vm, &dummy_class, NULL));
    expect(&t, "{\"command\": \"info\"}",
           "{\"return\":{\"version\":\"0.1.0\",\"state\":\"running\",\"vcpus\":2,"
           "\"memory\":16777216,\"devices\":[{\"id\":\"d0\",\"class\":\"dummy\"},"
           "{\"id\":\"dummy0\",\"class\":\"dummy\"}]}}\n");
    /* "arguments" may be null or an empty object too. */
    expect_has(&t, "{\"command\": \"info\", \"arguments\": null}", "\"state\":\"running\"");
    expect_has(&t, "{\"arguments\": {}, \"command\": \"info\"}", "\"state\":\"running\"");
    fake_vm_destroy(&t.f);
}

TEST(mtree_and_flatview)
{
    struct api_test t;
    REQUIRE(setup(&t));
    expect_has(&t, "{\"command\": \"mtree\"}",
               "{\"return\":\"address-space: memory\\n  0000000000000000-");
    expect_has(&t, "{\"command\": \"mtree\"}", "ram-below-4g");
    expect_has(&t, "{\"command\": \"flatview\"}", "{\"return\":\"FlatView (memory):\\n");
    expect_has(&t, "{\"command\": \"flatview\"}", "FlatView (I/O)");
    fake_vm_destroy(&t.f);
}

TEST(xp_reads_through_the_memory_core)
{
    struct api_test t;
    REQUIRE(setup(&t));
    static const uint8_t bytes[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x7f };
    REQUIRE(address_space_write(t.f.vm.as_mem, 0x1000, bytes, sizeof(bytes)) == MEMTX_OK);
    expect(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": 4096, \"size\": 6}}",
           "{\"return\":{\"address\":4096,\"size\":6,\"data\":\"deadbeef007f\"}}\n");
    /* 4096 bytes ending at the last byte of RAM: allowed. */
    expect_has(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": 16773120, \"size\": 4096}}",
               "\"size\":4096,\"data\":\"");
    const char *too_big = "xp: size must be 1..4096";
    const char *usage = "xp needs arguments";
    expect_has(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": 0, \"size\": 4097}}", too_big);
    expect_has(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": 0, \"size\": 0}}", too_big);
    expect_has(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": 0}}", usage);
    expect_has(&t, "{\"command\": \"xp\"}", usage);
    expect_has(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": -4096, \"size\": 1}}", usage);
    expect_has(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": 1.5, \"size\": 1}}", usage);
    expect_has(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": \"0\", \"size\": 1}}", usage);
    /* Crossing the end of RAM into nothing: the memory core says no. */
    expect(&t, "{\"command\": \"xp\", \"arguments\": {\"address\": 16777215, \"size\": 2}}",
           "{\"error\":{\"message\":\"xp: 0xffffff+2 is not readable\"}}\n");
    expect_has(&t, "{\"command\": \"xp\", \"arguments\": "
                   "{\"address\": 9223372036854775807, \"size\": 4096}}", "not readable");
    fake_vm_destroy(&t.f);
}

TEST(iommu)
{
    struct api_test t;
    REQUIRE(setup(&t));
    expect(&t, "{\"command\": \"iommu\"}",
           "{\"error\":{\"message\":\"no IOMMU (start with --iommu)\"}}\n");
    REQUIRE(vtd_create(&t.f.vm, &(VTDConfig){ .intremap = true }));
    expect(&t, "{\"command\": \"iommu\"}",
           "{\"return\":{\"translation\":false,\"interrupt-remapping\":false,"
           "\"queued-invalidation\":false,\"root-table\":0,\"iotlb-hits\":0,"
           "\"iotlb-misses\":0,\"faults\":0,\"fault-status\":0}}\n");
    fake_vm_destroy(&t.f);
}

TEST(pause_resume_quit)
{
    struct api_test t;
    REQUIRE(setup(&t));
    expect(&t, "{\"command\": \"resume\"}", "{\"error\":{\"message\":\"not paused\"}}\n");
    expect(&t, "{\"command\": \"pause\"}", "{\"return\":{}}\n");
    CHECK(t.ctx.paused);
    CHECK_EQ(t.f.vm.pause_depth, 1);
    expect_has(&t, "{\"command\": \"info\"}", "\"state\":\"paused\"");
    expect(&t, "{\"command\": \"pause\"}", "{\"error\":{\"message\":\"already paused\"}}\n");
    CHECK_EQ(t.f.vm.pause_depth, 1);
    expect(&t, "{\"command\": \"resume\"}", "{\"return\":{}}\n");
    CHECK_EQ(t.f.vm.pause_depth, 0);
    CHECK(!t.f.vm.exit_requested);
    expect(&t, "{\"command\": \"quit\"}", "{\"return\":{}}\n");
    CHECK(t.f.vm.exit_requested);
    CHECK_EQ(t.f.vm.exit_status, EXIT_POWEROFF);
    fake_vm_destroy(&t.f);
}

TEST(powerdown_pulses_the_ged_line)
{
    struct api_test t;
    REQUIRE(setup(&t));
    expect(&t, "{\"command\": \"powerdown\"}",
           "{\"error\":{\"message\":\"the machine has no ACPI power button\"}}\n");
    REQUIRE(acpi_pm_init(&t.f.vm) == 0);
    expect(&t, "{\"command\": \"powerdown\"}", "{\"return\":{}}\n");
    CHECK_EQ(t.f.irq_calls[ACPI_GED_GSI], 2);     /* raised, then lowered: one edge */
    CHECK(!t.f.irq_level[ACPI_GED_GSI]);
    CHECK(!t.f.vm.exit_requested);                /* the guest decides */
    fake_vm_destroy(&t.f);
}

/* The `pci` reply's function at `bdf` (an object of `root`), or NULL. */
static JsonObject *pci_function(JsonNode *root, const char *bdf)
{
    JsonObject *ret = json_object_get_object_member(json_node_get_object(root), "return");
    JsonArray *fns = ret ? json_object_get_array_member(ret, "functions") : NULL;
    for (guint i = 0; fns && i < json_array_get_length(fns); i++) {
        JsonObject *o = json_array_get_object_element(fns, i);
        if (!strcmp(json_object_get_string_member(o, "bdf"), bdf))
            return o;
    }
    return NULL;
}

static JsonParser *pci_request(struct api_test *t, guint *nr_functions)
{
    char *reply = api_handle_request(&t->ctx, "{\"command\": \"pci\"}", 18);
    JsonParser *p = json_parser_new();
    if (!json_parser_load_from_data(p, reply, -1, NULL))
        test_fail_(__FILE__, __LINE__, "pci reply is not JSON: %s", reply);
    JsonObject *ret = json_object_get_object_member(json_node_get_object(json_parser_get_root(p)),
                                                    "return");
    *nr_functions = ret ? json_array_get_length(json_object_get_array_member(ret, "functions")) : 0;
    g_free(reply);
    return p;
}

static const char *member_string(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_string(n) : NULL;
}

TEST(pci)
{
    struct api_test t;
    REQUIRE(setup(&t));
    expect(&t, "{\"command\": \"pci\"}", "{\"error\":{\"message\":\"no PCI host\"}}\n");
    REQUIRE(pci_host_init(&t.f.vm) == 0);
    VTDState *vtd = vtd_create(&t.f.vm, &(VTDConfig){ .intremap = true });
    REQUIRE(vtd);
    pci_bus_set_iommu(pci_root_bus(&t.f.vm), vtd_dma_region, vtd);
    REQUIRE(edu_init(&t.f.vm) == 0 && dma_testdev_init(&t.f.vm) == 0);
    guint n;
    /* Before the names are resolved: null, not a file opened on this thread. */
    JsonParser *p = pci_request(&t, &n);
    CHECK_EQ(n, 3);
    JsonObject *host = pci_function(json_parser_get_root(p), "00:00.0");
    REQUIRE(host);
    CHECK(json_node_is_null(json_object_get_member(host, "vendor")));
    g_object_unref(p);

    pci_resolve_names(&t.f.vm);
    /* The guest enables the edu's memory decode and MSI. */
    PCIDevice *edu = pci_bus_device(pci_root_bus(&t.f.vm), PCI_DEVFN(1, 0));
    REQUIRE(edu);
    memory_bql_lock();
    pci_config_write(edu, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    uint8_t msi = pci_find_capability(edu, PCI_CAP_ID_MSI);
    pci_config_write(edu, msi + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE, 2);
    memory_bql_unlock();
    p = pci_request(&t, &n);
    JsonNode *root = json_parser_get_root(p);
    host = pci_function(root, "00:00.0");
    REQUIRE(host);
    CHECK(member_string(host, "vendor") && !strcmp(member_string(host, "vendor"), "Red Hat, Inc."));
    CHECK(member_string(host, "device") &&
          !strcmp(member_string(host, "device"), "QEMU PCIe Host bridge"));
    CHECK(member_string(host, "class-name") &&
          !strcmp(member_string(host, "class-name"), "Host bridge"));
    CHECK_EQ(json_object_get_int_member(host, "class"), 0x060000);
    CHECK_EQ(json_object_get_int_member(host, "vendor-id"), 0x1b36);

    JsonObject *e = pci_function(root, "00:01.0");
    REQUIRE(e);
    CHECK(!strcmp(member_string(e, "id"), "edu0"));
    CHECK_EQ(json_object_get_int_member(e, "vendor-id"), 0x1234);
    CHECK_EQ(json_object_get_int_member(e, "device-id"), 0x11e8);
    CHECK(json_node_is_null(json_object_get_member(e, "device")));   /* not in pci.ids */
    CHECK(json_object_get_boolean_member(e, "memory"));
    CHECK(json_object_get_boolean_member(e, "bus-master"));
    CHECK(json_object_get_boolean_member(e, "iommu"));
    JsonArray *bars = json_object_get_array_member(e, "bars");
    REQUIRE(bars && json_array_get_length(bars) == 1);
    JsonObject *bar0 = json_array_get_object_element(bars, 0);
    CHECK_EQ(json_object_get_int_member(bar0, "index"), 0);
    CHECK(!strcmp(member_string(bar0, "type"), "mem32"));
    CHECK_EQ(json_object_get_int_member(bar0, "size"), 1 << 20);
    CHECK_EQ(json_object_get_int_member(bar0, "address"), pci_bar_address(edu, 0));
    CHECK(json_object_get_boolean_member(bar0, "enabled"));
    JsonObject *irq = json_object_get_object_member(e, "interrupts");
    REQUIRE(irq);
    CHECK(!strcmp(member_string(irq, "mode"), "MSI"));
    CHECK(!strcmp(member_string(irq, "intx-pin"), "A"));
    JsonObject *m = json_object_get_object_member(irq, "msi");
    REQUIRE(m);
    CHECK(json_object_get_boolean_member(m, "enabled"));
    CHECK_EQ(json_object_get_int_member(m, "vectors"), 1);
    CHECK(json_node_is_null(json_object_get_member(irq, "msix")));

    JsonObject *dma = pci_function(root, "00:02.0");
    REQUIRE(dma);
    JsonObject *mx = json_object_get_object_member(
        json_object_get_object_member(dma, "interrupts"), "msix");
    REQUIRE(mx);
    CHECK(!json_object_get_boolean_member(mx, "enabled"));
    CHECK_EQ(json_object_get_int_member(mx, "vectors"), 4);
    JsonObject *dbar = json_array_get_object_element(json_object_get_array_member(dma, "bars"), 0);
    CHECK(!json_object_get_boolean_member(dbar, "enabled"));             /* decode off */
    g_object_unref(p);
    vm_devices_destroy(&t.f.vm);
    fake_vm_destroy(&t.f);
}
