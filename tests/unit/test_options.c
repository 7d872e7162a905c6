/* The command-line parser: every option in both spellings, and each kind of
 * error naming what is wrong. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "vmm/options.h"
#include "vmm/seccomp.h"

static char kernel_path[] = "/tmp/minivmm-test-kernel-XXXXXX";

static void remove_kernel_file(void)
{
    unlink(kernel_path);
}

/* A readable (empty) file to pass as --kernel. */
static void make_kernel_file(void)
{
    static bool made;
    if (made)
        return;
    int fd = mkstemp(kernel_path);
    if (fd >= 0) {
        close(fd);
        atexit(remove_kernel_file);
    }
    made = true;
}

/* Parses NULL-terminated arguments (argv[0] is supplied). */
static enum options_result parse(struct vm_config *cfg, char *err, const char *const *args)
{
    char *argv[32] = { "minivmm" };
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    err[0] = '\0';
    return options_parse(argc, argv, cfg, err, 256);
}

#define PARSE(cfg, err, ...) parse(cfg, err, (const char *const[]){ __VA_ARGS__, NULL })

/* Expects an error whose message contains `needle`. */
#define CHECK_ERROR(needle, ...)                                               \
    do {                                                                       \
        struct vm_config c_;                                                   \
        char e_[256];                                                          \
        CHECK_EQ(PARSE(&c_, e_, __VA_ARGS__), OPTIONS_ERROR);                  \
        if (!strstr(e_, needle))                                               \
            test_fail_(__FILE__, __LINE__, "error '%s' lacks '%s'", e_, needle); \
    } while (0)

TEST(defaults)
{
    struct vm_config cfg;
    char err[256];
    make_kernel_file();
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path) == OPTIONS_RUN);
    CHECK(!strcmp(cfg.kernel, kernel_path));
    CHECK(cfg.initramfs == NULL);
    CHECK(!strcmp(cfg.cmdline, ""));
    CHECK_EQ(cfg.nr_cpus, 1);
    CHECK_EQ(cfg.mem_size, 512ull << 20);
    CHECK_EQ(cfg.serial, SERIAL_TTY);
    CHECK(cfg.cpu_features == NULL);
    CHECK(!cfg.dump_mtree);
    CHECK(cfg.test_device == NULL);
    CHECK(!cfg.pc_testdev);
    CHECK_EQ(cfg.debug_exit_port, 0xf4);
    CHECK_EQ(cfg.irqchip, IRQCHIP_KERNEL);
    CHECK_EQ(cfg.seccomp, SECCOMP_ON);
    CHECK(cfg.api_socket == NULL);
}

TEST(seccomp_and_api_socket)
{
    struct vm_config cfg;
    char err[256];
    make_kernel_file();
    static const struct { const char *v; int mode; } modes[] = {
        { "true", SECCOMP_ON }, { "false", SECCOMP_OFF }, { "log", SECCOMP_LOG } };
    for (unsigned i = 0; i < 3; i++) {
        REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--seccomp", modes[i].v) == OPTIONS_RUN);
        CHECK_EQ(cfg.seccomp, modes[i].mode);
    }
    CHECK_ERROR("--seccomp: bad value 'on' (expected true, false or log)", "--kernel",
                kernel_path, "--seccomp", "on");
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--api-socket=path=/run/x.sock") ==
            OPTIONS_RUN);
    CHECK(!strcmp(cfg.api_socket, "/run/x.sock"));
    CHECK_ERROR("--api-socket: empty path", "--kernel", kernel_path, "--api-socket", "path=");
    CHECK_ERROR("path=PATH", "--kernel", kernel_path, "--api-socket", "/run/x.sock");
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath));
    memcpy(longpath, "path=/", 6);
    longpath[sizeof(longpath) - 1] = '\0';
    CHECK_ERROR("path longer than 107 bytes", "--kernel", kernel_path, "--api-socket", longpath);
    CHECK_ERROR("--api-socket given twice", "--kernel", kernel_path, "--api-socket", "path=/a",
                "--api-socket", "path=/b");
}

TEST(irqchip)
{
    struct vm_config cfg;
    char err[256];
    make_kernel_file();
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--irqchip", "split") == OPTIONS_RUN);
    CHECK_EQ(cfg.irqchip, IRQCHIP_SPLIT);
    CHECK_ERROR("--irqchip given twice", "--kernel", kernel_path, "--irqchip=split",
                "--irqchip=kernel");
}

