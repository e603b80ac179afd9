/* flatten.h: event JSON → LARK_EVENT_… / LARK_ITEM_… variables (doc/3-hooks.md
 * §3.3); pure */
#ifndef FLATTEN_H
#define FLATTEN_H

#include <stddef.h>

#include "env.h"

/* Called with a variable name that two fields map to (the first kept). */
typedef void flatten_warn(void *ctx, const char *name);

/* Add to e the leaves of the top-level member "event" of the JSON object
 * json[0..len), named under "LARK_EVENT". With each (a dotted path under
 * event), first add the leaves of element index of that array under
 * "LARK_ITEM". Caps are e's: what does not fit is left out. An event
 * without "event" gives no LARK_EVENT_ variables. 0 on success, 1 when the
 * JSON is invalid or the each element is missing, -1 when out of memory. */
int flatten_event(struct env *e, const char *json, size_t len, const char *each, int index,
                  flatten_warn *warn, void *ctx);

#endif
