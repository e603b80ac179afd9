/* connect.h: `larkhook connect`, Feishu's long connection (doc/10-connect.md):
 * endpoint, dial, upgrade, ping, reassemble, intake, ack, reconnect */
#ifndef CONNECT_H
#define CONNECT_H

#include "config.h"

/* Hold the long connection for c (loaded, app_secret filled, log open)
 * until SIGTERM or SIGINT. Returns the exit status: 0 after a signal, 1 on
 * a fatal answer (bad credentials, too many connections, forbidden), 78
 * when libcurl cannot be loaded. */
int connect_run(struct config *c);

#endif
