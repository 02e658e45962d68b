/*
 * user.h — the terminal client's user commands (login, upload, train,
 * result, predict, download, ls, --version), which talk HTTP to a server,
 * beside the admin commands of cli/main.c, which talk to the database.
 */
#ifndef TRAINYARD_CLI_USER_H
#define TRAINYARD_CLI_USER_H

/* The usage text of the user commands (main prints it with its own). */
extern const char cli_user_usage[];

/* Whether argv[1] names a user command. */
int cli_user_is_command(const char *cmd);

/* Runs a user command; returns the exit code: 0, 1 (it failed: the message
 * says why and what to do), 2 (usage), 130 (interrupted). */
int cli_user_main(int argc, char **argv);

#endif
