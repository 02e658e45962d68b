/*
 * test_fcgi_park.c — what carries a parked request between processes: the
 * ticket and parameters over a SOCK_SEQPACKET pair with the connection
 * attached, and the FastCGI records a resumed request writes by hand.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fcgi/park.h"
#include "fcgi/request.h"
#include "tests/unit/unit.h"

Suite *suite_fcgi_park(void);

START_TEST(park_ticket_travels_with_its_connection)
{
    int chan[2], conn[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, chan), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a?b=c", "HTTP_X=", NULL};
    char env[256];
    size_t env_len = park_env_pack(envp, env, sizeof(env));
    ck_assert_uint_gt(env_len, 0);
    ck_assert_uint_eq(park_env_pack(envp, env, 10), 0); /* does not fit */
    park_ticket_t t = {.request_id = 1, .keep_conn = 1, .deadline = 12.5, .workspace_id = 9};
    strcpy(t.wake_key, "job:abc");
    strcpy(t.note, "abc");
    ck_assert_int_eq(park_send(chan[0], PARK_TAG_PARK, conn[0], &t, env, env_len), 0);
    close(conn[0]); /* the copy in flight keeps the connection */

    static char buf[PARK_MESSAGE_MAX];
    char tag = 0;
    int fd = -1;
    park_ticket_t got;
    const char *genv = NULL;
    size_t genv_len = 0;
    ck_assert_int_eq(park_recv(chan[1], buf, &tag, &fd, &got, &genv, &genv_len), 1);
    ck_assert_int_eq(tag, PARK_TAG_PARK);
    ck_assert_int_ge(fd, 0);
    ck_assert_str_eq(got.wake_key, "job:abc");
    ck_assert_int_eq((int)got.workspace_id, 9);
    arena_t *a = arena_create(0);
    char **back = park_env_unpack(a, genv, genv_len);
    ck_assert_str_eq(back[0], "REQUEST_METHOD=GET");
    ck_assert_str_eq(back[1], "REQUEST_URI=/a?b=c");
    ck_assert_str_eq(back[2], "HTTP_X=");
    ck_assert_ptr_null(back[3]);
    arena_destroy(a);
    /* Empty channel: nothing, and nothing is made up. */
    ck_assert_int_eq(park_recv(chan[1], buf, &tag, &fd, &got, &genv, &genv_len), 0);

    /* The received descriptor is the same connection. */
    ck_assert_int_eq(write(fd, "hi", 2), 2);
    char two[2];
    ck_assert_int_eq(read(conn[1], two, 2), 2);
    ck_assert_int_eq(memcmp(two, "hi", 2), 0);

    /* A resumed request's answer: STDOUT records, an empty one, END_REQUEST. */
    park_out_t *o = calloc(1, sizeof(*o));
    o->fd = fd;
    o->request_id = 1;
    ck_assert_int_eq(park_out_write(o, "Status: 200\r\n\r\n{}", 17), 0);
    ck_assert_int_eq(park_out_end(o), 0);
    unsigned char rec[64];
    ssize_t k = read(conn[1], rec, sizeof(rec));
    ck_assert_int_eq((int)k, 8 + 17 + 8 + 16);
    ck_assert_int_eq(rec[0], 1);  /* version */
    ck_assert_int_eq(rec[1], 6);  /* FCGI_STDOUT */
    ck_assert_int_eq(rec[3], 1);  /* request id */
    ck_assert_int_eq(rec[5], 17); /* length */
    ck_assert_int_eq(rec[8 + 17 + 1], 6);
    ck_assert_int_eq(rec[8 + 17 + 5], 0); /* the empty STDOUT closing the stream */
    ck_assert_int_eq(rec[8 + 17 + 8 + 1], 3); /* FCGI_END_REQUEST */
    ck_assert_int_eq(rec[8 + 17 + 8 + 5], 8);
    free(o);
    close(fd);
    close(conn[1]);
    close(chan[0]);
    close(chan[1]);
}
END_TEST

Suite *suite_fcgi_park(void)
{
    const TTest *const t[] = {park_ticket_travels_with_its_connection};
    return unit_suite("fcgi_park", t, sizeof(t) / sizeof(t[0]));
}
