/*
 * main.c — runs every unit suite listed in test_list.h with Check.
 *
 * `build/unit-tests` runs all suites; `build/unit-tests arena err` runs the
 * named ones. Check forks each test unless CK_FORK=no (the ASan run sets it
 * so that leaks are reported by the one process).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weak, so that a partial build (see the Makefile) links without the suites
 * of parts it leaves out; those are skipped. */
#define SUITE(name) Suite *suite_##name(void) __attribute__((weak));
#include "tests/unit/test_list.h"
#undef SUITE

typedef struct suite_entry {
    const char *name;
    Suite *(*make)(void);
} suite_entry_t;

static const suite_entry_t suites[] = {
#define SUITE(name) {#name, suite_##name},
#include "tests/unit/test_list.h"
#undef SUITE
};

static int wanted(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

/* The confined bundle unpacker (trainer/unpack.h) execs its own binary:
 * here, this one. Weak for partial builds without trainer/. */
int trainer_unpack_main(int argc, char **argv) __attribute__((weak));

int main(int argc, char **argv)
{
    if (trainer_unpack_main != NULL && trainer_unpack_main(argc, argv) >= 0)
        return 1; /* not reached: an unpacker exits */
    SRunner *runner = NULL;
    int unlinked = 0;
    const char *partial = getenv("UNIT_PARTIAL");
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        if (!wanted(suites[i].name, argc, argv))
            continue;
        if (suites[i].make == NULL) {
            /* A listed suite missing from a full build is a mistake, not a pass. */
            fprintf(stderr, "unit-tests: suite %s is not linked in\n", suites[i].name);
            unlinked++;
            continue;
        }
        if (runner == NULL)
            runner = srunner_create(suites[i].make());
        else
            srunner_add_suite(runner, suites[i].make());
    }
    if (runner == NULL) {
        fprintf(stderr, "unit-tests: no such suite\n");
        return 2;
    }
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    if (unlinked > 0 && (partial == NULL || *partial == '\0'))
        return EXIT_FAILURE; /* set UNIT_PARTIAL=1 for partial builds */
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
