import type { SessionSnapshot } from './store.js';

/**
 * The seam for a layer that keeps one owner per client id across several brokers (a cluster
 * on one shared store). Given as `BrokerOptions.sessionOwnership`; unset, a CONNECT pays one
 * `undefined` check.
 */
export interface SessionOwnershipHook {
  /**
   * Runs at every accepted CONNECT (after authentication), before the local takeover and session
   * lookup. `undefined`: go on as without the hook. A promise: the CONNECT waits for it (later
   * packets of that connection wait behind it) and its value, the client id's stored session
   * (`undefined`: none stored), is installed as the session, as `open()` restores one, unless
   * this broker already holds a session for the client id (that one is newer: call
   * `Broker.dropSession` first when it is stale). Clean Start then ends it as usual. A
   * rejection refuses the CONNECT with "server unavailable" (3.x 3, 5.0 0x88) and is logged.
   */
  claim(clientId: string, cleanStart: boolean): Promise<SessionSnapshot | undefined> | undefined;
}
