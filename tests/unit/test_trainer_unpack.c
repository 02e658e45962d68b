/*
 * test_trainer_unpack.c — the confined unpacker (trainer/unpack.h): a
 * bundle is extracted by a freshly exec'd process (this test binary again,
 * with --bundle-unpacker: tests/unit/main.c hands it over), as the sandbox
 * user when we are root, and hostile archives are refused by it with the
 * walk's own messages, nothing written outside the target directory.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/runner.h"
#include "common/util.h"
#include "tests/unit/unit.h"
#include "trainer/unpack.h"

Suite *suite_trainer_unpack(void);

/* The settings the runner would use; under ASan without the address-space
 * limit (its shadow memory is terabytes of address space), as make
 * test-asan-e2e runs the stack. */
static runner_cfg_t unit_cfg(void)
{
    runner_cfg_t c = runner_cfg_default;
#if defined(__SANITIZE_ADDRESS__)
    c.unpack_memory = 0;
#endif
    return c;
}

/* kind: 'f' file, 'd' directory, 's' symlink to data, 'c' character device */
typedef struct uent {
    const char *path;
    char kind;
    const char *data;
    size_t repeat;      /* 'f': data written this many times (0 = once) */
} uent_t;

/* An archive of ents (zip or pax tar) in a fresh memfd, offset at its end
 * (the unpacker must rewind it itself). */
