/*
 * events.h — live job updates as server-sent events (handlers/events.c):
 * the stream route, the ticket route, and the ticket check the
 * authentication hook uses on routes flagged ROUTE_TICKET.
 */
#ifndef TRAINYARD_EVENTS_H
#define TRAINYARD_EVENTS_H

#include "fcgi/request.h"

/* GET /api/v1/events[?job_id=&after=]: text/event-stream. */
int events_stream(request_t *r);

/* POST /api/v1/events/ticket: {"ticket","workspace","expires_in"}. */
int events_ticket(request_t *r);

/* Authenticates r by a ticket (fills r->auth, in the ticket's workspace).
 * 0, or -1 with e: 401 for a malformed, expired, forged or revoked-key
 * ticket, 403 when the key may no longer act in its workspace. */
int events_ticket_check(request_t *r, const char *ticket, err_t *e);

#endif
