/*
 * config.h — where the terminal client finds its server and key.
 *
 * TRAINYARD_URL and TRAINYARD_KEY (and TRAINYARD_WORKSPACE) from the
 * environment win; what is missing comes from the user's config file,
 * $TRAINYARD_CONFIG, else $XDG_CONFIG_HOME/trainyard/config, else
 * ~/.config/trainyard/config: KEY=VALUE lines (url, key, workspace) written
 * by `trainyard login` with mode 0600 in a 0700 directory, because the key
 * is a secret.
 */
#ifndef TRAINYARD_CLI_CONFIG_H
#define TRAINYARD_CLI_CONFIG_H

#include <stddef.h>

#include "common/err.h"

#define CLI_CONFIG_VALUE_MAX 2048

typedef struct cli_config {
    char url[CLI_CONFIG_VALUE_MAX];       /* server base URL, no trailing slash; "" if unknown */
    char key[CLI_CONFIG_VALUE_MAX];       /* API key; "" if unknown */
    char workspace[CLI_CONFIG_VALUE_MAX]; /* the key's workspace name; "" if unknown */
    char path[CLI_CONFIG_VALUE_MAX];      /* the config file consulted (may not exist) */
} cli_config_t;

/* Fills c from the environment and the config file. A missing file is not
 * an error; an unreadable one is. */
int cli_config_load(cli_config_t *c, err_t *e);

/* Reads KEY=VALUE lines of a config file's text into c (url, key,
 * workspace; other keys and # comments skipped; CRLF accepted). */
void cli_config_parse(cli_config_t *c, const char *text, size_t n);

/* Writes url, key and workspace to c->path (0600, through a temporary file
 * renamed over the old one, so a crash never leaves half a file). */
int cli_config_save(const cli_config_t *c, err_t *e);

/* Strips trailing slashes; refuses anything but http:// or https://. */
int cli_config_url_normalise(char *url, err_t *e);

#endif
