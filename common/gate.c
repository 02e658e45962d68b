/*
 * gate.c — the pool-wide cap on long-held requests (see gate.h).
 *
 * One MAP_SHARED anonymous page: the cap and one pid per slot (0 = free).
 * Entering is a compare-and-swap from 0 (or from a dead holder's pid) to
 * our pid, so two workers can never take the same slot; leaving stores 0
 * only if the slot is still ours. A holder is dead when kill(pid, 0) says
 * ESRCH; a recycled pid may keep a dead holder's slot a little longer, which
 * errs on the side of refusing a stream, never of starving the pool.
 */
#include "common/gate.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct gate_shared {
    int capacity;               /* slots in use: 0 .. GATE_MAX_SLOTS */
    int pid[GATE_MAX_SLOTS];    /* holder of each slot, 0 = free */
} gate_shared_t;

static gate_shared_t *gate_region; /* NULL until gate_create */

int gate_create(int n, err_t *e)
{
    if (n < 0 || n > GATE_MAX_SLOTS)
        return err_set(e, 400, "value_error", "gate: %d slots (0 to %d)", n, GATE_MAX_SLOTS);
    void *p = mmap(NULL, sizeof(gate_shared_t), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return err_set(e, 500, "internal_error", "gate: mmap: %s", strerror(errno));
    if (gate_region != NULL)
        munmap(gate_region, sizeof(gate_shared_t));
    gate_region = p; /* zero-filled: every slot free */
    gate_region->capacity = n;
    return 0;
}

static int gate_pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

int gate_enter(void)
{
    if (gate_region == NULL)
        return -1;
    int me = (int)getpid();
    /* Free slots first; only when none is free are dead holders looked
     * for (a kill(2) per slot). */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < gate_region->capacity; i++) {
            int seen = __atomic_load_n(&gate_region->pid[i], __ATOMIC_ACQUIRE);
            if (pass == 0 ? seen != 0 : (seen == 0 || gate_pid_alive(seen)))
                continue;
            if (__atomic_compare_exchange_n(&gate_region->pid[i], &seen, me, 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return i;
        }
    }
    return -1;
}

void gate_leave(int slot)
{
    if (gate_region == NULL || slot < 0 || slot >= gate_region->capacity)
        return;
    int me = (int)getpid();
    __atomic_compare_exchange_n(&gate_region->pid[slot], &me, 0, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
}

int gate_held(void)
{
    if (gate_region == NULL)
        return 0;
    int n = 0;
    for (int i = 0; i < gate_region->capacity; i++)
        if (gate_pid_alive(__atomic_load_n(&gate_region->pid[i], __ATOMIC_ACQUIRE)))
            n++;
    return n;
}

int gate_capacity(void)
{
    return gate_region != NULL ? gate_region->capacity : 0;
}
