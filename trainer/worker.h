/*
 * worker.h — the process that trains one job, and nothing else.
 *
 * The job's runner (trainer/child.c) starts it by exec'ing the trainer's
 * binary afresh as `trainyard-job --job-worker`, so that nothing of the
 * trainer's memory (the database URL, its connection) is in it, after it
 * moved these descriptors into place, dropped root and set the limits:
 *
 *   3  input, read: one line of JSON {"spec":{...},"started_at":t,
 *      "store_margin":s,"bundle":bool,"building":bool,"limits":"...",
 *      "external_memory":{"dir":"...",...} (data larger than memory: the
 *      page-file directory, ml_data_spill)} then the
 *      dataset's CSV bytes up to EOF (none for a bundle job that is building:
 *      the CSV comes from the bundle)
 *   4  result, written: a decimal length and "\n", that many bytes of JSON
 *      {"result":{...},"models":[{"predict_field","task","preprocess",
 *      "metrics","candidates","booster_len"}...]}, then each model's booster
 *      bytes in order; nothing at all when training failed
 *   5  the protocol pipe to the trainer (trainer/proto.h): progress, log
 *      lines, and the "E" line of a failure
 *   7  bundle jobs: the bundle's bytes (an unlinked file), read: the worker,
 *      not the runner, parses the untrusted archive
 *   8  bundle jobs, written, as frames (4-byte big-endian length, bytes):
 *      first {"spec": the job's spec with trainyard.json laid over it,
 *      "dataset_path": "..."}; then, when building, the dataset's CSV as it
 *      is extracted, ended by an empty frame (no empty frame: it failed)
 *
 * XGBoost and libgomp are only ever initialised here.
 */
#ifndef TRAINYARD_TRAINER_WORKER_H
#define TRAINYARD_TRAINER_WORKER_H

#define WORKER_FD_INPUT 3
#define WORKER_FD_RESULT 4
#define WORKER_FD_PROTO 5
#define WORKER_FD_BUNDLE 7
#define WORKER_FD_FOUND 8
#define WORKER_FRAME_MAX (1 << 20)
#define WORKER_ARG "--job-worker"

/* main() of a worker; returns the exit status (trainer/child.h's CHILD_EXIT_*). */
int trainer_worker_main(void);

#endif
