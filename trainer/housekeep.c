/*
 * housekeep.c — see housekeep.h. Failures are logged and retried at the
 * next due time: upkeep never stops a trainer.
 */
#include "trainer/housekeep.h"

#include "common/log.h"
#include "db/counters.h"
#include "db/retention.h"

#define FOLD_INTERVAL 5.0
#define GC_BUDGET 0.5

void trainer_housekeep(db_t *db, const housekeep_config_t *cfg, double now)
{
    static double next_fold, next_gc;
    err_t e;
    err_clear(&e);
    if (now >= next_fold) {
        next_fold = now + FOLD_INTERVAL;
        if (db_job_counts_compact(db, NULL, &e) != 0) {
            log_warn("job counts: %s", err_message(&e));
            err_clear(&e);
        }
    }
    if (cfg == NULL || cfg->gc_interval <= 0)
        return;
    if (next_gc == 0)
        next_gc = now + cfg->gc_interval / 10; /* soon after start, not at once */
    if (now < next_gc)
        return;
    next_gc = now + cfg->gc_interval;
    gc_policy_t policy = {cfg->keep_days, cfg->keep_models, cfg->orphan_grace, GC_BUDGET};
    gc_report_t rep;
    if (db_gc_run(db, &policy, &rep, &e) != 0) {
        log_warn("storage collector: %s", err_message(&e));
        return;
    }
    if (rep.models + rep.jobs + rep.logs + rep.artifacts > 0)
        log_info("storage collector: deleted %lld model(s), %lld job(s), %lld log line(s), "
                 "%lld artifact(s) (%lld bytes)",
                 rep.models, rep.jobs, rep.logs, rep.artifacts, rep.bytes);
}
