/*
 * Model state that follows partitions (docs/cluster.md, "Model state follows partitions").
 *
 * A shard is what one Kafka partition ("topic/partition") brings: records are keyed by host, so
 * the per-source state of the detectors (a host's volume and level baselines) is learned from
 * one shard. The engine tells this module, in ingest order on the aggregator's thread, which
 * source each line of a shard has (note), and when a shard is claimed or released (mark, from
 * the input's LW_INGEST_CLAIM / LW_INGEST_RELEASE groups). On a claim the state saved for the
 * shard, by whichever instance owned it last, is merged into the detectors before the shard's
 * lines are analysed; on a release the state of the shard's sources is saved in the store and
 * forgotten here; every save interval the state of every owned shard is saved, so that the
 * survivor of a crash starts from recent state.
 *
 * Per-template state (the miner's templates, template baselines) is every instance's own and
 * is not moved; the vocabulary is shared instead: the ids of the templates every instance
 * committed are read at claims, so that a partition's templates are not new to its next owner.
 * A store that keeps no shard state (SQLite: one instance per database) turns the module off:
 * nothing is dropped then either.
 *
 * Threads: everything runs on the aggregator's thread except lw__part_state_released(), which
 * the input calls from its own.
 */
#ifndef LW_PART_STATE_H
#define LW_PART_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct lw_store;
struct lw_detect_stage;
struct lw__part_state;

/*
 * @store, @store_mu and @stage (NULL: no detection, only releases are acknowledged) are
 * borrowed. The engine's store writer thread uses @store too: every use here holds @store_mu.
 * @save_every_ns: the periodic save interval. NULL when out of memory.
 */
struct lw__part_state *lw__part_state_create(struct lw_store *store, pthread_mutex_t *store_mu,
                                             struct lw_detect_stage *stage,
                                             int64_t save_every_ns);
/* Frees everything; saves nothing (lw__part_state_save_all() before, if wanted). */
void lw__part_state_destroy(struct lw__part_state *ps);

/* Line of shard @shard ("topic/partition") from @source (its detectors' key; "" is ignored). */
void lw__part_state_note(struct lw__part_state *ps, const char *shard, const char *source);
/* A claim or release group (LW_INGEST_CLAIM / LW_INGEST_RELEASE) of @shard by owner @epoch. */
void lw__part_state_mark(struct lw__part_state *ps, uint32_t flags, const char *shard,
                         uint64_t epoch);
/* The periodic save, when due at monotonic time @now_ns. */
void lw__part_state_tick(struct lw__part_state *ps, int64_t now_ns);
/* Saves every owned shard now (at stop). */
void lw__part_state_save_all(struct lw__part_state *ps);

/*
 * True when @id is a template that some instance committed to the store (read at claims and
 * with the periodic saves): a line that creates it here brings nothing new to the cluster.
 * Always false on a store of one instance (SQLite).
 */
bool lw__part_state_shared_template(const struct lw__part_state *ps, uint32_t id);

/* lw_ingest_released_fn: 1 when the release of (@shard, @epoch) was processed. Any thread. */
int lw__part_state_released(struct lw__part_state *ps, const char *shard, uint64_t epoch);

#endif
