/* Serial output, formatted printing, exit and string helpers for guest programs. */
#include "guest.h"

spinlock_t serial_lock = SPINLOCK_INIT;

#define UART_LSR      5
#define UART_LSR_THRE 0x20

void serial_putc(char c)
{
    /* Bounded poll: a UART that never becomes ready must not hang the guest. */
    for (unsigned i = 0; i < 100000; i++)
        if (inb(GUEST_COM1 + UART_LSR) & UART_LSR_THRE)
            break;
    outb(GUEST_COM1, (uint8_t)c);
}

void puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

static void put_uint(unsigned long v, unsigned base, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = v % base;
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (width > n) {
        serial_putc(pad);
        width--;
    }
    while (n)
        serial_putc(buf[--n]);
}

void guest_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng = 1;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            puts(s ? s : "(null)");
            break;
        }
        case 'c':
            serial_putc((char)va_arg(ap, int));
            break;
        case 'd': {
            long v = lng ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) {
                serial_putc('-');
                put_uint(-(unsigned long)v, 10, width ? width - 1 : 0, pad);
            } else {
                put_uint((unsigned long)v, 10, width, pad);
            }
            break;
        }
        case 'u':
            put_uint(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, width, pad);
            break;
        case 'x':
            put_uint(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, width, pad);
            break;
        case 'p':
            puts("0x");
            put_uint((unsigned long)va_arg(ap, void *), 16, width, pad);
            break;
        case '%':
            serial_putc('%');
            break;
        case '\0':
            return;
        default:
            serial_putc('%');
            serial_putc(*fmt);
            break;
        }
    }
}

void guest_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guest_vprintf(fmt, ap);
    va_end(ap);
}

void guest_exit(uint32_t v)
{
    outl(GUEST_DEBUG_EXIT_PORT, v);
    /* Not reached with a working debug-exit device; do not spin at CPL0
     * forever on an emulating host. */
    halt_forever();
}

void load_empty_idt(void)
{
    static const struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) no_idt = { 0, 0 };
    __asm__ volatile("lidt %0" :: "m"(no_idt) : "memory");
}

void guest_fail(uint32_t code, const char *fmt, ...)
{
    va_list ap;
    puts("FAIL: ");
    va_start(ap, fmt);
    guest_vprintf(fmt, ap);
    va_end(ap);
    serial_putc('\n');
    guest_exit(code ? code : 0xff);
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

unsigned long cmdline_ulong(const char *s, const char *key, unsigned long dflt)
{
    size_t klen = strlen(key);
    if (!s)
        return dflt;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!strncmp(s, key, klen) && s[klen] == '=') {
            const char *p = s + klen + 1;
            unsigned long v = 0;
            int digits = 0;
            while (*p >= '0' && *p <= '9') {
                v = v * 10 + (unsigned long)(*p++ - '0');
                digits++;
            }
            return digits ? v : dflt;
        }
        while (*s && *s != ' ')
            s++;
    }
    return dflt;
}

/* start_pvh.S: e_entry of a PVH program, reached only if the loader entered the
 * file in long mode instead of through its PVH note. */
void pvh_note_ignored(void);
void pvh_note_ignored(void)
{
    guest_fail(0x7e, "entered at e_entry in 64-bit mode: the PVH note was ignored");
}
