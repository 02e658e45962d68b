/*
 * worker.h — the process that trains one job, and nothing else.
 *
 * The job's runner (trainer/child.c) starts it by exec'ing the trainer's
 * binary afresh as `trainyard-job --job-worker`, so that nothing of the
 * trainer's memory (the database URL, its connection) is in it, after it
 * moved these descriptors into place, dropped root and set the limits:
 *
 *   3  input, read: one line of JSON {"spec":{...},"end_wall":t,"limits":"..."}
 *      then the dataset's CSV bytes up to EOF
 *   4  result, written: a decimal length and "\n", that many bytes of JSON
 *      {"result":{...},"models":[{"predict_field","task","preprocess",
 *      "metrics","candidates","booster_len"}...]}, then each model's booster
 *      bytes in order; nothing at all when training failed
 *   5  the protocol pipe to the trainer (trainer/proto.h): progress, log
 *      lines, and the "E" line of a failure
 *
 * XGBoost and libgomp are only ever initialised here.
 */
#ifndef TRAINYARD_TRAINER_WORKER_H
#define TRAINYARD_TRAINER_WORKER_H

#define WORKER_FD_INPUT 3
#define WORKER_FD_RESULT 4
#define WORKER_FD_PROTO 5
#define WORKER_ARG "--job-worker"

/* main() of a worker; returns the exit status (trainer/child.h's CHILD_EXIT_*). */
int trainer_worker_main(void);

#endif
