/* What the writer has answered OK but not yet committed to LMDB, summarised so
 * a query can tell whether it must wait for that commit (read-your-writes,
 * relay/writer.c): the ids, authors, kinds, single-letter tag values and
 * created_at range of those events, and the authors whose stored events they
 * delete or replace (kind 5, replaceable and addressable kinds).
 *
 * The test is conservative: pending_may_match says false only when no pending
 * event can match the filters nor change what they match in LMDB; each
 * dimension is tested on its own, so a false "may match" only costs a wait.
 * Thread-safe (the writer adds and clears, workers test). */
#ifndef G1_PENDING_H
#define G1_PENDING_H
#include <stdbool.h>
#include <stdint.h>
#include "event.h"
#include "filter.h"

typedef struct pending_set pending_set;

pending_set *pending_new(void);
void pending_free(pending_set *p);
/* Records an answered, uncommitted event. -1 when out of memory (the set then
 * answers "may match" to everything until cleared). */
int pending_add(pending_set *p, const event *ev);
/* Everything recorded is now visible to readers. */
void pending_clear(pending_set *p);
/* Could the pending events change the results of these (OR'ed) filters? */
bool pending_may_match(pending_set *p, const filter *filters, uint32_t count);
#endif
