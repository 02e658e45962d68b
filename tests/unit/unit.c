/*
 * unit.c — shared helpers for the unit suites (see unit.h).
 */
#include "tests/unit/unit.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Check enforces a test's timeout only when it forks the test. The ASan run
 * does not fork (CK_FORK=no: leaks are reported by the one process), so a
 * hung test there would hang make test: the same limit as an alarm armed
 * before each test and disarmed after it, ending the run with a message. */
static unsigned unit_timeout_seconds(void)
{
    const char *t = getenv("CK_DEFAULT_TIMEOUT");
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    double s = t && *t ? atof(t) : 60;
    double k = m && *m ? atof(m) : 1;
    return s * k >= 1 ? (unsigned)(s * k) : 1;
}

static void unit_on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "unit-tests: a test ran past its timeout (CK_DEFAULT_TIMEOUT, "
                              "CK_FORK=no); the test after the last one reported hung\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(124);
}

static void unit_alarm_arm(void)
{
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode == NULL || strcmp(fork_mode, "no") != 0)
        return; /* Check's own timeout applies */
    signal(SIGALRM, unit_on_alarm);
    alarm(unit_timeout_seconds());
}

static void unit_alarm_disarm(void)
{
    alarm(0);
}

Suite *unit_suite(const char *name, const TTest *const *tests, size_t n)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, unit_alarm_arm, unit_alarm_disarm);
    for (size_t i = 0; i < n; i++)
        _tcase_add_test(tc, tests[i], 0, 0, 0, 1);
    suite_add_tcase(s, tc);
    return s;
}

const char *unit_dataset_path(const char *file)
{
    static char path[1024];
    const char *dir = getenv("TRAINYARD_DATASETS");
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "../shared/datasets", file);
    return path;
}