/* Interrupt remapping needs our IOAPIC: --iommu picks split unless told
 * otherwise, and refuses an explicit kernel irqchip. */
TEST(iommu_implies_split_irqchip)
{
    struct vm_config cfg;
    char err[256];
    make_kernel_file();
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--iommu") == OPTIONS_RUN);
    CHECK_EQ(cfg.irqchip, IRQCHIP_SPLIT);
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--iommu", "intremap=off") == OPTIONS_RUN);
    CHECK_EQ(cfg.irqchip, IRQCHIP_KERNEL);
    CHECK_ERROR("--iommu with interrupt remapping needs --irqchip split", "--kernel",
                kernel_path, "--iommu", "--irqchip", "kernel");
}

TEST(both_spellings)
{
    struct vm_config cfg;
    char err[256];
    make_kernel_file();
    char kernel_eq[128];
    snprintf(kernel_eq, sizeof(kernel_eq), "--kernel=%s", kernel_path);
    REQUIRE(PARSE(&cfg, err, kernel_eq, "--initramfs", kernel_path, "--cmdline=a=b c",
                  "--cpus", "boot=4", "--memory=size=1G", "--serial", "file=/tmp/x.log",
                  "--cpu-features=-cx16,+xsaveerptr", "--test-device", "log=/tmp/t.log",
                  "--debug-exit-port=0x501") == OPTIONS_RUN);
    CHECK(!strcmp(cfg.kernel, kernel_path));
    CHECK(!strcmp(cfg.initramfs, kernel_path));
    CHECK(!strcmp(cfg.cmdline, "a=b c"));
    CHECK_EQ(cfg.nr_cpus, 4);
    CHECK_EQ(cfg.mem_size, 1ull << 30);
    CHECK_EQ(cfg.serial, SERIAL_FILE);
    CHECK(!strcmp(cfg.serial_path, "/tmp/x.log"));
    CHECK(!strcmp(cfg.cpu_features, "-cx16,+xsaveerptr"));
    CHECK(!strcmp(cfg.test_device, "log=/tmp/t.log"));
    CHECK_EQ(cfg.debug_exit_port, 0x501);
}

TEST(sizes_and_counts)
{
    struct vm_config cfg;
    char err[256];
    make_kernel_file();
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--memory", "size=2M") == OPTIONS_RUN);
    CHECK_EQ(cfg.mem_size, 2ull << 20);
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--memory", "size=1t") == OPTIONS_RUN);
    CHECK_EQ(cfg.mem_size, 1ull << 40);
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--memory", "size=8192k") == OPTIONS_RUN);
    CHECK_EQ(cfg.mem_size, 8ull << 20);
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--memory", "size=3145728") == OPTIONS_RUN);
    CHECK_EQ(cfg.mem_size, 3ull << 20);
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--cpus", "boot=64") == OPTIONS_RUN);
    CHECK_EQ(cfg.nr_cpus, 64);
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--serial", "off") == OPTIONS_RUN);
    CHECK_EQ(cfg.serial, SERIAL_OFF);
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--cmdline", "") == OPTIONS_RUN);
    CHECK(!strcmp(cfg.cmdline, ""));
}

TEST(bad_values)
{
    make_kernel_file();
    CHECK_ERROR("'0'", "--kernel", kernel_path, "--cpus", "boot=0");
    CHECK_ERROR("'65'", "--kernel", kernel_path, "--cpus", "boot=65");
    CHECK_ERROR("'two'", "--kernel", kernel_path, "--cpus", "boot=two");
    CHECK_ERROR("--cpus", "--kernel", kernel_path, "--cpus", "boot=");
    CHECK_ERROR("'1M'", "--kernel", kernel_path, "--memory", "size=1M");
    CHECK_ERROR("'2T'", "--kernel", kernel_path, "--memory", "size=2T");
    CHECK_ERROR("multiple of 4K", "--kernel", kernel_path, "--memory", "size=4097K");
    CHECK_ERROR("bad size", "--kernel", kernel_path, "--memory", "size=12X");
    CHECK_ERROR("bad size", "--kernel", kernel_path, "--memory", "size=-1G");
    CHECK_ERROR("bad size", "--kernel", kernel_path, "--memory", "size=99999999999999999999");
    CHECK_ERROR("bad size", "--kernel", kernel_path, "--memory", "size=17179869184G");
    CHECK_ERROR("'serial0'", "--kernel", kernel_path, "--serial", "serial0");
    CHECK_ERROR("--serial", "--kernel", kernel_path, "--serial", "file=");
    CHECK_ERROR("'0x10000'", "--kernel", kernel_path, "--debug-exit-port", "0x10000");
    CHECK_ERROR("'0'", "--kernel", kernel_path, "--debug-exit-port", "0");
    CHECK_ERROR("'f4'", "--kernel", kernel_path, "--debug-exit-port", "f4");
    CHECK_ERROR("'bogus'", "--kernel", kernel_path, "--cpu-features", "+cx16,bogus");
    CHECK_ERROR("empty", "--kernel", kernel_path, "--cpu-features", "cx16,");
    CHECK_ERROR("--irqchip: bad value 'userspace'", "--kernel", kernel_path, "--irqchip",
                "userspace");
}