static int make_bundle(const uent_t *ents, size_t n, int zip)
{
    int fd = memfd_create("unit-bundle", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    struct archive *a = archive_write_new();
    ck_assert_int_eq(zip ? archive_write_set_format_zip(a) : archive_write_set_format_pax(a),
                     ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_fd(a, fd), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const uent_t *u = &ents[i];
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, u->path);
        archive_entry_set_perm(en, 0644);
        size_t len = u->data ? strlen(u->data) : 0, times = u->repeat ? u->repeat : 1;
        switch (u->kind) {
        case 'd': archive_entry_set_filetype(en, AE_IFDIR); break;
        case 's':
            archive_entry_set_filetype(en, AE_IFLNK);
            archive_entry_set_symlink(en, u->data);
            len = 0;
            break;
        case 'c':
            archive_entry_set_filetype(en, AE_IFCHR);
            archive_entry_set_rdev(en, makedev(1, 3));
            len = 0;
            break;
        default:
            archive_entry_set_filetype(en, AE_IFREG);
            archive_entry_set_size(en, (la_int64_t)(len * times));
        }
        ck_assert_int_eq(archive_write_header(a, en), ARCHIVE_OK);
        for (size_t k = 0; u->kind == 'f' && k < times; k++)
            ck_assert_int_eq(archive_write_data(a, u->data, len), (la_ssize_t)len);
        archive_entry_free(en);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return fd;
}

typedef struct target {
    char dir[64];
    int fd;
    unpack_ids_t ids;
} target_t;

/* A fresh directory, owned by the sandbox user when we are root (as the
 * runner makes it). */
static void target_make(target_t *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/ty-unit-unpack.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    chmod(t->dir, 0755);
    memset(&t->ids, 0, sizeof(t->ids));
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("nobody");
        ck_assert_ptr_nonnull(pw);
        t->ids.drop = 1;
        t->ids.uid = pw->pw_uid;
        t->ids.gid = pw->pw_gid;
        ck_assert_int_eq(chown(t->dir, pw->pw_uid, pw->pw_gid), 0);
    }
    t->fd = open(t->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(t->fd, 0);
}

static void target_drop(target_t *t)
{
    close(t->fd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int unpack(const uent_t *ents, size_t n, int zip, target_t *t, err_t *e)
{
    int fd = make_bundle(ents, n, zip);
    err_clear(e);
    runner_cfg_t c = unit_cfg();
    int rc = trainer_unpack(fd, t->fd, &c, &t->ids, e);
    close(fd);
    return rc;
}

static const uent_t good[] = {
    {"proj/Dockerfile", 'f', "FROM python:3\n", 0},
    {"proj/model/__init__.py", 'f', "", 0},
    {"proj/model/requirements.txt", 'f', "pandas\n", 0},
    {"proj/model/train", 'f', "#!/usr/bin/python3\nprint('hi')\n", 0},
};
#define NGOOD (sizeof(good) / sizeof(good[0]))

START_TEST(trainer_unpack_extracts_a_good_bundle)
{
    for (int zip = 0; zip <= 1; zip++) {
        target_t t;
        target_make(&t);
        err_t e;
        ck_assert_msg(unpack(good, NGOOD, zip, &t, &e) == 0, "%s", err_message(&e));
        char buf[64] = "";
        int fd = openat(t.fd, "proj/model/requirements.txt", O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(read(fd, buf, sizeof(buf) - 1), 7);
        close(fd);
        ck_assert_str_eq(buf, "pandas\n");
        struct stat st;
        ck_assert_int_eq(fstatat(t.fd, "proj/model/train", &st, AT_SYMLINK_NOFOLLOW), 0);
        ck_assert(S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0);
        target_drop(&t);
    }
}
END_TEST

/* The files' owner is the unpacker's identity as the kernel recorded it:
 * when we are root, it must be the sandbox user, never root. */
START_TEST(trainer_unpack_runs_unprivileged)
{
    target_t t;
    target_make(&t);
    err_t e;
    ck_assert_msg(unpack(good, NGOOD, 1, &t, &e) == 0, "%s", err_message(&e));
    struct stat st;
    ck_assert_int_eq(fstatat(t.fd, "proj/model/train", &st, AT_SYMLINK_NOFOLLOW), 0);
    ck_assert_int_ne(st.st_uid, 0);
    ck_assert_int_eq(st.st_uid, t.ids.drop ? t.ids.uid : geteuid());
    ck_assert_int_eq(fstatat(t.fd, "proj", &st, AT_SYMLINK_NOFOLLOW), 0);
    ck_assert_int_ne(st.st_uid, 0);
    target_drop(&t);
}
END_TEST

/* What a hijacked unpacker could do, tried from inside one: it may create
 * files in its directory and nothing outside it, read nothing outside it
 * and /usr (where Landlock is in force), not run as root when we are, and
 * a socket kills it. */
START_TEST(trainer_unpack_probe_is_confined)
{
    target_t t;
    target_make(&t);
    char report[1024];
    int st = 0;
    err_t e;
    err_clear(&e);
    runner_cfg_t c = unit_cfg();
    ck_assert_msg(trainer_unpack_probe(t.fd, &c, &t.ids, report, sizeof(report), &st, &e) == 0,
                  "%s", err_message(&e));
    long uid = -1, euid = -1;
    int ll = -1;
    ck_assert_msg(sscanf(report, "uid %ld euid %ld landlock %d", &uid, &euid, &ll) == 3, "%s",
                  report);
    ck_assert_int_ne(euid, 0);
    ck_assert_int_eq(uid, t.ids.drop ? (long)t.ids.uid : (long)geteuid());
    ck_assert_msg(strstr(report, "create-inside allowed") != NULL, "%s", report);
    struct stat st_in;
    ck_assert_int_eq(fstatat(t.fd, "probe-inside", &st_in, AT_SYMLINK_NOFOLLOW), 0);
    ck_assert_int_ne(st_in.st_uid, 0);
    if (ll == 1) { /* Landlock here: nothing outside, not even what nobody may write */
        ck_assert_msg(strstr(report, "create-outside denied") != NULL, "%s", report);
        ck_assert_msg(strstr(report, "read-etc denied") != NULL, "%s", report);
    }
    ck_assert_msg(strstr(report, "\nsocket\n") != NULL && strstr(report, "survived") == NULL,
                  "%s", report);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "wait status %d: %s", st, report);
    target_drop(&t);
}
END_TEST

typedef struct hostile {
    const char *what;
    uent_t ents[3];
    size_t n;
    int zip;
    const char *message;    /* a part of the unpacker's reason */
} hostile_t;

static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";

START_TEST(trainer_unpack_refuses_hostile_bundles)
{
    static const hostile_t cases[] = {
        {"traversal", {{"proj/../../escape", 'f', "x", 0}}, 1, 0, "escapes"},
        {"absolute", {{"/tmp/ty-unit-unpack-abs", 'f', "x", 0}}, 1, 0, "absolute"},
        {"symlink", {{"proj/link", 's', "/etc/passwd", 0}}, 1, 0, "link"},
        {"device", {{"proj/null", 'c', NULL, 0}}, 1, 0, "only regular files"},
        {"bomb", {{"proj/zeros", 'f', zeros, 200000}}, 1, 1, "expands more than"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const hostile_t *c = &cases[i];
        target_t t;
        target_make(&t);
        err_t e;
        ck_assert_msg(unpack(c->ents, c->n, c->zip, &t, &e) == -1, "%s: accepted", c->what);
        ck_assert_msg(e.status == 400 || e.status == 413, "%s: status %d (%s)", c->what,
                      e.status, err_message(&e));
        ck_assert_msg(strstr(err_message(&e), c->message) != NULL, "%s: \"%s\"", c->what,
                      err_message(&e));
        target_drop(&t);
    }
    struct stat st;
    ck_assert_int_ne(lstat("/tmp/ty-unit-unpack-abs", &st), 0);
}
END_TEST

/* Too many entries: the walk's cap, enforced in the unpacker. */
START_TEST(trainer_unpack_refuses_too_many_entries)
{
    static uent_t many[1100];
    static char names[1100][32];
    for (size_t i = 0; i < 1100; i++) {
        snprintf(names[i], sizeof(names[i]), "proj/f%zu", i);
        many[i] = (uent_t){names[i], 'f', "x", 0};
    }
    target_t t;
    target_make(&t);
    err_t e;
    ck_assert_int_eq(unpack(many, 1100, 0, &t, &e), -1);
    ck_assert_msg(strstr(err_message(&e), "entries") != NULL, "%s", err_message(&e));
    target_drop(&t);
}
END_TEST

/* A limit the unpacker cannot live with is a failure named as such, not a
 * hang or a half-unpacked success. */
START_TEST(trainer_unpack_memory_limit_fails_cleanly)
{
    runner_cfg_t c = unit_cfg();
    c.unpack_memory = 4 << 20; /* below what the binary needs to load */
    target_t t;
    target_make(&t);
    int fd = make_bundle(good, NGOOD, 1);
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(trainer_unpack(fd, t.fd, &c, &t.ids, &e), -1);
    ck_assert_int_eq(e.status, 500);
    ck_assert_msg(strstr(err_message(&e), "unpack") != NULL, "%s", err_message(&e));
    close(fd);
    target_drop(&t);
}
END_TEST

Suite *suite_trainer_unpack(void)
{
    const TTest *const t[] = {
        trainer_unpack_extracts_a_good_bundle,
        trainer_unpack_runs_unprivileged,
        trainer_unpack_probe_is_confined,
        trainer_unpack_refuses_hostile_bundles,
        trainer_unpack_refuses_too_many_entries,
        trainer_unpack_memory_limit_fails_cleanly,
    };
    return unit_suite("trainer_unpack", t, sizeof(t) / sizeof(t[0]));
}
