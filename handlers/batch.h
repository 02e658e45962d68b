/*
 * batch.h — a model over CSV of any size: batch predictions (text/csv in,
 * text/csv out) and evaluation against labelled rows.
 *
 * Both read the CSV as a stream (the request body, or a stored dataset's
 * artifact), with the same reader as uploads (ml/csv.h: the delimiter is
 * sniffed from the header), and hand the model BATCH_ROWS rows at a time,
 * so memory stays bounded by one batch however long the file is
 * (evaluation also keeps one probability row and one label per scored row,
 * capped at BATCH_EVAL_MAX_CELLS).
 *
 * Prediction answer: a CSV with a header row, one line per input row, in
 * input order:
 *   <target>[,Probability <target> is <class>...],warnings,error
 * `warnings` notes unseen category levels of that row; `error` says why a
 * row has no prediction (a value of the wrong type, or under strict an
 * unseen level). Fields the model does not read or that the file lacks are
 * named once, in the `Trainyard-Warnings` response header (a JSON array as
 * in the JSON answer's "warnings"); under strict they are refused with 422
 * before any output. A CSV that turns out malformed after output has begun
 * ends with one line whose `error` says where and why: clients check the
 * last line's error cell.
 */
#ifndef TRAINYARD_HANDLERS_BATCH_H
#define TRAINYARD_HANDLERS_BATCH_H

#include "db/models.h"
#include "fcgi/request.h"
#include "ml/model.h"

#define BATCH_ROWS 1024
/* Probabilities + labels an evaluation may hold: 4M floats, 16 MB. */
#define BATCH_EVAL_MAX_CELLS ((size_t)4 * 1024 * 1024)

/* Streams the request's text/csv body through model, answering text/csv. */
int batch_predict_csv(request_t *r, const model_rec_t *rec, ml_model_t *model, int strict);

/* Scores labelled rows and answers the metrics (JSON): from the request's
 * text/csv body when dataset_id is NULL, else from the workspace's stored
 * dataset. The rows must hold the model's target field. */
int batch_evaluate(request_t *r, const model_rec_t *rec, ml_model_t *model,
                   const char *dataset_id);

#endif
