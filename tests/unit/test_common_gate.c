/*
 * test_common_gate.c — the pool-wide stream cap: forked workers racing for
 * slots never hold more than the cap, a slot left by a worker that died is
 * taken over, and leaving frees a slot for the next one.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/gate.h"
#include "tests/unit/unit.h"

Suite *suite_gate(void);

START_TEST(gate_racing_workers_never_exceed_the_cap)
{
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(gate_create(3, &e), 0);
    ck_assert_int_eq(gate_capacity(), 3);
    /* Eight workers each try to enter once and hold what they got until
     * told to leave: exactly three succeed. */
    enum { WORKERS = 8 };
    int go[2], done[2];
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(done), 0);
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = fork();
        ck_assert_int_ge(pids[w], 0);
        if (pids[w] == 0) {
            int slot = gate_enter();
            char c = slot >= 0 ? 'y' : 'n';
            if (write(done[1], &c, 1) != 1)
                _exit(2);
            if (read(go[0], &c, 1) != 1) /* hold until the parent says */
                _exit(2);
            gate_leave(slot);
            _exit(0);
        }
    }
    int got = 0;
    for (int w = 0; w < WORKERS; w++) {
        char c;
        ck_assert_int_eq(read(done[0], &c, 1), 1);
        got += c == 'y';
    }
    ck_assert_int_eq(got, 3);
    ck_assert_int_eq(gate_held(), 3);
    ck_assert_int_eq(gate_enter(), -1); /* the parent is refused too */
    char c[WORKERS] = {0};
    ck_assert_int_eq(write(go[1], c, WORKERS), WORKERS);
    for (int w = 0; w < WORKERS; w++) {
        int st;
        ck_assert_int_gt(waitpid(pids[w], &st, 0), 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    ck_assert_int_eq(gate_held(), 0);
    int s = gate_enter();
    ck_assert_int_ge(s, 0);
    gate_leave(s);
    ck_assert_int_eq(gate_held(), 0);
}
END_TEST

START_TEST(gate_slot_of_a_dead_worker_is_taken_over)
{
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(gate_create(1, &e), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Enters and dies without leaving (a crash mid-stream). */
        _exit(gate_enter() == 0 ? 0 : 1);
    }
    int st;
    ck_assert_int_gt(waitpid(pid, &st, 0), 0);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(gate_held(), 0); /* its holder is gone */
    int s = gate_enter();
    ck_assert_int_eq(s, 0);
    ck_assert_int_eq(gate_enter(), -1);
    gate_leave(s);
    /* A zero cap refuses everything; bad sizes are refused. */
    ck_assert_int_eq(gate_create(0, &e), 0);
    ck_assert_int_eq(gate_enter(), -1);
    ck_assert_int_eq(gate_create(GATE_MAX_SLOTS + 1, &e), -1);
    ck_assert_int_eq(e.status, 400);
}
END_TEST

Suite *suite_gate(void)
{
    const TTest *const t[] = {gate_racing_workers_never_exceed_the_cap,
                              gate_slot_of_a_dead_worker_is_taken_over};
    return unit_suite("gate", t, sizeof(t) / sizeof(t[0]));
}
