/* linestamp [-o FILE] PATTERN... -- COMMAND ARGS...: runs COMMAND with its stdout on a
 * pipe (copied to FILE when given) and prints, for each PATTERN, the milliseconds from just before exec to the first
 * output line containing it ("PATTERN: 123.4 ms", or "PATTERN: not seen"), then the
 * time the command exited. Used by `make bench` to time boots from the serial
 * console, the same way for every VMM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int first = 1;
    FILE *copy = NULL;
    if (argc > 2 && !strcmp(argv[1], "-o")) {
        copy = fopen(argv[2], "w");
        if (!copy) {
            perror(argv[2]);
            return 2;
        }
        first = 3;
    }
    int sep = first;
    while (sep < argc && strcmp(argv[sep], "--"))
        sep++;
    if (sep >= argc - 1) {
        fprintf(stderr, "usage: linestamp [-o FILE] PATTERN... -- COMMAND ARGS...\n");
        return 2;
    }
    int nr_patterns = sep - first;
    double *seen = calloc(nr_patterns ? nr_patterns : 1, sizeof(*seen));
    int fds[2];
    if (!seen || pipe(fds))
        return 2;
    double start = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[sep + 1], argv + sep + 1);
        perror(argv[sep + 1]);
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char line[4096];
    while (in && fgets(line, sizeof(line), in)) {
        double t = now_ms() - start;
        if (copy)
            fputs(line, copy);
        for (int i = 0; i < nr_patterns; i++)
            if (!seen[i] && strstr(line, argv[first + i]))
                seen[i] = t;
    }
    int status;
    waitpid(pid, &status, 0);
    double end = now_ms() - start;
    for (int i = 0; i < nr_patterns; i++) {
        if (seen[i])
            printf("%s: %.1f ms\n", argv[first + i], seen[i]);
        else
            printf("%s: not seen\n", argv[first + i]);
    }
    printf("exit: %.1f ms status %d\n", end, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    free(seen);
    if (copy)
        fclose(copy);
    return 0;
}
