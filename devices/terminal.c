/* The host terminal on stdin in raw mode for the serial console, and putting
 * it back however minivmm ends: the UART's unrealize, exit(), a fatal signal,
 * or an exit past a stuck vCPU. */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "devices/devices.h"
#include "devices/internal.h"

static struct termios saved_termios;
static volatile sig_atomic_t termios_saved;

void terminal_restore(void)
{
    if (termios_saved) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
        termios_saved = 0;
    }
}

/* Installed with SA_RESETHAND: once the terminal is back, the signal does
 * what it would have done. tcsetattr is async-signal-safe. */
static void restore_and_raise(int sig)
{
    terminal_restore();
    raise(sig);
}

void terminal_enter_raw_mode(void)
{
    static bool atexit_registered;
    static const int fatal_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };

    if (termios_saved || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
        return;
    /* Like QEMU's stdio: bytes go to the guest unchanged, Ctrl-C included, but
     * output post-processing stays on because our output shares the terminal. */
    struct termios raw = saved_termios;
    raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    raw.c_cflag = (raw.c_cflag & ~(tcflag_t)(CSIZE | PARENB)) | CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
        return;
    termios_saved = 1;

    if (!atexit_registered) {
        atexit(terminal_restore);
        atexit_registered = true;
    }
    /* Only where nobody installed a handler: main() may have its own. */
    for (unsigned i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
        struct sigaction old;
        if (sigaction(fatal_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
            struct sigaction sa = { .sa_handler = restore_and_raise,
                                    .sa_flags = SA_RESETHAND };
            sigaction(fatal_signals[i], &sa, NULL);
        }
    }
}
