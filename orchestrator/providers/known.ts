import { KEYS, ownerKeyOf } from '../../protocol/work';
import type { RedisClient } from '../../protocol/redis';

/**
 * Every provider owner (raw address) the network knows: from chain events (KEYS.providers, kept by the leader's
 * intake) and from worker heartbeats (KEYS.workers). An entry that is not an address is passed to `onInvalid` and
 * left out.
 */
export async function knownProviderOwners(redis: RedisClient, onInvalid: (entry: string) => void): Promise<Set<string>> {
    const [providers, workers] = await Promise.all([redis.smembers(KEYS.providers), redis.zrange(KEYS.workers, 0, -1)]);
    const owners = new Set<string>();
    for (const entry of [...providers, ...workers]) {
        try {
            owners.add(ownerKeyOf(entry));
        } catch {
            onInvalid(entry);
        }
    }
    return owners;
}
