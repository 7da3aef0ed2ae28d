// A download's clock: how often it asks the ring for holders, how long it waits for a stalled swarm, how often it reports.

/**
 * How often the ring is asked for the file's holders during a download, so newcomers join the
 * swarm: often at first, when a crowd that started together is finding itself (the simulation
 * puts 50 downloaders at 1.22 × F/X with 250 ms, 1.25 × with 500 ms, 1.28 × with 1 s), then less.
 */
export function holderRefreshDelay(elapsedMs: number): number {
  return elapsedMs < FAST_REFRESH_FOR_MS ? FAST_REFRESH_MS : SLOW_REFRESH_MS;
}
export const FAST_REFRESH_MS = 250;
export const FAST_REFRESH_FOR_MS = 10_000;
export const SLOW_REFRESH_MS = 1_000;
/**
 * A download gives up only when no chunk arrived for this long and no holder is working on one:
 * a slow holder is waited for as long as it keeps answering, however slow it is.
 */
export const MAX_STALL_MS = 60_000;
/** Pause before asking a partial holder for its availability again after that request failed. */
export const HAVE_RETRY_MS = 1_000;
/** Least time between two progress events. */
export const PROGRESS_INTERVAL_MS = 200;
/** Source addresses named in a progress event. */
export const MAX_REPORTED_SOURCES = 8;
