/*
 * unit.h — shared helpers for the unit suites.
 */
#ifndef TRAINYARD_UNIT_H
#define TRAINYARD_UNIT_H

#include <check.h>
#include <stddef.h>

/* Builds a suite with one test case holding the given tests, e.g.
 *   const TTest *const tests[] = {router_literal_match, router_405};
 *   return unit_suite("router", tests, sizeof(tests) / sizeof(tests[0]));
 * Tests get a 60 s timeout (the ML suites train real models). */
Suite *unit_suite(const char *name, const TTest *const *tests, size_t n);

/* Path of a file under ../shared/datasets (TRAINYARD_DATASETS overrides the
 * folder); a static buffer. */
const char *unit_dataset_path(const char *file);

#endif
