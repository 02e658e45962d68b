/*
 * housekeep.h — the trainers' periodic upkeep of the database.
 *
 * Called from the supervisor loop (trainer.c) on every pass; does its work
 * only when due: folds the job-count deltas (db/counters.h) every few
 * seconds and runs the storage collector (db/retention.h) every
 * gc_interval, each pass bounded in time so that heartbeats are never late.
 * Every trainer runs it; advisory locks make one of them do the work.
 */
#ifndef TRAINYARD_TRAINER_HOUSEKEEP_H
#define TRAINYARD_TRAINER_HOUSEKEEP_H

#include "db/db.h"

typedef struct housekeep_config {
    double gc_interval;        /* seconds between collector passes; 0 = never */
    int keep_days;             /* default retention of finished jobs and logs */
    int keep_models;           /* default models kept per dataset */
    double orphan_grace;       /* seconds before an unreferenced artifact goes */
} housekeep_config_t;

void trainer_housekeep(db_t *db, const housekeep_config_t *cfg, double now);

#endif
