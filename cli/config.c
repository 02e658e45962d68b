/*
 * config.c — the terminal client's settings file (see config.h).
 *
 * The file is tiny and written only by us, but read leniently: unknown
 * keys and comment lines are skipped, so a later version can add settings
 * without breaking an older client.
 */
#include "cli/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void config_path(cli_config_t *c)
{
    const char *explicit_path = getenv("TRAINYARD_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (explicit_path != NULL && *explicit_path != '\0')
        snprintf(c->path, sizeof(c->path), "%s", explicit_path);
    else if (xdg != NULL && *xdg == '/')
        snprintf(c->path, sizeof(c->path), "%s/trainyard/config", xdg);
    else
        snprintf(c->path, sizeof(c->path), "%s/.config/trainyard/config",
                 home != NULL && *home != '\0' ? home : ".");
}

static void config_env(const char *name, char *out, size_t n)
{
    const char *v = getenv(name);
    if (v != NULL && *v != '\0')
        snprintf(out, n, "%s", v);
}

int cli_config_url_normalise(char *url, err_t *e)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return err_add(e, 2, "usage", "url",
                       "the server URL must start with http:// or https:// (e.g. "
                       "http://127.0.0.1:8080), not \"%s\"",
                       url);
    size_t n = strlen(url);
    while (n > 8 && url[n - 1] == '/')
        url[--n] = '\0';
    return 0;
}

void cli_config_parse(cli_config_t *c, const char *text, size_t n)
{
    const char *end = text + n;
    while (text < end) {
        const char *nl = memchr(text, '\n', (size_t)(end - text));
        const char *stop = nl != NULL ? nl : end;
        const char *eq = memchr(text, '=', (size_t)(stop - text));
        if (eq != NULL && *text != '#') {
            size_t klen = (size_t)(eq - text), vlen = (size_t)(stop - eq - 1);
            if (vlen > 0 && eq[vlen] == '\r')
                vlen--;
            char *dst = klen == 3 && memcmp(text, "url", 3) == 0         ? c->url
                        : klen == 3 && memcmp(text, "key", 3) == 0       ? c->key
                        : klen == 9 && memcmp(text, "workspace", 9) == 0 ? c->workspace
                                                                         : NULL;
            /* A value with a NUL or too long for the field is no setting of ours. */
            if (dst != NULL && vlen < CLI_CONFIG_VALUE_MAX && memchr(eq + 1, '\0', vlen) == NULL) {
                memcpy(dst, eq + 1, vlen);
                dst[vlen] = '\0';
            }
        }
        text = nl != NULL ? nl + 1 : end;
    }
}

int cli_config_load(cli_config_t *c, err_t *e)
{
    memset(c, 0, sizeof(*c));
    config_path(c);
    FILE *f = fopen(c->path, "r");
    if (f == NULL && errno != ENOENT)
        return err_set(e, 1, "config", "could not read %s: %s (fix its permissions or set "
                       "TRAINYARD_CONFIG to another file)", c->path, strerror(errno));
    if (f != NULL) {
        /* Three short lines are expected; more than this is not our file. */
        char buf[4 * CLI_CONFIG_VALUE_MAX];
        size_t n = fread(buf, 1, sizeof(buf), f);
        int bad = ferror(f) || !feof(f);
        fclose(f);
        if (bad)
            return err_set(e, 1, "config", "%s is not a trainyard config (unreadable or over "
                           "%zu bytes): run `trainyard login URL` to write a new one",
                           c->path, sizeof(buf));
        cli_config_parse(c, buf, n);
    }
    config_env("TRAINYARD_URL", c->url, sizeof(c->url));
    /* The saved workspace was chosen for the saved key: another key from
     * the environment starts from its own (unless TRAINYARD_WORKSPACE). */
    char saved_key[sizeof(c->key)];
    memcpy(saved_key, c->key, sizeof(saved_key));
    config_env("TRAINYARD_KEY", c->key, sizeof(c->key));
    if (strcmp(saved_key, c->key) != 0)
        c->workspace[0] = '\0';
    config_env("TRAINYARD_WORKSPACE", c->workspace, sizeof(c->workspace));
    if (c->url[0] != '\0' && cli_config_url_normalise(c->url, e) != 0)
        return -1;
    return 0;
}

/* mkdir -p for the file's directory, new directories 0700. */
static int config_mkdirs(const char *file, err_t *e)
{
    char dir[CLI_CONFIG_VALUE_MAX];
    snprintf(dir, sizeof(dir), "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return err_set(e, 1, "config", "could not create %s: %s", dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_set(e, 1, "config", "could not create %s: %s", dir, strerror(errno));
    return 0;
}

int cli_config_save(const cli_config_t *c, err_t *e)
{
    if (strchr(c->url, '\n') || strchr(c->key, '\n') || strchr(c->workspace, '\n'))
        return err_set(e, 2, "usage", "a URL, key or workspace name cannot hold a newline");
    if (config_mkdirs(c->path, e) != 0)
        return -1;
    char tmp[CLI_CONFIG_VALUE_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.%ld", c->path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(e, 1, "config", "could not write %s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
        return err_set(e, 1, "config", "could not write %s: %s", tmp, strerror(errno));
    }
    fprintf(f, "# written by `trainyard login`; holds an API key: keep it private\n"
               "url=%s\nkey=%s\nworkspace=%s\n",
            c->url, c->key, c->workspace);
    /* fchmod as well: an umask cannot widen 0600, but a pre-existing file
     * with our temporary name could have had looser bits. */
    int bad = fflush(f) != 0 || fchmod(fd, 0600) != 0 || fsync(fd) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, c->path) != 0) {
        int saved = errno;
        unlink(tmp);
        return err_set(e, 1, "config", "could not write %s: %s", c->path, strerror(saved));
    }
    return 0;
}
