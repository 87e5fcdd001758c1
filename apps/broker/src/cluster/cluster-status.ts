/**
 * What one node knows of itself and of the cluster at its last heartbeat: its own counters and
 * the cluster's figures from the membership table. For `$SYS/broker/cluster/...` and the
 * `mqtt_adapt_cluster_*` metrics.
 */
export interface ClusterStatus {
  readonly nodeId: string;
  /** Nodes with a fresh heartbeat, this one included. */
  readonly nodesAlive: number;
  /** Nodes lapsed or left whose sessions are not adopted yet. */
  readonly nodesDead: number;
  /** Clients connected to the live nodes, as their rows say (this node's: now). */
  readonly clusterClients: number;
  /** Frames and batch messages this node sent to / received from other nodes. */
  readonly busSent: number;
  readonly busReceived: number;
  /** QoS 1/2 messages other nodes confirmed; batches sent again; batches waiting to be. */
  readonly confirmed: number;
  readonly batchesResent: number;
  readonly batchesPending: number;
  /** Sessions this node adopted from dead nodes; sessions it dropped (taken over elsewhere). */
  readonly sessionsAdopted: number;
  readonly sessionsDropped: number;
}