TEST(bad_sub_keys)
{
    make_kernel_file();
    CHECK_ERROR("unknown key 'foo'", "--kernel", kernel_path, "--cpus", "foo=2");
    CHECK_ERROR("boot=N", "--kernel", kernel_path, "--cpus", "2");
    CHECK_ERROR("unknown key 'sz'", "--kernel", kernel_path, "--memory", "sz=1G");
    CHECK_ERROR("only one key", "--kernel", kernel_path, "--cpus", "boot=2,max=4");
    CHECK_ERROR("unknown key 'path'", "--kernel", kernel_path, "--test-device", "path=/x");
    CHECK_ERROR("empty log path", "--kernel", kernel_path, "--test-device", "log=");
}

TEST(bad_options)
{
    make_kernel_file();
    CHECK_ERROR("unknown option '--kernal'", "--kernal", kernel_path);
    CHECK_ERROR("unknown option '--bogus'", "--kernel", kernel_path, "--bogus=1");
    CHECK_ERROR("--cmdline needs a value", "--kernel", kernel_path, "--cmdline");
    CHECK_ERROR("--kernel needs a value", "--kernel", "--cpus", "boot=1");
    CHECK_ERROR("--cpus needs a value", "--kernel", kernel_path, "--cpus=");
    CHECK_ERROR("--dump-mtree takes no value", "--dump-mtree=yes");
    CHECK_ERROR("unexpected argument 'vmlinux'", "--kernel", kernel_path, "vmlinux");
    CHECK_ERROR("unexpected argument '-k'", "-k", kernel_path);
    CHECK_ERROR("no kernel", "--cpus", "boot=2");
    CHECK_ERROR("/nonexistent/vmlinux", "--kernel", "/nonexistent/vmlinux");
    CHECK_ERROR("initramfs '/nonexistent/initrd'", "--kernel", kernel_path, "--initramfs",
                "/nonexistent/initrd");
    CHECK_ERROR("directory", "--kernel", "/tmp");
}

TEST(help_version_dump)
{
    struct vm_config cfg;
    char err[256];
    CHECK_EQ(PARSE(&cfg, err, "--help"), OPTIONS_HELP);
    CHECK_EQ(PARSE(&cfg, err, "--version"), OPTIONS_VERSION);
    CHECK_EQ(PARSE(&cfg, err, "--dump-mtree"), OPTIONS_RUN);
    CHECK(cfg.dump_mtree);
    CHECK(cfg.kernel == NULL);
    /* --dump-mtree never loads the kernel, so it need not exist. */
    CHECK_EQ(PARSE(&cfg, err, "--dump-mtree", "--kernel", "/nonexistent"), OPTIONS_RUN);
}

TEST(usage_lists_options_and_statuses)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    REQUIRE(f);
    options_usage(f);
    fclose(f);
    static const char *const needles[] = {
        "--kernel", "--initramfs", "--cmdline", "--cpus", "--memory", "--serial",
        "--cpu-features", "--dump-mtree", "--test-device", "--debug-exit-port", "--irqchip",
        "--help",
        "--version", "Exit statuses", "0  the guest powered off", "2  bad option",
        "4  the guest asked for a reset", "6  the guest crashed", "8  host failure",
        "--seccomp", "--api-socket", "10 stopped by SIGTERM", "12 a thread made a system call",
    };
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        if (!strstr(text, needles[i]))
            test_fail_(__FILE__, __LINE__, "usage lacks '%s'", needles[i]);
    free(text);
}

