/* cmd.h: the command line (doc/2-config.md §2.6) */
#ifndef CMD_H
#define CMD_H

/* -c FILE, the only option before a command (and the only one a FastCGI
 * responder takes). The file or NULL; *next is the first argument after. */
const char *cmd_option_c(int argc, char **argv, int *next);

/* Run the command in argv[0..argc) with the config at file. Returns the
 * exit status: 0 success, 1 failure, 2 usage error. */
int cmd_main(const char *file, int argc, char **argv);

#endif
