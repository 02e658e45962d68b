/*
 * unit.c — shared helpers for the unit suites (see unit.h).
 */
#include "tests/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>

Suite *unit_suite(const char *name, const TTest *const *tests, size_t n)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 60);
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