/* --test-device is repeatable, once per kind. */
TEST(test_device_kinds)
{
    struct vm_config cfg;
    char err[256];
    make_kernel_file();
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--test-device", "pc") == OPTIONS_RUN);
    CHECK(cfg.pc_testdev);
    CHECK(cfg.test_device == NULL);
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--test-device", "log=/tmp/a",
                  "--test-device=pc") == OPTIONS_RUN);
    CHECK(cfg.pc_testdev);
    CHECK(!strcmp(cfg.test_device, "log=/tmp/a"));
    CHECK_ERROR("--test-device log=PATH given twice", "--kernel", kernel_path,
                "--test-device", "log=/tmp/a", "--test-device", "log=/tmp/b");
    CHECK_ERROR("--test-device pc given twice", "--kernel", kernel_path,
                "--test-device", "pc", "--test-device", "pc");
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--test-device", "pci",
                  "--test-device", "dma", "--test-device", "pc") == OPTIONS_RUN);
    CHECK(cfg.pci_testdev && cfg.dma_testdev && cfg.pc_testdev);
    CHECK_ERROR("--test-device dma given twice", "--kernel", kernel_path,
                "--test-device", "dma", "--test-device", "pci", "--test-device", "dma");
    CHECK(PARSE(&cfg, err, "--kernel", kernel_path, "--test-device", "pcie") == OPTIONS_ERROR);
    CHECK(strstr(err, "expected pc, pci, dma or log=PATH") != NULL);
}

/* Giving a single-valued option twice is an error, not "the last one wins". */
TEST(single_valued_options_given_twice)
{
    make_kernel_file();
    CHECK_ERROR("--kernel given twice", "--kernel", kernel_path, "--kernel", kernel_path);
    CHECK_ERROR("--serial given twice", "--kernel", kernel_path, "--serial", "off",
                "--serial", "tty");
    CHECK_ERROR("--debug-exit-port given twice", "--kernel", kernel_path,
                "--debug-exit-port", "0x501", "--debug-exit-port=0x502");
    CHECK_ERROR("--cmdline given twice", "--kernel", kernel_path, "--cmdline", "a",
                "--cmdline", "b");
    CHECK_ERROR("--dump-mtree given twice", "--dump-mtree", "--dump-mtree");
    CHECK_ERROR("--cpus given twice", "--kernel", kernel_path, "--cpus", "boot=1",
                "--cpus", "boot=2");
}

/* --serial-port N,MODE: COM2-COM4, once each; one UART at most on the terminal. */
TEST(serial_ports)
{
    struct vm_config cfg;
    char err[256];
    make_kernel_file();
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--serial-port", "2,off",
                  "--serial-port=4,file=/tmp/com4.log") == OPTIONS_RUN);
    CHECK_EQ(cfg.serial, SERIAL_TTY);
    CHECK(cfg.more_serial[0].present && cfg.more_serial[0].mode == SERIAL_OFF);
    CHECK(!cfg.more_serial[1].present);
    CHECK(cfg.more_serial[2].present && cfg.more_serial[2].mode == SERIAL_FILE &&
          !strcmp(cfg.more_serial[2].path, "/tmp/com4.log"));
    REQUIRE(PARSE(&cfg, err, "--kernel", kernel_path, "--serial", "off", "--serial-port",
                  "3,tty") == OPTIONS_RUN);
    CHECK(cfg.more_serial[1].present && cfg.more_serial[1].mode == SERIAL_TTY);
    CHECK_ERROR("COM2 given twice", "--kernel", kernel_path, "--serial-port", "2,off",
                "--serial-port", "2,off");
    CHECK_ERROR("only one serial port", "--kernel", kernel_path, "--serial-port", "2,tty");
    CHECK_ERROR("bad port '1'", "--kernel", kernel_path, "--serial-port", "1,off");
    CHECK_ERROR("bad port '5'", "--kernel", kernel_path, "--serial-port", "5,off");
    CHECK_ERROR("expected N,MODE", "--kernel", kernel_path, "--serial-port", "2");
    CHECK_ERROR("'nowhere'", "--kernel", kernel_path, "--serial-port", "2,nowhere");
}
