/*
 * The unit tests' allocation sweeps (test_conf.c, test_engine_store.c): LW_TEST_ALLOC_FAIL_AT is
 * read once per process, so each failing allocation runs in a child, this test binary again with
 * arguments of its own. Not a test itself (the unit test glob is test_*.c); each test file
 * includes it once.
 */
#ifndef LW_TESTS_OOM_CHILD_H
#define LW_TESTS_OOM_CHILD_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Starts "/proc/self/exe MODE ARG" (argv[0] @name) with allocation @at failing, its standard error
 * (the refusals' messages) to /dev/null and its standard output to @out_fd (-1: this process's).
 * Returns the child's pid, or -1 when fork() failed.
 */
static pid_t oom_spawn(const char *name, const char *mode, const char *arg, long at, int out_fd)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        char at_s[32];

        dup2(devnull, 2);
        if (out_fd >= 0) {
            dup2(out_fd, 1);
        }
        snprintf(at_s, sizeof(at_s), "%ld", at);
        setenv("LW_TEST_ALLOC_FAIL_AT", at_s, 1);
        execl("/proc/self/exe", name, mode, arg, (char *)NULL);
        _exit(99);
    }
    return pid;
}

#endif
