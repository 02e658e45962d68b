/*
 * test_list.h — every unit test suite, listed in one place (libuv style).
 *
 * Each tests/unit/test_<module>.c defines `Suite *suite_<module>(void)`
 * whose test cases are named <module>_<behaviour>. Add a suite by adding
 * one SUITE(...) line in your module family's section.
 */

/* common/ */
SUITE(arena)
SUITE(err)
SUITE(util)
SUITE(feeder)
SUITE(stats)
SUITE(gate)
SUITE(sse)
SUITE(log)
SUITE(cfg)

/* fcgi/ (runtime, decoders, validator, router) */
SUITE(fcgi_router)
SUITE(fcgi_validate)
SUITE(fcgi_body)
SUITE(fcgi_bodyscan)
SUITE(fcgi_dialect)
SUITE(fcgi_request)
SUITE(fcgi_park)

/* bundle/ */
SUITE(bundle)

/* ml/ */
SUITE(ml_csv)
SUITE(ml_csv_fast)
SUITE(ml_encode)
SUITE(ml_keyorder)
SUITE(ml_rowjson)
SUITE(ml_contrib)
SUITE(ml_train)
SUITE(ml_linfit)
SUITE(ml_ensemble)
SUITE(ml_linpart)
SUITE(ml_textbuf)
SUITE(ml_charts)
SUITE(ml_infer)
SUITE(ml_extmem)

/* db/, trainer/ (pure parts; the database itself is exercised end to end) */
SUITE(db_jobs)
SUITE(trainer_proto)
SUITE(trainer_unpack)

/* cli/ (the terminal client's pure parts; its HTTP side is tested end to end) */
SUITE(cli)

/* handlers/ */
SUITE(handlers)
SUITE(handlers_predict_check)
SUITE(openapi)

/* across modules: what real Strapi v3 and FastAPI clients rely on (issue 11) */
SUITE(conformance)
