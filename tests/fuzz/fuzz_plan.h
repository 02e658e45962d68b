/*
 * fuzz_plan.h — the small model plan the row readers' targets read against
 * (fuzz_rowjson, fuzz_rowcsv): a number "a", a boolean "b", a category "c"
 * (levels as the target gives them, with an "other" bucket), and a dropped
 * training column "k" after them, as ml/model.c orders its keys.
 */
#ifndef TRAINYARD_FUZZ_PLAN_H
#define TRAINYARD_FUZZ_PLAN_H

#include "ml/encode.h"
#include "ml/keyorder.h"
#include "tests/fuzz/fuzz_util.h"

/* Builds *plan and *keys from the features' JSON once (both stay for the
 * process: a fuzz target's fixture). */
static inline void fuzz_plan_setup(const char *features, enc_plan_t *plan, keyorder_t **keys)
{
    if (*keys != NULL)
        return;
    json_object *f = json_tokener_parse(features);
    err_t e;
    err_clear(&e);
    FUZZ_CHECK(enc_plan_from_json(plan, f, 0, &e) == 0, "plan: %s", err_message(&e));
    json_object_put(f);
    const char *names[] = {plan->f[0].name, plan->f[1].name, plan->f[2].name, "k"};
    *keys = keyorder_new(names, 4);
    FUZZ_CHECK(*keys != NULL, "keyorder");
}

#endif
